"""Runtime connection dicts (spec §3.2) → connection objects, and model configurations.

The classes come from `promptflow.connections` — our shim, or the real package when it
is installed — so `isinstance` checks in user code hold either way.
"""
import dataclasses
import importlib

from .signature import MODEL_CONFIG_NAMES, is_connection_class


class WorkerUserError(Exception):
    """A problem with the user's flow or inputs; carries a Prompt Flow style error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class ConnectionStore:
    """The connections map of the flow, with objects built once per name."""

    def __init__(self):
        self._specs = {}
        self._objects = {}
        self._fallback = None

    def replace(self, specs, fallback=None):
        """`fallback` stands in for names that are not defined, as it does for llm nodes."""
        self._specs = dict(specs or {})
        self._fallback = fallback
        self._objects = {}

    def get(self, name):
        if name in self._objects:
            return self._objects[name]
        spec = self._specs.get(name) or self._fallback
        if spec is None:
            raise WorkerUserError("ConnectionNotFound", f"Connection '{name}' not found.")
        built = build_connection(name, spec)
        self._objects[name] = built
        return built


def _connection_class(type_name, module_name):
    for module in (module_name, "promptflow.connections"):
        if not module:
            continue
        try:
            klass = getattr(importlib.import_module(module), type_name, None)
        except ImportError:
            klass = None
        if klass is not None:
            return klass
    return None


def build_connection(name, spec):
    type_name = spec.get("type") or "CustomConnection"
    value = {k: v for k, v in (spec.get("value") or {}).items() if v is not None}
    klass = _connection_class(type_name, spec.get("module"))
    if type_name == "CustomConnection" or klass is None and spec.get("secret_keys") is not None:
        secret_keys = set(spec.get("secret_keys") or [])
        secrets = {k: v for k, v in value.items() if k in secret_keys}
        configs = {k: v for k, v in value.items() if k not in secret_keys}
        klass = klass or _connection_class("CustomConnection", None)
        return klass(secrets=secrets, configs=configs, name=name)
    if klass is None:
        raise WorkerUserError("ConnectionNotFound", f"Connection '{name}' has unknown type '{type_name}'.")
    try:
        return klass(name=name, **value)
    except TypeError:
        # Real promptflow classes reject fields they do not know; keep the ones they accept.
        obj = klass(**{k: v for k, v in value.items() if k in ("api_key", "api_base", "endpoint")})
        for key, val in value.items():
            setattr(obj, key, val)
        obj.name = name
        return obj


def resolve_connection_value(value, annotation, store, param_name):
    """A connection parameter given as a name (literal node input / init value) → object."""
    if isinstance(value, str):
        conn = _as_custom_strong_type(store.get(value), annotation)
        _check_connection_type(conn, annotation, param_name, value)
        return conn
    return value


def _as_custom_strong_type(conn, annotation):
    """A CustomConnection given for a parameter typed as a tool package's own connection class
    (a CustomStrongTypeConnection subclass) becomes that class, as in Prompt Flow."""
    import typing

    convert = getattr(conn, "_convert_to_custom_strong_type", None)
    if convert is None:
        return conn
    for klass in typing.get_args(annotation) or (annotation,):
        if isinstance(klass, type) and any(b.__name__ == "CustomStrongTypeConnection" for b in klass.__mro__[1:]):
            return convert(to_class=klass)
    return conn


def _check_connection_type(conn, annotation, param_name, conn_name):
    import typing

    allowed = typing.get_args(annotation) or (annotation,)
    allowed = [a for a in allowed if isinstance(a, type) and is_connection_class(a)]
    if not allowed:
        return
    actual = type(conn).__name__
    if actual not in [a.__name__ for a in allowed]:
        expected = ", ".join(a.__name__ for a in allowed)
        raise WorkerUserError(
            "NodeInputValidationError",
            f"Input '{param_name}' expects a connection of type {expected}, "
            f"but connection '{conn_name}' is a {actual}.")


def resolve_model_config(value, annotation, store):
    """A dict for an AzureOpenAIModelConfiguration/OpenAIModelConfiguration parameter → dataclass,
    with `connection: <name>` expanded into endpoint/key fields (the name is kept on the
    object as `_connection_name` so callbacks can let the engine use its own connection)."""
    if not isinstance(value, dict):
        return value
    klass = annotation if isinstance(annotation, type) else None
    if klass is None or klass.__name__ not in MODEL_CONFIG_NAMES:
        module = importlib.import_module("promptflow.core")
        klass = getattr(module, getattr(annotation, "__name__", str(annotation)))
    fields = {f.name for f in dataclasses.fields(klass)}
    data = {k: v for k, v in value.items() if k in fields and k != "connection"}
    conn_name = value.get("connection")
    if conn_name:
        conn = store.get(conn_name)
        if klass.__name__ == "AzureOpenAIModelConfiguration":
            expanded = {"azure_endpoint": getattr(conn, "api_base", None),
                        "api_key": getattr(conn, "api_key", None),
                        "api_version": getattr(conn, "api_version", None)}
        else:
            expanded = {"base_url": getattr(conn, "base_url", None),
                        "api_key": getattr(conn, "api_key", None),
                        "organization": getattr(conn, "organization", None)}
        for key, val in expanded.items():
            if key in fields and data.get(key) is None:
                data[key] = val
    config = klass(**data)
    if conn_name:
        object.__setattr__(config, "_connection_name", conn_name)
    return config
