import re
from pathlib import Path

from promptflow.core import Prompty
from promptflow.tracing import trace

BASE = Path(__file__).absolute().parent
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


@trace
def extract_code(completion: str) -> str:
    """The program in the model's answer: the last fenced block, else the whole answer."""
    blocks = _FENCE.findall(completion or "")
    return (blocks[-1] if blocks else completion or "").strip()


def write_program(task: str) -> dict:
    """Ask the model for a solution of `task`; the flow's output is the code alone."""
    prompty = Prompty.load(source=BASE / "programmer.prompty")
    return {"code": extract_code(prompty(task=task))}
