"""Flex flows: resolve `module:Name` entries, build class instances, normalise outputs (spec §5.1)."""
import dataclasses
import importlib
import inspect
import json
import os
import sys

from .connections import WorkerUserError
from .signature import describe_function
from .tools import load_module, resolve_special_inputs


class AttrDict(dict):
    """A line result for __aggregate__: a dict that also allows one level of attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _import_entry_module(module_name, working_dir):
    if working_dir not in sys.path:
        sys.path.insert(0, working_dir)
    candidate = os.path.join(working_dir, *module_name.split(".")) + ".py"
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        if os.path.isfile(candidate):
            return load_module(candidate, module_name)
        missing = getattr(exc, "name", None)
        if isinstance(exc, ModuleNotFoundError) and missing and module_name.startswith(missing):
            raise WorkerUserError("EntryNotFound", f"Module '{module_name}' of the entry was not found: "
                                  f"no {os.path.relpath(candidate, working_dir)} in {working_dir}.") from None
        raise


def _coerce_text(value, param):
    """An init value given as text on the command line, converted by the parameter's type."""
    kind = param["type"][0] if param.get("type") else "object"
    if param.get("kind") == "model_config" or kind in ("list", "object"):
        return json.loads(value)
    if kind == "int":
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"expected true or false, found {value!r}")
        return lowered in ("true", "1", "yes")
    return value


def _init_kwargs(target, init_kwargs, params, text_init):
    """Checks required __init__ arguments are given and converts the text ones."""
    given = dict(init_kwargs or {})
    by_name = {p["name"]: p for p in params}
    for name in text_init:
        value = given.get(name)
        if isinstance(value, str) and name in by_name:
            try:
                given[name] = _coerce_text(value, by_name[name])
            except ValueError as exc:
                raise WorkerUserError("FlowEntryInitializationError",
                                      f"Init argument '{name}' of {target.__name__}: cannot read {value!r} as "
                                      f"{by_name[name]['type'][0]} ({exc}).") from None
    signature = inspect.signature(target.__init__)
    accepted = [p.name for i, p in enumerate(signature.parameters.values())
                if i > 0 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        unknown = [k for k in given if k not in accepted]
        if unknown:
            names = ", ".join(f"'{u}'" for u in unknown)
            raise WorkerUserError("FlowEntryInitializationError",
                                  f"{target.__name__}.__init__() takes no {names}; its parameters are: "
                                  f"{', '.join(accepted) or '(none)'}.")
    missing = [p.name for i, p in enumerate(signature.parameters.values())
               if i > 0 and p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        error = WorkerUserError("FlowEntryInitializationError",
                                f"{target.__name__}.__init__() needs {names}, which no init value gives.")
        error.missing_init = missing
        raise error
    return given


class FlexEntry:
    """One initialised flex entry: the line callable, its signature and the optional aggregator."""

    def __init__(self, entry, init_kwargs, store, working_dir, text_init=()):
        if ":" not in entry:
            raise WorkerUserError("InvalidFlexFlowEntry", f"Entry '{entry}' must look like 'module:name'.")
        module_name, attr = entry.split(":", 1)
        module = _import_entry_module(module_name, working_dir)
        target = getattr(module, attr, None)
        if target is None:
            raise WorkerUserError("EntryNotFound", f"'{attr}' is not defined in module '{module_name}'.")
        self.aggregate = None
        if inspect.isclass(target):
            init_desc = describe_function(target.__init__, skip_first=True)
            kinds = {p["name"]: p for p in init_desc["params"]}
            init_kwargs = _init_kwargs(target, init_kwargs, init_desc["params"], text_init)
            resolved = resolve_special_inputs(target.__init__, init_kwargs, kinds, store)
            try:
                instance = target(**resolved)
            except Exception as exc:
                raise _InitFailure(exc) from exc
            self.func = instance.__call__
            self.name = f"{target.__name__}.__call__"
            self.description = describe_function(self.func)
            self.description["initParams"] = init_desc["params"]
            self.description["kind"] = "class"
            aggregate = getattr(instance, "__aggregate__", None)
            if aggregate is not None:
                params = list(inspect.signature(aggregate).parameters)
                if len(params) != 1:
                    raise WorkerUserError("InvalidAggregationFunction",
                                          "__aggregate__ must take exactly one parameter (line_results), "
                                          f"found {len(params)}.")
                self.aggregate = aggregate
        elif callable(target):
            self.func = target
            self.name = getattr(target, "__qualname__", attr)
            self.description = describe_function(target)
            self.description["kind"] = "function"
        else:
            raise WorkerUserError("InvalidFlexFlowEntry", f"Entry '{entry}' is neither a function nor a class.")
        self.description["hasAggregate"] = self.aggregate is not None
        self.description["name"] = self.name
        self._param_names = [p["name"] for p in self.description["params"]]
        self._kinds = {p["name"]: p for p in self.description["params"]}
        self._store = store

    def line_kwargs(self, inputs):
        """Inputs filtered to the entry's parameters (extra keys such as line_number dropped)."""
        if self.description["hasKwargs"]:
            kept = dict(inputs)
        else:
            kept = {k: v for k, v in inputs.items() if k in self._param_names}
        return resolve_special_inputs(self.func, kept, self._kinds, self._store)


class _InitFailure(Exception):
    """Raised when the user's __init__ fails; the worker reports FlowEntryInitializationError."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


InitFailure = _InitFailure


def normalise_output(value):
    """dict → as is; dataclass → dict of fields; anything else → {"output": value}."""
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return {"output": value}


def aggregation_input(line_results):
    """The outputs as attribute dicts, converted in place: a million lines' outputs are not held twice."""
    for i, r in enumerate(line_results):
        if isinstance(r, dict):
            line_results[i] = AttrDict(r)
    return line_results
