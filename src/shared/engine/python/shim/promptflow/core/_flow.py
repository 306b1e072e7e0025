"""Prompty: load a .prompty file; calling it asks the llmops engine to run it (prompty_call)."""
import asyncio
import os

from promptflow.core._engine_payload import decode_result, encode_overrides


class Prompty:
    """A .prompty file bound to optional load-time overrides (model=..., other front-matter keys)."""

    def __init__(self, path, model=None, **kwargs):
        path = os.fspath(path)
        self.path = os.path.abspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"Prompty file {path} does not exist.")
        self._overrides = dict(kwargs)
        if model is not None:
            self._overrides["model"] = model

    @classmethod
    def load(cls, source, model=None, **kwargs):
        return cls(source, model=model, **kwargs)

    def _ask(self, action, args, kwargs):
        if args:
            raise TypeError("Prompty can only be called with keyword arguments.")
        from llmops_worker import bridge

        payload = {"path": self.path, "overrides": encode_overrides(self._overrides), "inputs": kwargs,
                   "action": action}
        return bridge.call_engine("prompty_call", payload)

    def __call__(self, *args, **kwargs):
        return decode_result(self._ask("call", args, kwargs))

    def render(self, *args, **kwargs):
        """The rendered prompt (for chat: the message list as text), as the engine renders it."""
        return self._ask("render", args, kwargs)

    def estimate_token_count(self, *args, **kwargs):
        return self._ask("estimate_token_count", args, kwargs)


class AsyncPrompty(Prompty):
    """Prompty whose call is awaited; the engine round trip runs off the event loop."""

    async def __call__(self, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: Prompty.__call__(self, *args, **kwargs))


Flow = Prompty
