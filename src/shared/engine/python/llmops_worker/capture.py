"""Per-call capture of sys.stdout / sys.stderr.

sys.stdout and sys.stderr are replaced once by proxies that write into the buffers of
the call running in the current context (a contextvar, so it follows asyncio tasks and
asyncio.to_thread). Writes outside any call go to the process's real stderr.
"""
import contextvars
import io
import sys

_buffers = contextvars.ContextVar("llmops_capture", default=None)


class _ContextStream(io.TextIOBase):
    def __init__(self, index, fallback):
        self._index = index
        self._fallback = fallback

    def write(self, text):
        buffers = _buffers.get()
        if buffers is None:
            return self._fallback.write(text)
        buffers[self._index].append(text)
        return len(text)

    def flush(self):
        if _buffers.get() is None:
            self._fallback.flush()

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return 2

    @property
    def encoding(self):
        return "utf-8"

    @property
    def buffer(self):
        return self._fallback.buffer


def install():
    real_stderr = sys.__stderr__
    sys.stdout = _ContextStream(0, real_stderr)
    sys.stderr = _ContextStream(1, real_stderr)


def begin():
    """Start capturing for the current context; returns the (stdout, stderr) part lists."""
    buffers = ([], [])
    _buffers.set(buffers)
    return buffers


def collected(buffers):
    return "".join(buffers[0]), "".join(buffers[1])
