"""promptflow.contracts (llmops shim): only multimedia types."""
