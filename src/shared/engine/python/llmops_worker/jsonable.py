"""Turning what user code returns into JSON the engine can read (documented in PROTOCOL.md).

Rules, in order: JSON scalars as is (NaN/Infinity kept — the channel writes them as
tokens); dict → dict with str keys; list/tuple → list; set/frozenset → list; generator
or iterator → the str() of its items joined; dataclass → dict of fields; Enum → its
value; Image (bytes subclass) → {"data:<mime>;base64": ...}; bytes → base64 string;
datetime/date/time → ISO string; connection objects → their name (never secrets);
objects with model_dump()/to_dict()/tolist()/item() → that; anything else → str(v).
"""
import base64
import collections.abc
import dataclasses
import datetime
import enum


def join_stream(value):
    """Join a (sync) generator/iterator the way Prompt Flow does for non-streaming runs."""
    return "".join(str(item) for item in value)


def is_stream(value):
    return isinstance(value, collections.abc.Iterator) and not isinstance(value, (str, bytes))


def to_jsonable(value, _depth=0):
    if value is None or type(value) in (bool, int, float, str):
        return value
    if _depth > 200:
        return str(value)
    if getattr(value, "__llmops_connection__", False):
        return getattr(value, "name", None)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth + 1)
    # Subclasses of the scalars (numpy.float64, IntEnum handled above, str subclasses).
    for scalar in (bool, int, float, str):
        if isinstance(value, scalar):
            return scalar(value)
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(to_jsonable(k, _depth + 1))): to_jsonable(v, _depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        encoded = base64.b64encode(bytes(value)).decode("ascii")
        mime = getattr(value, "_mime_type", None)
        return {f"data:{mime};base64": encoded} if mime else encoded
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if is_stream(value):
        return join_stream(value)
    for method in ("model_dump", "to_dict", "tolist", "item"):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                return to_jsonable(fn(), _depth + 1)
            except Exception:
                pass
    return str(value)
