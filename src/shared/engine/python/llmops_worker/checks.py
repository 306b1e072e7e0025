"""Checks of a flow's Python code before anything runs: the files it uses compile, and the
modules they import can be imported. Nothing of the user's code is executed: files are parsed
with `ast`; only `importlib.util.find_spec` runs for modules outside the flow (it imports the
parent packages of a dotted name, as the real import would)."""
import ast
import importlib.util
import os
import sys

_SKIPPED_TOPS = {"__future__", "promptflow"}
_OPTIONAL_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _stdlib_names():
    names = set(getattr(sys, "stdlib_module_names", ()))
    names.update(sys.builtin_module_names)
    return names


def _is_main_guard(node):
    # if __name__ == "__main__":  (the script part of a module, not run when imported)
    test = node.test
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _is_type_checking(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _guards_import_errors(try_node):
    for handler in try_node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for t in types:
            name = t.id if isinstance(t, ast.Name) else getattr(t, "attr", None)
            if name in _OPTIONAL_GUARDS:
                return True
    return False


def _imports(tree):
    """(module, level, names, line) of every import in the code (at module level or in functions)
    whose failure the code does not handle itself; the `__main__` script part is left out."""
    found = []

    def walk(node):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, 0, (), node.lineno))
            return
        if isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, tuple(a.name for a in node.names), node.lineno))
            return
        if isinstance(node, ast.If) and (_is_main_guard(node) or _is_type_checking(node)):
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            # A try that handles import errors makes its imports optional, the fallbacks in its handlers too
            # (`try: import tomllib` / `except ImportError: import tomli`).
            skip = set(map(id, node.body + node.handlers)) if _guards_import_errors(node) else set()
            for child in ast.iter_child_nodes(node):
                if id(child) not in skip:
                    walk(child)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.stmt, ast.ExceptHandler, ast.excepthandler)):
                walk(child)

    walk(tree)
    return found


def _local_file(base, dotted):
    """The file of module `dotted` under folder `base`, or None."""
    path = os.path.join(base, *dotted.split("."))
    for candidate in (path + ".py", os.path.join(path, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    if os.path.isdir(path):
        return path  # a namespace package: local, nothing to parse
    return None


def scan(root, entries):
    """Walks the flow's Python files from its entry files through their local imports.

    Returns {files, syntax: [{file, line, column, message}], imports: [{module, file, line}]} where
    `imports` are the non-local, non-stdlib modules the files import."""
    root = os.path.abspath(root)
    stdlib = _stdlib_names()
    queue = [os.path.abspath(e) for e in entries]
    # Which entry file reached each file first: messages name the node or entry that uses it.
    origin = {path: path for path in queue}
    seen = set()
    syntax, external = [], []
    while queue:
        path = queue.pop(0)
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        try:
            with open(path, "rb") as handle:
                source = handle.read()
            tree = ast.parse(source, filename=path)
            compile(tree, path, "exec")
        except SyntaxError as exc:
            syntax.append({"file": path, "line": exc.lineno or 1, "column": exc.offset or 1,
                           "message": f"{type(exc).__name__}: {exc.msg}", "entry": origin[path]})
            continue
        except (OSError, ValueError) as exc:
            syntax.append({"file": path, "line": 1, "column": 1, "message": f"cannot read: {exc}",
                           "entry": origin[path]})
            continue
        here = os.path.dirname(path)
        for module, level, names, line in _imports(tree):
            if level > 0:
                base = here
                for _ in range(level - 1):
                    base = os.path.dirname(base)
                targets = [module] if module else []
                targets += [f"{module}.{n}" if module else n for n in names]
                for target in targets:
                    local = _local_file(base, target)
                    if local and local.endswith(".py"):
                        origin.setdefault(local, origin[path])
                        queue.append(local)
                continue
            top = module.split(".")[0]
            local = _local_file(here, module) or _local_file(root, module)
            if local is None and (_local_file(here, top) or _local_file(root, top)):
                local = "package"  # a local package whose submodule may be generated or missing: not ours to say
            if local is not None:
                if local.endswith(".py"):
                    origin.setdefault(local, origin[path])
                    queue.append(local)
                for n in names:
                    sub = _local_file(here, f"{module}.{n}") or _local_file(root, f"{module}.{n}")
                    if sub and sub.endswith(".py"):
                        origin.setdefault(sub, origin[path])
                        queue.append(sub)
                continue
            if top in stdlib or top in _SKIPPED_TOPS or top.startswith("_pytest"):
                continue
            external.append({"module": module, "file": path, "line": line, "entry": origin[path]})
    return {"files": sorted(seen), "syntax": syntax, "imports": external}


def missing_modules(imports):
    """The imports whose module cannot be found (one entry per module, first place it is imported)."""
    missing, checked, reported = [], {}, set()
    for item in imports:
        module = item["module"]
        top = module.split(".")[0]
        if top not in checked:
            checked[top] = _importable(top)
        if checked[top] and module != top:
            if module not in checked:
                checked[module] = _importable(module)
            if checked[module] or module in reported:
                continue
            reported.add(module)
            missing.append(item)
        elif not checked[top] and top not in reported:
            # One problem per missing package, however many of its modules are imported.
            reported.add(top)
            missing.append(dict(item, module=top))
    return missing


def _importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
    except Exception:
        # The parent package failed while being imported: importable in principle, its error
        # shows when the flow runs.
        return True


def check_code(root, entries, imports=True):
    """The `check_code` op: syntax problems of every file reached, and missing modules."""
    found = scan(root, entries)
    result = {"files": found["files"], "syntax": found["syntax"], "missing": []}
    if imports:
        result["missing"] = missing_modules(found["imports"])
    return result
