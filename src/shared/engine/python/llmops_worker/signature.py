"""Function signature → Prompt Flow input definitions (spec §4.2).

Each parameter becomes {name, type: [..], kind, hasDefault, default?, enum?}:
type is a list because a connection input may accept a Union of connection classes;
value types are one of int, double, bool, string, list, object, image.
"""
import enum
import inspect
import typing

from .jsonable import to_jsonable

MODEL_CONFIG_NAMES = ("AzureOpenAIModelConfiguration", "OpenAIModelConfiguration")
_BY_CLASS = {int: "int", float: "double", bool: "bool", str: "string", list: "list"}
_BY_NAME = {"int": "int", "float": "double", "bool": "bool", "str": "string", "list": "list"}


def is_connection_class(annotation):
    if not isinstance(annotation, type):
        return False
    for klass in annotation.__mro__:
        if getattr(klass, "__llmops_connection__", False):
            return True
        module = getattr(klass, "__module__", "") or ""
        if klass.__name__.endswith("Connection") and module.startswith("promptflow"):
            return True
    return False


def _is_image_class(annotation):
    return isinstance(annotation, type) and annotation.__name__ == "Image" and \
        (annotation.__module__ or "").startswith("promptflow")


def _strip_optional(annotation):
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def describe_annotation(annotation, default=inspect.Parameter.empty):
    """(types, kind, enum values or None) for one annotation."""
    if annotation is inspect.Parameter.empty:
        if default is inspect.Parameter.empty or default is None:
            return ["object"], "value", None
        annotation = type(default)
    if isinstance(annotation, str):
        name = annotation.strip()
        if name.startswith("Optional[") and name.endswith("]"):
            name = name[len("Optional["):-1]
        if name in _BY_NAME:
            return [_BY_NAME[name]], "value", None
        if name in MODEL_CONFIG_NAMES:
            return [name], "model_config", None
        if name.endswith("Connection"):
            return [name], "connection", None
        return ["object"], "value", None
    annotation = _strip_optional(annotation)
    if typing.get_origin(annotation) is typing.Union:
        members = typing.get_args(annotation)
        if members and all(is_connection_class(m) for m in members):
            return [m.__name__ for m in members], "connection", None
        return ["object"], "value", None
    if is_connection_class(annotation):
        return [annotation.__name__], "connection", None
    if isinstance(annotation, type):
        if annotation.__name__ in MODEL_CONFIG_NAMES:
            return [annotation.__name__], "model_config", None
        if issubclass(annotation, enum.Enum):
            return ["string"], "value", [str(m.value) for m in annotation]
        if _is_image_class(annotation):
            return ["image"], "value", None
        if annotation.__name__ == "AssistantDefinition":
            return ["assistant_definition"], "value", None
        if annotation.__name__ == "PromptTemplate":
            return ["prompt_template"], "value", None
        if annotation in _BY_CLASS:
            return [_BY_CLASS[annotation]], "value", None
    return ["object"], "value", None


def _resolved_hints(func):
    try:
        return typing.get_type_hints(func)
    except Exception:
        return {}


def describe_function(func, skip_first=False):
    """Parameters (except self/*args/**kwargs) plus hasKwargs/isAsync/isGenerator flags."""
    signature = inspect.signature(func)
    hints = _resolved_hints(func)
    params = []
    has_kwargs = False
    for index, (name, parameter) in enumerate(signature.parameters.items()):
        if skip_first and index == 0:
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            has_kwargs = True
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        annotation = hints.get(name, parameter.annotation)
        types_, kind, enum_values = describe_annotation(annotation, parameter.default)
        entry = {"name": name, "type": types_, "kind": kind,
                 "hasDefault": parameter.default is not inspect.Parameter.empty}
        if entry["hasDefault"]:
            entry["default"] = to_jsonable(parameter.default)
        if enum_values is not None:
            entry["enum"] = enum_values
        params.append(entry)
    target = inspect.unwrap(func)
    return {
        "params": params,
        "hasKwargs": has_kwargs,
        "isAsync": inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target),
        "isGenerator": inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target),
    }


def annotation_of(func, name):
    """The resolved annotation of one parameter (for converting connection / model-config values)."""
    hints = _resolved_hints(func)
    parameter = inspect.signature(func).parameters.get(name)
    if parameter is None:
        return inspect.Parameter.empty
    return hints.get(name, parameter.annotation)
