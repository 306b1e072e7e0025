from typing import List, Union

from promptflow.connections import AzureOpenAIConnection, OpenAIConnection
from promptflow.core import tool

from pdf_index import load_or_build


@tool
def retrieve(
    question_embedding: List[float],
    connection: Union[AzureOpenAIConnection, OpenAIConnection],
    deployment_name: str,
    top_k: int = 3,
) -> list:
    """The top_k chunks nearest to the question (cosine similarity), best first."""
    index, chunks, _, _ = load_or_build(connection, deployment_name)
    k = min(top_k, len(chunks))
    labels, distances = index.knn_query([question_embedding], k=k)
    return [
        {**chunks[int(label)], "score": round(1.0 - float(distance), 4)}
        for label, distance in zip(labels[0], distances[0])
    ]
