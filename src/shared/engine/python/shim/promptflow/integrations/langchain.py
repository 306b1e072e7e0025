"""PromptFlowCallbackHandler: Prompt Flow traced LangChain runs through it. llmops collects no traces,
so the handler accepts every callback and records nothing; it is a LangChain callback handler when
LangChain is installed, so `callbacks=[PromptFlowCallbackHandler()]` keeps working."""
try:
    from langchain_core.callbacks import BaseCallbackHandler as _Base
except ImportError:  # pragma: no cover - depends on the flow's environment
    try:
        from langchain.callbacks.base import BaseCallbackHandler as _Base
    except ImportError:
        _Base = object


class PromptFlowCallbackHandler(_Base):
    def __init__(self, *args, **kwargs):
        if _Base is not object:
            super().__init__()

    def __getattr__(self, name):
        # on_llm_start, on_chain_end, ... whatever LangChain calls: accepted, nothing recorded.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


__all__ = ["PromptFlowCallbackHandler"]
