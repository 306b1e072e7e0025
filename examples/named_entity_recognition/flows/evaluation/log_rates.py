from typing import List

from promptflow.core import log_metric, tool


@tool
def log_rates(matches: List[dict]) -> dict:
    n = len(matches)
    rates = {key: round(sum(m[key] for m in matches) / n, 4) if n else 0.0 for key in ("exact_match", "partial_match", "f1")}
    for key, value in rates.items():
        log_metric(key, value)
    return rates
