"""Encoding objects the shim hands to the engine (model configurations, connections)."""
import dataclasses


def encode_model_config(config):
    """A model configuration as the engine reads it: a named connection when one was given
    (so the engine uses its own connection, cache and limits), else the explicit fields."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return config
    kind = getattr(config, "_type", None)
    conn_name = getattr(config, "_connection_name", None) or getattr(config, "connection", None)
    deployment = {k: getattr(config, k) for k in ("azure_deployment", "model") if getattr(config, k, None)}
    if conn_name:
        return dict(deployment, type=kind, connection=conn_name)
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return dict({k: v for k, v in fields.items() if v is not None}, type=kind)


def encode_overrides(value):
    """Deep-copy load-time overrides, encoding any model configuration inside."""
    if isinstance(value, dict):
        return {k: encode_overrides(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_overrides(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode_model_config(value)
    return value


def encode_connection(connection):
    """A connection object (or name) as {name, type, value} for llm_call."""
    if connection is None or isinstance(connection, str):
        return {"name": connection}
    if isinstance(connection, dict):
        return connection
    to_spec = getattr(connection, "_to_engine", None)
    if callable(to_spec):
        return to_spec()
    value = {k: v for k, v in vars(connection).items() if not k.startswith("_") and k != "name"}
    return {"name": getattr(connection, "name", None), "type": type(connection).__name__, "value": value}


def decode_result(result):
    """An engine answer; {"$stream": [...]} becomes an iterator of chunks (streaming prompty/llm)."""
    if isinstance(result, dict) and set(result) == {"$stream"}:
        return iter(result["$stream"])
    return result
