"""promptflow._sdk.entities (llmops shim): the connection classes (older flows import them from here)."""
from promptflow.entities import *  # noqa: F401,F403
from promptflow.entities import __all__  # noqa: F401
