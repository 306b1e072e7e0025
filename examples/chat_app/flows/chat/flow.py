from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty

BASE = Path(__file__).absolute().parent


class ChatFlow:
    def __init__(self, model_config: AzureOpenAIModelConfiguration, max_total_token: int = 2048):
        self.model_config = model_config
        self.max_total_token = max_total_token
        self.facts = (BASE / "facts.md").read_text(encoding="utf-8")

    def __call__(self, question: str, chat_history: list = None) -> dict:
        """Answer `question`; chat_history holds the earlier turns as {"role", "content"} messages."""
        prompty = Prompty.load(source=BASE / "chat.prompty", model={"configuration": self.model_config})
        history = list(chat_history or [])
        # Keep the newest turns that fit the token budget: drop the oldest question and answer together.
        while history and prompty.estimate_token_count(question=question, chat_history=history, facts=self.facts) > (
            self.max_total_token
        ):
            history = history[2:]
        answer = prompty(question=question, chat_history=history, facts=self.facts)
        return {"answer": answer}
