"""Package tools: tools that Python packages installed in the flow's environment register under the
`package_tools` entry-point group, as Prompt Flow finds them.

Each entry point names a function returning `{tool key: {module, function, class_name?, ...}}`. A node
`source: {type: package, tool: <key>}` runs that module's function, or, with `class_name`, the method
of that ToolProvider class (its `__init__` takes the node inputs of the same names). Keys listed in a
tool's `deprecated_tools` resolve to it too. The listing is read once per worker.
"""
import importlib
import importlib.metadata
import threading

from .connections import WorkerUserError

_lock = threading.Lock()
_listing = None


def _entry_points():
    found = importlib.metadata.entry_points()
    if hasattr(found, "select"):
        return list(found.select(group="package_tools"))
    return list(found.get("package_tools", []))  # Python 3.9


def list_package_tools():
    """{key: spec} of every installed tool package (a package whose listing fails is reported on use)."""
    global _listing
    with _lock:
        if _listing is None:
            tools, problems = {}, []
            for entry_point in _entry_points():
                try:
                    listed = entry_point.load()()
                except Exception as exc:  # one broken package must not hide the others
                    problems.append(f"{entry_point.value}: ({type(exc).__name__}) {exc}")
                    continue
                for key, spec in (listed or {}).items():
                    if isinstance(spec, dict):
                        tools.setdefault(key, spec)
                        for old in spec.get("deprecated_tools") or []:
                            tools.setdefault(old, spec)
            _listing = (tools, problems)
        return _listing


def package_tool_spec(key):
    tools, problems = list_package_tools()
    spec = tools.get(key)
    if spec is None:
        known = ", ".join(sorted(tools)) or "none"
        detail = f" Tool packages that failed to list their tools: {'; '.join(problems)}." if problems else ""
        raise WorkerUserError(
            "PackageToolNotFoundError",
            f"Package tool '{key}' is not found in the current environment. All available package tools are: "
            f"[{known}].{detail} Install the package that provides it in the flow's Python environment.")
    if not spec.get("module") or not spec.get("function"):
        raise WorkerUserError("PackageToolNotFoundError",
                              f"Package tool '{key}' is listed without module and function.")
    return spec


def resolve_package_tool(key):
    """(function, ToolProvider class or None) of a package tool key."""
    spec = package_tool_spec(key)
    module = importlib.import_module(spec["module"])
    class_name = spec.get("class_name")
    owner = getattr(module, class_name, None) if class_name else module
    func = getattr(owner, spec["function"], None) if owner is not None else None
    if func is None:
        where = f"{spec['module']}.{class_name + '.' if class_name else ''}{spec['function']}"
        raise WorkerUserError("PackageToolNotFoundError", f"Package tool '{key}': {where} does not exist.")
    return func, (owner if class_name else None)


def load_package_tool(key):
    """A callable for the tool (a ToolProvider method needs its instance: built with no arguments)."""
    func, klass = resolve_package_tool(key)
    return getattr(klass(), func.__name__) if klass is not None else func
