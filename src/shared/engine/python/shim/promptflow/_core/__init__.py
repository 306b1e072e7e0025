"""promptflow._core (llmops shim): the tool decorator module some flows import directly."""
