from typing import List

from promptflow.core import tool

from rag_metrics import cosine, groundedness, precision_recall_at_k


@tool
def score(
    answer: str,
    context: list,
    relevant_chunks: list,
    question_embedding: List[float],
    answer_embedding: List[float],
) -> dict:
    precision, recall = precision_recall_at_k([c["id"] for c in context], relevant_chunks)
    return {
        "precision_at_k": round(precision, 4),
        "recall_at_k": None if recall is None else round(recall, 4),
        "groundedness": round(groundedness(answer, [c["text"] for c in context]), 4),
        "answer_relevance": round(cosine(question_embedding, answer_embedding), 4),
    }
