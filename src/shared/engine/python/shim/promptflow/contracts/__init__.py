"""promptflow.contracts (llmops shim): multimedia and marker types."""
