"""`promptflow.evals.evaluators` (llmops stand-in): evaluator classes backed by llmops' built-ins."""
from promptflow.evals._builtin import evaluator_classes

globals().update(evaluator_classes("promptflow"))
__all__ = sorted(evaluator_classes("promptflow"))
