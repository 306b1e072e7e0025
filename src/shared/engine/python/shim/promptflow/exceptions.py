"""Error base classes some flow code catches or raises."""


class PromptflowException(Exception):
    def __init__(self, message="", **kwargs):
        super().__init__(message or kwargs.get("message_format", ""))


class UserErrorException(PromptflowException):
    pass


class SystemErrorException(PromptflowException):
    pass


class ErrorTarget:
    EXECUTOR = "Executor"
    TOOL = "Tool"
    UNKNOWN = "Unknown"
