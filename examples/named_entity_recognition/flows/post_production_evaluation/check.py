from promptflow.core import tool


@tool
def check(text: str, entities: list) -> dict:
    """grounded: share of the entities found in the text (case and spacing aside; 1 when there is none);
    empty: 1 when the answer has no entity."""
    haystack = " ".join((text or "").lower().split())
    found = [e for e in entities if " ".join(str(e).lower().split()) in haystack]
    return {
        "grounded": round(len(found) / len(entities), 4) if entities else 1.0,
        "empty": 0 if entities else 1,
    }
