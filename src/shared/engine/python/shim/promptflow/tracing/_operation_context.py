"""OperationContext: per-request context values (user agent, run ids) flow code may read.

One instance per execution context (a ContextVar, so concurrent lines do not share one); keys are
readable as attributes. llmops fills no run ids into it; code can set and read its own values.
"""
import contextvars

_current = contextvars.ContextVar("promptflow_operation_context", default=None)


class OperationContext(dict):
    USER_AGENT_KEY = "user_agent"

    @classmethod
    def get_instance(cls):
        instance = _current.get()
        if instance is None:
            instance = cls()
            _current.set(instance)
        return instance

    @classmethod
    def set_instance(cls, instance):
        _current.set(instance)

    def __getattr__(self, name):
        if name in self:
            return self[name]
        raise AttributeError(f"'OperationContext' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        self.pop(name, None)

    def get_user_agent(self):
        return self.get(self.USER_AGENT_KEY, "").strip()

    def append_user_agent(self, user_agent):
        current = self.get(self.USER_AGENT_KEY, "")
        if user_agent not in current:
            self[self.USER_AGENT_KEY] = f"{current.strip()} {user_agent}".strip()

    def get_context_dict(self):
        return dict(self)
