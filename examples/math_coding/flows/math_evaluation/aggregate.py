from typing import List

from promptflow.core import log_metric, tool


@tool
def aggregate(scores: List[dict]) -> dict:
    n = len(scores)
    metrics = {
        "accuracy": round(sum(s["correct"] for s in scores) / n, 4) if n else 0.0,
        "error_rate": round(sum(s["no_answer"] for s in scores) / n, 4) if n else 0.0,
    }
    for name, value in metrics.items():
        log_metric(name, value)
    return metrics
