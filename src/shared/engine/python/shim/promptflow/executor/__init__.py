"""promptflow.executor (llmops shim): only the assistant tool invoker flow code uses."""
