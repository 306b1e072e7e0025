"""Running user callables: awaiting coroutines, draining generators, shaping exceptions."""
import asyncio
import inspect
import os
import threading
import traceback

from .jsonable import is_stream, join_stream

_HERE = os.path.dirname(os.path.abspath(__file__))
# The worker's own folder (worker.py, llmops_worker/, shim/): never the place of a user's error.
_OURS = os.path.dirname(_HERE)
_local = threading.local()


def _loop():
    # One event loop per pool thread: asyncio.run() would build and tear one down per call.
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


async def _drain_async(agen, on_chunk):
    parts = []
    async for item in agen:
        text = str(item)
        if on_chunk is not None:
            on_chunk(text)
        parts.append(text)
    return "".join(parts)


def _drain_sync(gen, on_chunk):
    if on_chunk is None:
        return join_stream(gen)
    parts = []
    for item in gen:
        text = str(item)
        on_chunk(text)
        parts.append(text)
    return "".join(parts)


def run_callable(func, kwargs, on_chunk=None):
    """Call func(**kwargs); await it if async; join a (async) generator result into a string,
    sending each piece through on_chunk when the caller streams."""
    result = func(**kwargs)
    if inspect.isawaitable(result):
        result = _loop().run_until_complete(result)
    if inspect.isasyncgen(result):
        return _loop().run_until_complete(_drain_async(result, on_chunk))
    if is_stream(result):
        return _drain_sync(result, on_chunk)
    return result


def user_traceback(exc):
    """The traceback without the worker's own frames (users care about their code)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_HERE)]
    lines = ["Traceback (most recent call last):\n"]
    lines.extend(traceback.format_list(frames))
    lines.extend(traceback.format_exception_only(type(exc), exc))
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        lines.insert(0, user_traceback(cause) + "\nThe above exception was the direct cause of the "
                     "following exception:\n\n")
    return "".join(lines)


def error_shape(exc, code, subject=None):
    """The error object the protocol returns (PROTOCOL.md "Errors")."""
    exc_type = type(exc).__name__
    message = str(exc)
    shape = {
        "code": getattr(exc, "code", None) or code,
        "type": exc_type,
        "module": type(exc).__module__,
        "excMessage": message,
        "message": f"Execution failure in '{subject}': ({exc_type}) {message}" if subject else message,
        "traceback": user_traceback(exc),
    }
    location = error_location(exc)
    if location is not None:
        shape["location"] = location
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        shape["missingModule"] = exc.name
    if getattr(exc, "missing_init", None):
        shape["missingInit"] = list(exc.missing_init)
    return shape


def _is_ours(filename):
    return filename.startswith("<") or os.path.abspath(filename).startswith(_OURS + os.sep)


def error_location(exc):
    """Where in the user's code the exception arose: {file, line[, column]} or None.

    A SyntaxError names its own place; otherwise the innermost traceback frame that is neither
    ours nor Python's import machinery, searched through the cause chain (an __init__ failure
    arrives wrapped)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SyntaxError) and exc.filename and not _is_ours(exc.filename):
            place = {"file": os.path.abspath(exc.filename), "line": exc.lineno or 1}
            if exc.offset:
                place["column"] = exc.offset
            return place
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_ours(f.filename)]
        if frames:
            return {"file": os.path.abspath(frames[-1].filename), "line": frames[-1].lineno or 1}
        exc = exc.__cause__ or exc.__context__
    return None
