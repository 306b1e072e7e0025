from typing import List

from promptflow.core import log_metric, tool


@tool
def log_rates(checks: List[dict]) -> dict:
    n = len(checks)
    rates = {
        "grounded_rate": round(sum(c["grounded"] for c in checks) / n, 4) if n else 0.0,
        "empty_rate": round(sum(c["empty"] for c in checks) / n, 4) if n else 0.0,
    }
    for key, value in rates.items():
        log_metric(key, value)
    return rates
