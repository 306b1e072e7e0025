"""promptflow.tools (llmops shim): the built-in LLM helpers, answered by the llmops engine."""
