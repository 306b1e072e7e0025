import re
from collections import defaultdict


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


class ConversationEval:
    def __call__(self, conversation_id: str, answer: str, expected_facts: list) -> dict:
        """turn_success is 1 when the answer states every expected fact (case and spacing aside)."""
        said = _plain(answer)
        found = [fact for fact in expected_facts if _plain(fact) in said]
        recall = len(found) / len(expected_facts) if expected_facts else 1.0
        missing = [fact for fact in expected_facts if fact not in found]
        return {
            "conversation_id": conversation_id,
            "turn_success": int(not missing),
            "fact_recall": round(recall, 4),
            "missing_facts": ", ".join(missing),
        }

    def __aggregate__(self, line_results: list) -> dict:
        n = len(line_results)
        if n == 0:
            return {}
        turns_by_conversation = defaultdict(list)
        for result in line_results:
            turns_by_conversation[result["conversation_id"]].append(result["turn_success"])
        conversations = list(turns_by_conversation.values())
        return {
            "turn_success": round(sum(r["turn_success"] for r in line_results) / n, 4),
            "fact_recall": round(sum(r["fact_recall"] for r in line_results) / n, 4),
            "conversation_success": round(sum(all(turns) for turns in conversations) / len(conversations), 4),
        }
