"""promptflow.tools.embedding: embeddings through the engine (its connection, cache, limits and token accounting).

As promptflow-tools' `embedding`, and one step further: `input` may also be a list of texts, answered with one
vector per text from one request (what building a document index needs).
"""
from promptflow.core._engine_payload import encode_connection


def embedding(connection, input, deployment_name="", model="text-embedding-ada-002", **kwargs):
    from llmops_worker import bridge

    payload = {"connection": encode_connection(connection), "input": input}
    if deployment_name:
        payload["deployment_name"] = deployment_name
    if model:
        payload["model"] = model
    return bridge.call_engine("embedding", payload)
