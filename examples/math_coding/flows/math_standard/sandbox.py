"""Run model-written Python in a child process with limits: wall-clock time, CPU time, memory, output size.

The child runs `python3 -I -B` (isolated: no user site, no PYTHON* variables, no .pyc writes) in a fresh
temporary folder that is its working directory, with an empty environment. Before the code runs, an audit
hook (PEP 578) refuses:
  - opening a file for writing, creating, removing or renaming anything outside that temporary folder;
  - any socket (so no network, loopback included) and name lookups;
  - starting processes (subprocess, os.system, exec*, fork, spawn), loading native code through ctypes and
    raising the limits.
The resource limits (setrlimit) bound memory (address space), CPU seconds and the size of any written file;
the parent kills the whole process group at the wall-clock limit.

This guards against the mistakes and runaway code a model writes (an endless loop, a huge allocation, a stray
file write or download). It is not a security boundary against code written to escape: audit hooks work at
the Python level. For untrusted code, run the flow in a container without network as well.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass

# Written to the temporary folder and run before the user's code (the folder is the only writable place).
_GUARD = r'''
import os, resource, sys
# The limits come first, set by the child on itself (no preexec_fn: the flow's worker has threads).
_memory, _cpu = int(sys.argv[1]) * 1024 * 1024, int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (_memory, _memory))
resource.setrlimit(resource.RLIMIT_CPU, (_cpu, _cpu))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
_ROOT = os.path.realpath(os.getcwd())
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1),
    "os.link": (0, 1), "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,),
    "os.utime": (0,), "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.move": (1,),
}
_BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "ctypes.", "_ctypes.")
_BLOCKED = {"os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "resource.setrlimit"}


def _inside(path):
    if isinstance(path, int):  # a file descriptor already open
        return True
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == _ROOT or real.startswith(_ROOT + os.sep)


def _refuse(what):
    raise PermissionError("sandbox: " + what + " is not allowed")


def _audit(event, args):
    if event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing and path is not None and not _inside(path):
            _refuse("writing " + repr(os.fsdecode(path)) + " (outside the sandbox folder)")
    elif event in _PATH_EVENTS:
        for i in _PATH_EVENTS[event]:
            if i < len(args) and args[i] is not None and not _inside(args[i]):
                _refuse(event + " on " + repr(os.fsdecode(args[i])) + " (outside the sandbox folder)")
    elif event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES):
        _refuse("network access" if event.startswith("socket.") else event)


sys.addaudithook(_audit)
with open("main.py", encoding="utf-8") as _source:
    _code = compile(_source.read(), "main.py", "exec")
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
'''

_MAX_OUTPUT = 64 * 1024


@dataclass
class SandboxResult:
    ok: bool
    stdout: str
    stderr: str
    exit_code: int
    # "" when the code ran to the end; else timeout, memory, refused or error.
    failure: str = ""

    def to_dict(self):
        return asdict(self)


def run_sandboxed(code: str, timeout_s: float = 5.0, memory_mb: int = 256, python: str = "") -> SandboxResult:
    """Run `code` as a script in the sandbox; its stdout is the answer. Never raises for the code's own faults."""
    with tempfile.TemporaryDirectory(prefix="llmops-sandbox-") as folder:
        with open(os.path.join(folder, "main.py"), "w", encoding="utf-8") as f:
            f.write(code)
        with open(os.path.join(folder, "_guard.py"), "w", encoding="utf-8") as f:
            f.write(_GUARD)
        child = subprocess.Popen(
            [python or sys.executable, "-I", "-B", "_guard.py", str(memory_mb), str(int(timeout_s) + 1)],
            cwd=folder,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": folder, "TMPDIR": folder},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills everything it started
        )
        try:
            out, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            return SandboxResult(False, _text(out), _text(err), -9, f"timeout: still running after {timeout_s:g} s")
        stdout, stderr = _text(out), _text(err)
        if child.returncode == 0:
            return SandboxResult(True, stdout, stderr, 0)
        return SandboxResult(False, stdout, stderr, child.returncode, _failure(child.returncode, stderr, memory_mb))


def _text(data: bytes) -> str:
    text = data[:_MAX_OUTPUT].decode("utf-8", errors="replace")
    return text + ("\n[output cut]" if len(data) > _MAX_OUTPUT else "")


def _failure(code: int, stderr: str, memory_mb: int) -> str:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {code}"
    if code == -signal.SIGXCPU:
        return "timeout: CPU time limit reached"
    if "MemoryError" in stderr:
        return f"memory: more than {memory_mb} MB"
    # The last one said (a library may wrap it, as urllib's URLError does); earlier ones are source lines.
    refused = re.findall(r'sandbox: ([^\n"]+?) is not allowed', stderr)
    if refused:
        return f"refused: {refused[-1]}"
    if code < 0:
        return f"killed by signal {-code}"
    return "error: " + last


if __name__ == "__main__":
    # python3 sandbox.py [timeout_s] [memory_mb] < code.py  → the result as JSON (for tests and by hand).
    arguments = sys.argv[1:]
    result = run_sandboxed(
        sys.stdin.read(),
        timeout_s=float(arguments[0]) if arguments else 5.0,
        memory_mb=int(arguments[1]) if len(arguments) > 1 else 256,
    )
    print(json.dumps(result.to_dict()))
