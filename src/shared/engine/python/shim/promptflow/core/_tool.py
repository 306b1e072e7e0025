"""The @tool marker, ToolProvider and log_metric."""
from abc import ABC


def tool(func=None, *, name=None, description=None, type=None, input_settings=None,
         streaming_option_parameter=None, **kwargs):
    """Mark a function as the tool of its file. Returns the function itself (no wrapper, no overhead)."""

    def mark(f):
        # Same attribute names as the real decorator, so one discovery rule fits both.
        setattr(f, "__tool", None)
        setattr(f, "__name", name)
        setattr(f, "__description", description)
        setattr(f, "__type", type)
        setattr(f, "__input_settings", input_settings)
        setattr(f, "__extra_info", kwargs)
        if isinstance(streaming_option_parameter, str):
            setattr(f, "_streaming_option_parameter", streaming_option_parameter)
        return f

    return mark(func) if func is not None else mark


class ToolProvider(ABC):
    """Base class of class-based tools: __init__ takes literal node inputs, a @tool method the rest."""

    def __init__(self):
        pass


def log_metric(key, value, variant_id=None):
    """Record a run metric. Only effective inside aggregation nodes; a no-op elsewhere."""
    from llmops_worker import bridge

    bridge.log_metric(key, value, variant_id)


log_flow_metric = log_metric
