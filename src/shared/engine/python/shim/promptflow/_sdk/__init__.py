"""promptflow._sdk (llmops shim): only the entity names flow code builds objects from."""
