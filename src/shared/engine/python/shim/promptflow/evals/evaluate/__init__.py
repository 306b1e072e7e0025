"""`from promptflow.evals.evaluate import evaluate` (llmops stand-in)."""
from promptflow.evals._sdk import evaluate

__all__ = ["evaluate"]
