import re

from promptflow.core import tool

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


@tool
def extract_code(completion: str) -> str:
    """The program from the model's answer: the last fenced block, else the whole answer (a bare program)."""
    blocks = _FENCE.findall(completion or "")
    return (blocks[-1] if blocks else completion or "").strip()
