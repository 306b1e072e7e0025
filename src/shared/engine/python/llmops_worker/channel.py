"""The protocol channel: newline-delimited JSON on private file descriptors.

The worker keeps the protocol away from fd 0/1 so user code can never corrupt it:
at start-up the original stdin/stdout pipes are duplicated to new descriptors, fd 0
is pointed at /dev/null and fd 1 at stderr. Anything user code (or a C extension, or
a child process) writes to fd 1 therefore lands on stderr, never in the protocol.
"""
import contextvars
import itertools
import json
import os
import threading

# The id of the engine request a piece of code is serving; callbacks carry it so the
# engine can attribute an LLM call to the node/line that made it.
current_request_id = contextvars.ContextVar("llmops_request_id", default=None)


class EngineCallError(Exception):
    """A worker->engine callback was answered with an error."""

    def __init__(self, error):
        self.error_type = str(error.get("type") or "EngineError")
        self.error = error
        super().__init__(str(error.get("message") or self.error_type))


class Channel:
    """Writes messages (thread-safe) and routes callback answers to their waiters."""

    def __init__(self, in_fd, out_fd):
        self._in = os.fdopen(in_fd, "rb", buffering=1 << 16)
        self._out_fd = out_fd
        self._write_lock = threading.Lock()
        self._cb_ids = itertools.count(1)
        self._cb_waiters = {}
        self._cb_lock = threading.Lock()
        # Set once the engine can no longer answer (end of input, shutdown): the reason later calls fail with.
        self._cb_closed = None

    def send(self, message):
        # allow_nan (the default) emits NaN/Infinity tokens; the TS side parses them.
        data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._write_lock:
            view = memoryview(data)
            while view:
                written = os.write(self._out_fd, view)
                view = view[written:]

    def read(self):
        """The next message, or None at end of input."""
        while True:
            line = self._in.readline()
            if not line:
                return None
            line = line.strip()
            if line:
                return json.loads(line)

    def call_engine(self, op, payload):
        """Ask the engine something and block this thread until it answers."""
        cb_id = next(self._cb_ids)
        done = threading.Event()
        slot = {"event": done}
        with self._cb_lock:
            if self._cb_closed is not None:
                slot["answer"] = {"ok": False, "error": {"type": "EngineGone", "message": self._cb_closed}}
                done.set()
            else:
                self._cb_waiters[cb_id] = slot
        if done.is_set():
            raise EngineCallError(slot["answer"]["error"])
        self.send({"cb": cb_id, "op": op, "call": current_request_id.get(), "payload": payload})
        done.wait()
        answer = slot["answer"]
        if answer.get("ok"):
            return answer.get("result")
        raise EngineCallError(answer.get("error") or {})

    def answer_callback(self, message):
        with self._cb_lock:
            slot = self._cb_waiters.pop(message.get("cb"), None)
        if slot is not None:
            slot["answer"] = message
            slot["event"].set()

    def fail_all_callbacks(self, reason):
        """Fails every engine call waiting for an answer, and every later one: no answer can come any more."""
        with self._cb_lock:
            self._cb_closed = reason
            slots = list(self._cb_waiters.values())
            self._cb_waiters.clear()
        for slot in slots:
            slot["answer"] = {"ok": False, "error": {"type": "EngineGone", "message": reason}}
            slot["event"].set()


def open_private_channel():
    """Move the protocol off fd 0/1 (see module doc) and return the channel."""
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return Channel(in_fd, out_fd)
