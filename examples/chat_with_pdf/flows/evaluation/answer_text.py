import re

from promptflow.core import tool


@tool
def answer_text(answer: str) -> str:
    """The answer without its [chunk id] citations, as a reader sees the claims."""
    return re.sub(r"\s*\[[^\[\]]+#p\d+c\d+\]", "", answer or "").strip()
