"""Internals of the llmops Python worker (see ../PROTOCOL.md). Not part of any public API."""
