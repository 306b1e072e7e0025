"""llmops' stand-in for promptflow-evals (`promptflow.evals`), used only when the real package is not
importable: `evaluate()` and the evaluator classes run through the llmops engine (see _sdk.py)."""
from promptflow.evals.evaluate import evaluate  # the submodule first, so the name ends up the function

__all__ = ["evaluate"]
