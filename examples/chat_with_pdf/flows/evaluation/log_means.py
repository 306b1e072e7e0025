from typing import List

from promptflow.core import log_metric, tool

KEYS = ("groundedness", "answer_relevance", "precision_at_k", "recall_at_k")


@tool
def log_means(scores: List[dict]) -> dict:
    """The mean of each metric over the lines that have it (recall skips lines with no relevant chunk)."""
    means = {}
    for key in KEYS:
        values = [s[key] for s in scores if s and s.get(key) is not None]
        means[key] = round(sum(values) / len(values), 4) if values else 0.0
        log_metric(key, means[key])
    return means
