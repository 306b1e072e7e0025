"""Tracing is not collected by llmops' worker: trace/start_trace keep code working and do nothing."""
import concurrent.futures
import contextvars


def trace(func=None, **kwargs):
    if func is None:
        return lambda f: f
    return func


def start_trace(*args, **kwargs):
    return None


class ThreadPoolExecutorWithContext(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting thread's context (as Prompt Flow's does,
    so captured output and context values follow the line into the threads)."""

    def submit(self, fn, *args, **kwargs):
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


__all__ = ["trace", "start_trace", "ThreadPoolExecutorWithContext"]
