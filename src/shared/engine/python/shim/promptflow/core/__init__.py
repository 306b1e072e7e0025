"""promptflow.core as flow code uses it (llmops shim)."""
from promptflow.core._flow import AsyncPrompty, Prompty
from promptflow.core._model_configuration import (AzureOpenAIModelConfiguration, ModelConfiguration,
                                                   OpenAIModelConfiguration)
from promptflow.core._tool import ToolProvider, log_flow_metric, log_metric, tool

__all__ = ["tool", "log_metric", "log_flow_metric", "ToolProvider", "Prompty", "AsyncPrompty",
           "AzureOpenAIModelConfiguration", "OpenAIModelConfiguration", "ModelConfiguration"]
