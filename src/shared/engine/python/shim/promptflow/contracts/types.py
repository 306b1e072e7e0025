"""promptflow.contracts.types (llmops shim): the marker types tools annotate parameters with, and
AssistantDefinition (an assistant's model, instructions and tools, as a flow's YAML file gives them)."""
from dataclasses import dataclass, field


class Secret(str):
    """A string that is a secret (CustomStrongTypeConnection fields annotated with it are secrets)."""


class PromptTemplate(str):
    """A prompt template's text (a custom LLM tool's template parameter)."""


class FilePath(str):
    """A path to a file (the value is resolved against the flow's folder)."""


@dataclass
class AssistantDefinition:
    model: str
    instructions: str
    tools: list = field(default_factory=list)

    @staticmethod
    def deserialize(data):
        return AssistantDefinition(model=data.get("model", ""), instructions=data.get("instructions", ""),
                                   tools=list(data.get("tools") or []))

    def serialize(self):
        return {"model": self.model, "instructions": self.instructions, "tools": self.tools}

    def init_tool_invoker(self, working_dir=None):
        from promptflow.executor._assistant_tool_invoker import AssistantToolInvoker

        return AssistantToolInvoker.init(self.tools, working_dir=working_dir)


__all__ = ["Secret", "PromptTemplate", "FilePath", "AssistantDefinition"]
