from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty

BASE = Path(__file__).absolute().parent


class CodeQuality:
    def __init__(self, model_config: AzureOpenAIModelConfiguration):
        self.judge = Prompty.load(source=BASE / "code_quality.prompty", model={"configuration": model_config})

    def __call__(self, task: str, code: str) -> dict:
        verdict = self.judge(task=task, code=code)
        score = int(verdict.get("quality", 0)) if isinstance(verdict, dict) else 0
        if not 1 <= score <= 5:
            raise ValueError(f"the judge answered {verdict!r}, expected a quality from 1 to 5")
        return {"quality": score, "reason": str(verdict.get("reason", ""))}

    def __aggregate__(self, line_results: list) -> dict:
        n = len(line_results)
        return {"quality": round(sum(r["quality"] for r in line_results) / n, 4) if n else 0.0}
