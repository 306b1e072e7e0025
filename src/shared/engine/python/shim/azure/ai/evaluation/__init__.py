"""llmops' stand-in for azure-ai-evaluation (`azure.ai.evaluation`), used when the real package is not
importable: the same engine-backed `evaluate()` as promptflow.evals, with this SDK's parameter names
(query, response, ...) and result keys (<metric>, gpt_<metric>, <metric>_reason).
`azure` and `azure.ai` are namespace packages here (no __init__.py), so installed azure-* packages
are not hidden."""
from typing import TypedDict

from promptflow.evals._builtin import evaluator_classes
from promptflow.evals._sdk import evaluate


class AzureOpenAIModelConfiguration(TypedDict, total=False):
    type: str
    azure_endpoint: str
    azure_deployment: str
    api_key: str
    api_version: str


class OpenAIModelConfiguration(TypedDict, total=False):
    type: str
    base_url: str
    api_key: str
    organization: str
    model: str


class AzureAIProject(TypedDict, total=False):
    subscription_id: str
    resource_group_name: str
    project_name: str


_classes = evaluator_classes("azure")
globals().update(_classes)
__all__ = ["evaluate", "AzureOpenAIModelConfiguration", "OpenAIModelConfiguration", "AzureAIProject", *sorted(_classes)]
