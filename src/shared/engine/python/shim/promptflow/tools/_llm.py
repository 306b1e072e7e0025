"""The shared body of aoai/openai chat and completion: one llm_call to the engine."""
from promptflow.core._engine_payload import decode_result, encode_connection


def call_llm(provider, api, connection, prompt, params, template_inputs):
    from llmops_worker import bridge

    explicit = {k: v for k, v in params.items() if v is not None}
    payload = {"connection": encode_connection(connection), "api": api,
               "params": dict(explicit, provider=provider, prompt=prompt, inputs=template_inputs)}
    return decode_result(bridge.call_engine("llm_call", payload))
