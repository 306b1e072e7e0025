"""The tools of an assistant definition, callable by name and described as OpenAI function tools.

A `function` tool is a Python tool (`source: {type: code, path: x.py}` relative to the flow's folder,
or `{type: package, tool: <key>}` from an installed tool package) with `predefined_inputs` bound to it;
its OpenAI definition comes from the function's docstring (`:param x:` / `:type x:`) and signature,
without the predefined inputs. `code_interpreter` / `retrieval` pass through as they are.
"""
import functools
import importlib.util
import inspect
import os
import re
from dataclasses import dataclass

_OPENAI_TYPES = {"str": "string", "int": "number", "float": "number", "bool": "boolean", "list": "array",
                 "dict": "object"}


class UnsupportedAssistantToolType(Exception):
    pass


class InvalidAssistantTool(Exception):
    pass


@dataclass
class AssistantTool:
    name: str
    openai_definition: dict
    func: object


class AssistantToolInvoker:
    def __init__(self, working_dir=None, input_resolver=None):
        self._working_dir = os.fspath(working_dir or os.getcwd())
        self._input_resolver = input_resolver
        self._assistant_tools = {}

    @classmethod
    def init(cls, tools, working_dir=None, input_resolver=None):
        """`input_resolver(func, inputs)` turns predefined inputs (e.g. connection names) into values."""
        invoker = cls(working_dir=working_dir, input_resolver=input_resolver)
        invoker._load_tools(tools or [])
        return invoker

    def invoke_tool(self, func_name, kwargs):
        return self._assistant_tools[func_name].func(**kwargs)

    def to_openai_tools(self):
        return [tool.openai_definition for tool in self._assistant_tools.values()]

    def _load_tools(self, tools):
        for tool in tools:
            kind = tool.get("type")
            if kind in ("code_interpreter", "retrieval"):
                self._assistant_tools[kind] = AssistantTool(name=kind, openai_definition=tool, func=None)
            elif kind == "function":
                loaded = self._load_function_tool(tool)
                self._assistant_tools[loaded.name] = loaded
            else:
                raise UnsupportedAssistantToolType(
                    f"Unsupported assistant tool type '{kind}'; expected function, code_interpreter or retrieval.")

    def _load_function_tool(self, tool):
        source = tool.get("source") or {}
        if source.get("type") == "code" and source.get("path"):
            func = _tool_in_file(os.path.join(self._working_dir, source["path"]))
        elif source.get("type") == "package" and source.get("tool"):
            from llmops_worker.package_tools import load_package_tool

            func = load_package_tool(source["tool"])
        else:
            raise InvalidAssistantTool(f"Assistant tool {tool!r} needs source.type code (with path) or package "
                                       "(with tool).")
        predefined = dict(tool.get("predefined_inputs") or {})
        if predefined and self._input_resolver is not None:
            predefined = self._input_resolver(func, predefined)
        definition = _openai_definition(func, list(predefined))
        bound = functools.partial(func, **predefined) if predefined else func
        return AssistantTool(name=func.__name__, openai_definition=definition, func=bound)


def _tool_in_file(path):
    if not os.path.isfile(path):
        raise InvalidAssistantTool(f"Assistant tool file {path} does not exist.")
    name = "__pf_assistant_" + re.sub(r"\W", "_", os.path.relpath(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tools = [obj for obj in vars(module).values()
             if inspect.isfunction(obj) and hasattr(obj, "__tool") and obj.__module__ == name]
    if len(tools) != 1:
        raise InvalidAssistantTool(f"Expected 1 @tool function in {path}, found {len(tools)}.")
    return tools[0]


def _openai_definition(func, predefined):
    description, param_docs, type_docs = _parse_docstring(inspect.getdoc(func) or "")
    properties = {}
    required = []
    for name, parameter in inspect.signature(func).parameters.items():
        if name in predefined or name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        type_name = type_docs.get(name)
        if type_name is None and parameter.annotation is not inspect.Parameter.empty:
            type_name = getattr(parameter.annotation, "__name__", str(parameter.annotation))
        prop = {}
        if name in param_docs:
            prop["description"] = param_docs[name]
        prop["type"] = _OPENAI_TYPES.get(type_name, "object" if type_name else "string")
        properties[name] = prop
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
    return {"type": "function", "function": {"name": func.__name__, "description": description,
                                             "parameters": {"type": "object", "properties": properties,
                                                            "required": required}}}


def _parse_docstring(doc):
    """(description, {param: text}, {param: type}) of a reST docstring."""
    lines = doc.splitlines()
    head = []
    params, types = {}, {}
    for line in lines:
        match = re.match(r"\s*:(param|type)\s+(\w+)\s*:\s*(.*)$", line)
        if match:
            (params if match.group(1) == "param" else types)[match.group(2)] = match.group(3).strip()
        elif not params and not types and not line.strip().startswith(":"):
            head.append(line)
    description = "\n".join(head).strip()
    return (description + "\n" if description else ""), params, types
