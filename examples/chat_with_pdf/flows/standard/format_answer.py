import re

from promptflow.core import tool

_CITATION = re.compile(r"\[([^\[\]]+#p\d+c\d+)\]")


@tool
def format_answer(answer: str, context: list) -> dict:
    """The answer with the chunk ids it cites; a citation of a chunk that was not retrieved is listed apart."""
    retrieved = {c["id"] for c in context}
    cited = []
    for chunk_id in _CITATION.findall(answer or ""):
        if chunk_id not in cited:
            cited.append(chunk_id)
    return {
        "answer": (answer or "").strip(),
        "citations": [c for c in cited if c in retrieved],
        "unknown_citations": [c for c in cited if c not in retrieved],
    }
