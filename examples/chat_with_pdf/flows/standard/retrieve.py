from typing import List, Union

from promptflow.connections import AzureOpenAIConnection, OpenAIConnection
from promptflow.core import tool
from promptflow.tools.embedding import embedding

from pdf_index import load_or_build


def embed_with_engine(connection, deployment, texts):
    """The chunks' embeddings through the engine, as the question's: same connection, cache and token accounting."""
    return embedding(connection, texts, deployment_name=deployment, model=deployment)


@tool
def retrieve(
    question_embedding: List[float],
    connection: Union[AzureOpenAIConnection, OpenAIConnection],
    deployment_name: str,
    top_k: int = 3,
) -> list:
    """The top_k chunks nearest to the question (cosine similarity), best first."""
    index, chunks, _, _ = load_or_build(connection, deployment_name, embed_texts=embed_with_engine)
    k = min(top_k, len(chunks))
    labels, distances = index.knn_query([question_embedding], k=k)
    return [
        {**chunks[int(label)], "score": round(1.0 - float(distance), 4)}
        for label, distance in zip(labels[0], distances[0])
    ]
