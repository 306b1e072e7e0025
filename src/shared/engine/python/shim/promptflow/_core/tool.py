"""promptflow._core.tool (llmops shim): @tool, ToolProvider and the input-setting metadata classes.

The metadata classes only describe how an editor shows a tool's inputs; llmops keeps them on the
function (`__input_settings`) as Prompt Flow does and never needs them to run the tool.
"""
from enum import Enum

from promptflow.core._tool import ToolProvider, tool


class ToolType(str, Enum):
    LLM = "llm"
    PYTHON = "python"
    PROMPT = "prompt"
    CUSTOM_LLM = "custom_llm"
    CSHARP = "csharp"
    _ACTION = "action"


class DynamicList:
    """Where an editor gets the choices of an input: a function (or its dotted path) and the
    inputs it is called with."""

    def __init__(self, function, input_mapping=None):
        self.function = function if isinstance(function, str) else \
            f"{function.__module__}.{function.__name__}"
        self._func_obj = None if isinstance(function, str) else function
        self.input_mapping = dict(input_mapping or {})


class GeneratedBy:
    """An input whose value an editor generates with `function` (and parses back with `reverse_function`)."""

    def __init__(self, function, reverse_function, input_settings=None):
        self.function = function if isinstance(function, str) else \
            f"{function.__module__}.{function.__name__}"
        self.reverse_function = reverse_function if isinstance(reverse_function, str) else \
            f"{reverse_function.__module__}.{reverse_function.__name__}"
        self._func_obj = None if isinstance(function, str) else function
        self._reverse_func_obj = None if isinstance(reverse_function, str) else reverse_function
        self.input_settings = dict(input_settings or {})


class InputSetting:
    """Editor settings of one tool input (enabled_by, dynamic_list, ...); unknown keys are kept."""

    def __init__(self, **kwargs):
        for key in ("enabled_by", "enabled_by_type", "enabled_by_value", "allow_manual_entry", "is_multi_select",
                    "dynamic_list", "generated_by", "input_type", "ui_hints", "filter_by"):
            setattr(self, key, kwargs.pop(key, None))
        self._kwargs = kwargs

    def __repr__(self):
        fields = {k: v for k, v in vars(self).items() if not k.startswith("_") and v is not None}
        return f"InputSetting({fields})"


__all__ = ["tool", "ToolProvider", "ToolType", "InputSetting", "DynamicList", "GeneratedBy"]
