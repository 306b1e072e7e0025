"""promptflow._internal (llmops shim): what tool packages import from it (they avoid promptflow's
top level there to dodge circular imports)."""
from promptflow._core.tool import DynamicList, GeneratedBy, InputSetting, ToolProvider, ToolType, tool
from promptflow.core._tool import log_flow_metric, log_metric
from promptflow.tracing import trace

__all__ = ["tool", "ToolProvider", "ToolType", "InputSetting", "DynamicList", "GeneratedBy", "log_metric",
           "log_flow_metric", "trace"]
