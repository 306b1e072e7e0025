from typing import List

from promptflow.core import log_metric, tool


@tool
def calculate_accuracy(grades: List[str]) -> float:
    accuracy = round(grades.count("Correct") / len(grades), 2) if grades else 0.0
    log_metric("accuracy", accuracy)
    return accuracy
