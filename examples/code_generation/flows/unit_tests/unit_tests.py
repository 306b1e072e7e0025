from sandbox import run_sandboxed


class UnitTests:
    def __init__(self, timeout_s: float = 3.0, memory_mb: int = 256):
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb

    def __call__(self, code: str, tests: str) -> dict:
        """passed is 1 when the code and then its tests (plain asserts) run to the end in the sandbox."""
        program = f"{code}\n\n\n# --- unit tests ---\n{tests}\n"
        result = run_sandboxed(program, timeout_s=self.timeout_s, memory_mb=self.memory_mb)
        failure = "" if result.ok else result.failure
        if failure == "error: AssertionError":
            failure = "a test failed: " + _failed_assert(result.stderr, program)
        return {"passed": int(result.ok), "failure": failure}

    def __aggregate__(self, line_results: list) -> dict:
        n = len(line_results)
        return {"pass_at_1": round(sum(r["passed"] for r in line_results) / n, 4) if n else 0.0}


def _failed_assert(stderr: str, program: str) -> str:
    """The source line of the assert that failed (from the traceback's last main.py frame)."""
    lines = [line for line in stderr.splitlines() if 'File "main.py", line ' in line]
    if not lines:
        return "AssertionError"
    number = int(lines[-1].split('line ', 1)[1].split(',')[0])
    return program.splitlines()[number - 1].strip()
