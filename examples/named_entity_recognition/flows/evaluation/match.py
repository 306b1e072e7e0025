import re
from typing import List, Union

from promptflow.core import tool


def normalize(entity: str) -> str:
    """Case, surrounding spaces and punctuation, and a leading article do not make a different entity."""
    text = re.sub(r"\s+", " ", str(entity).strip().lower()).strip(" .,;:\"'")
    return re.sub(r"^(the|a|an) ", "", text)


def entity_list(value: Union[str, List[str], None]) -> List[str]:
    """The ground truth as written in the data ("a, b" or a list); "None" or empty → no entity."""
    items = value if isinstance(value, list) else re.split(r"[,;\n]", str(value or ""))
    out = []
    for item in items:
        entity = normalize(item)
        if entity and entity not in ("none", "n/a") and entity not in out:
            out.append(entity)
    return out


def overlaps(a: str, b: str) -> bool:
    """One span's words all appear, in order, in the other ("data analyst" within "senior data analyst")."""
    short, long = sorted((a.split(), b.split()), key=len)
    return any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1))


@tool
def match(entities: List[str], ground_truth: Union[str, List[str]]) -> dict:
    predicted, truth = entity_list(entities), entity_list(ground_truth)
    exact = set(predicted) == set(truth)
    if not predicted or not truth:
        partial = exact
    else:
        nothing_unrelated = all(any(overlaps(p, t) for t in truth) for p in predicted)
        something_found = any(overlaps(p, t) for p in predicted for t in truth)
        partial = nothing_unrelated and something_found
    found = len(set(predicted) & set(truth))
    if not predicted and not truth:
        f1 = 1.0
    elif found == 0:
        f1 = 0.0
    else:
        precision, recall = found / len(set(predicted)), found / len(set(truth))
        f1 = 2 * precision * recall / (precision + recall)
    return {"exact_match": int(exact), "partial_match": int(partial), "f1": round(f1, 4)}
