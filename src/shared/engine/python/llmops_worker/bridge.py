"""What the promptflow shim (and the worker) share: the engine channel and the metric sink.

The shim imports this module lazily, so it only works inside an llmops worker; used
elsewhere, callbacks raise a clear error and log_metric is a no-op (as in Prompt Flow
outside aggregation).
"""
import contextvars

_channel = None

# A dict while an aggregation call runs (log_metric writes there); None otherwise.
metric_sink = contextvars.ContextVar("llmops_metric_sink", default=None)


def install(channel):
    global _channel
    _channel = channel


def call_engine(op, payload):
    """Send a worker->engine request (prompty_call, llm_call, render, parse_chat) and wait."""
    if _channel is None:
        raise RuntimeError(
            f"'{op}' calls back into the llmops engine and only works inside an llmops Python worker"
        )
    return _channel.call_engine(op, payload)


def log_metric(key, value, variant_id=None):
    """Record a metric when inside an aggregation call (later writes win); otherwise do nothing."""
    sink = metric_sink.get()
    if sink is not None:
        sink[str(key)] = value
