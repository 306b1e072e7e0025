from promptflow.core import tool

from sandbox import run_sandboxed


@tool
def run_code(code: str, timeout_s: float = 3.0, memory_mb: int = 256) -> dict:
    """Run the program in the sandbox. A program that fails is an answer of its own (empty, with the error),
    not a failed line: the evaluation counts it as wrong and as an error."""
    if not code.strip():
        return {"answer": "", "error": "no program in the model's answer"}
    result = run_sandboxed(code, timeout_s=timeout_s, memory_mb=memory_mb)
    if not result.ok:
        return {"answer": "", "error": result.failure}
    lines = result.stdout.strip().splitlines()
    return {"answer": lines[-1].strip() if lines else "", "error": "" if lines else "the program printed nothing"}
