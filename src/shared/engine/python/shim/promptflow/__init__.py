"""llmops' stand-in for the `promptflow` package, used only when promptflow is not installed.

It offers the API surface flow code imports (see PROTOCOL.md "The promptflow shim");
LLM calls and template rendering call back into the llmops engine.
"""
from promptflow.core._tool import ToolProvider, log_flow_metric, log_metric, tool

__version__ = "0.0.0+llmops-shim"
__llmops_shim__ = True
__all__ = ["tool", "log_metric", "log_flow_metric", "ToolProvider"]
