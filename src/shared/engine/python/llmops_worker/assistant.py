"""AssistantDefinition inputs: the engine sends the definition file's content (a dict); the tool receives an
AssistantDefinition whose `_tool_invoker` runs the assistant's tools, with predefined inputs resolved like
node inputs (connection names → connection objects). Built once per distinct definition."""
import json
import os
import threading

_lock = threading.Lock()
_built = {}


def build_assistant_definition(data, store):
    from promptflow.contracts.types import AssistantDefinition
    from promptflow.executor._assistant_tool_invoker import AssistantToolInvoker

    key = json.dumps(data, sort_keys=True, default=str)
    with _lock:
        if key in _built:
            return _built[key]
        definition = AssistantDefinition.deserialize(data)
        try:
            invoker = AssistantToolInvoker.init(definition.tools, working_dir=os.getcwd(),
                                                input_resolver=lambda func, inputs: _resolve(func, inputs, store))
        except TypeError:  # the real promptflow package's invoker resolves inputs itself
            invoker = AssistantToolInvoker.init(definition.tools)
        definition._tool_invoker = invoker
        _built[key] = definition
        return definition


def _resolve(func, inputs, store):
    from .signature import describe_function
    from .tools import resolve_special_inputs

    kinds = {p["name"]: p for p in describe_function(func)["params"]}
    return resolve_special_inputs(func, inputs, kinds, store)
