import math
import re
from fractions import Fraction

from promptflow.core import tool

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?")


def parse_number(text):
    """The last number written in `text` (12, -3.5, 1,048,576, 1e-3, 7/2), or None."""
    found = _NUMBER.findall(str(text or ""))
    if not found:
        return None
    number = found[-1].replace(",", "").replace(" ", "")
    try:
        return float(Fraction(number)) if "/" in number else float(number)
    except (ValueError, ZeroDivisionError):
        return None


@tool
def score(groundtruth: str, prediction: str, abs_tol: float = 0.005, rel_tol: float = 0.0001) -> dict:
    expected, answer = parse_number(groundtruth), parse_number(prediction)
    if expected is None:
        raise ValueError(f"the ground truth {groundtruth!r} is not a number")
    if answer is None or not math.isfinite(answer):
        return {"correct": 0, "no_answer": 1, "difference": None}
    close = math.isclose(answer, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    return {"correct": int(close), "no_answer": 0, "difference": abs(answer - expected)}
