"""promptflow.integrations (llmops shim)."""
