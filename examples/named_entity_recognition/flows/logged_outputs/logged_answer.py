from promptflow.core import tool


@tool
def logged_answer(entities: list) -> list:
    """The entities the deployed flow answered, as logged."""
    return [str(e) for e in entities or []]
