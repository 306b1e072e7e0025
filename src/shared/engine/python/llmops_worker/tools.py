"""Python nodes: load a tool file, find its one @tool, call it (spec §4)."""
import importlib.util
import inspect
import json
import os
import sys
import threading

from .connections import WorkerUserError, resolve_connection_value, resolve_model_config
from .images import load_images
from .signature import annotation_of, describe_function

MAIN_MODULE = "__pf_main__"


def _is_tool(obj):
    # Real promptflow's decorator sets `__tool`; our shim sets the same attribute.
    return callable(obj) and hasattr(obj, "__tool")


def _is_tool_provider(klass):
    return any(base.__name__ == "ToolProvider" for base in klass.__mro__[1:])


class LoadedTool:
    """One tool file: the function (or ToolProvider class + method) and its description."""

    def __init__(self, path, func, klass=None):
        self.path = path
        self.func = func
        self.klass = klass
        self.description = describe_function(func, skip_first=klass is not None)
        self.description["functionName"] = func.__name__
        if klass is not None:
            self.description["className"] = klass.__name__
            init = describe_function(klass.__init__, skip_first=True)
            self.description["initParams"] = init["params"]
            self.init_names = [p["name"] for p in init["params"]]
        else:
            self.init_names = []
        streaming = getattr(func, "_streaming_option_parameter", None)
        if streaming:
            self.description["streamingOptionParameter"] = streaming
        self.param_kinds = {p["name"]: p for p in self.description["params"]}
        self._instances = {}
        self._lock = threading.Lock()

    def instance_for(self, init_kwargs, store):
        key = json.dumps(init_kwargs, sort_keys=True, default=str)
        with self._lock:
            if key not in self._instances:
                resolved = resolve_special_inputs(self.klass.__init__, init_kwargs, _init_kinds(self), store)
                self._instances[key] = self.klass(**resolved)
            return self._instances[key]


def _init_kinds(tool):
    return {p["name"]: p for p in tool.description.get("initParams", [])}


def load_module(path, module_name=MAIN_MODULE):
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise WorkerUserError("PythonLoadError", f"Cannot load python file {path}.")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        raise
    return module


def discover(path):
    if not os.path.isfile(path):
        raise WorkerUserError("FileNotFound", f"Python file {path} does not exist.")
    module = load_module(path)
    found = []
    for name, obj in list(vars(module).items()):
        if inspect.isclass(obj) and obj.__module__ == MAIN_MODULE and _is_tool_provider(obj):
            for _, member in inspect.getmembers(obj):
                if _is_tool(member):
                    found.append(LoadedTool(path, member, obj))
        elif inspect.isfunction(obj) and _is_tool(obj) and getattr(obj, "__module__", None) == MAIN_MODULE:
            found.append(LoadedTool(path, obj))
    if not found:
        raise WorkerUserError("NoToolDefined", f"No tool found in {os.path.basename(path)}. "
                              "Define exactly one function decorated with @tool.")
    if len(found) > 1:
        names = ", ".join(sorted(t.func.__name__ for t in found))
        raise WorkerUserError("MultipleToolsDefined", f"Expected 1 but collected {len(found)} tools in "
                              f"{os.path.basename(path)}: {names}.")
    return found[0]


def resolve_special_inputs(func, kwargs, kinds, store):
    """Connection names → connection objects, model-config dicts → dataclasses, image dicts → Image."""
    resolved = dict(kwargs)
    for name, value in kwargs.items():
        info = kinds.get(name)
        if info is None or value is None:
            continue
        if info["kind"] == "connection":
            resolved[name] = resolve_connection_value(value, annotation_of(func, name), store, name)
        elif info["kind"] == "model_config":
            resolved[name] = resolve_model_config(value, annotation_of(func, name), store)
        elif info["type"] == ["assistant_definition"] and isinstance(value, dict):
            from .assistant import build_assistant_definition

            resolved[name] = build_assistant_definition(value, store)
        elif isinstance(value, (dict, list)):
            # Images anywhere in the value (an Image parameter, lists, dicts, chat history).
            resolved[name] = load_images(value)
    return resolved


class ToolRegistry:
    """Tool files loaded by this worker, by absolute path (each loaded once)."""

    def __init__(self, store):
        self._store = store
        self._tools = {}
        self._lock = threading.Lock()

    def get(self, path):
        path = os.path.abspath(path)
        with self._lock:
            tool = self._tools.get(path)
            if tool is None:
                tool = discover(path)
                self._tools[path] = tool
            return tool

    def get_package(self, key):
        """A package tool by key (package_tools.py), loaded once."""
        from .package_tools import resolve_package_tool

        with self._lock:
            tool = self._tools.get(("package", key))
            if tool is None:
                func, klass = resolve_package_tool(key)
                tool = LoadedTool(key, func, klass)
                self._tools[("package", key)] = tool
            return tool

    def bound_call(self, path, inputs, package=None):
        """(callable, kwargs) ready to run for one node call (`package`: a package tool key instead of a file)."""
        tool = self.get_package(package) if package else self.get(path)
        if tool.klass is None:
            return tool.func, resolve_special_inputs(tool.func, inputs, tool.param_kinds, self._store)
        init_kwargs = {k: v for k, v in inputs.items() if k in tool.init_names}
        rest = {k: v for k, v in inputs.items() if k not in tool.init_names}
        instance = tool.instance_for(init_kwargs, self._store)
        method = getattr(instance, tool.func.__name__)
        return method, resolve_special_inputs(method, rest, tool.param_kinds, self._store)
