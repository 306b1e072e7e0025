"""promptflow.entities (llmops shim): connection classes and tool input settings, as flow code and
tool packages import them. The SDK's run/flow entities are not offered: llmops runs flows itself."""
from promptflow._core.tool import DynamicList, GeneratedBy, InputSetting
from promptflow.connections import *  # noqa: F401,F403
from promptflow.connections import __all__ as _connections

__all__ = list(_connections) + ["InputSetting", "DynamicList", "GeneratedBy"]
