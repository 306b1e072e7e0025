"""RAG metrics of one answer, as plain functions (the score node calls them; they are checked by hand in tests)."""
import math
import re

_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Words that carry no claim: a sentence is judged on the others.
STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i if in is it its my no not of on or our so the "
    "their them then there they this to up was we were what when where which who will with you your".split()
)
GROUNDED_SHARE = 0.75


def precision_recall_at_k(retrieved_ids, relevant_ids):
    """Share of the k retrieved chunks that are relevant, and share of the relevant chunks retrieved.
    Recall is None when the line has no relevant chunk (nothing to find)."""
    retrieved, relevant = list(dict.fromkeys(retrieved_ids)), set(relevant_ids)
    hits = sum(1 for chunk_id in retrieved if chunk_id in relevant)
    precision = hits / len(retrieved) if retrieved else 0.0
    recall = hits / len(relevant) if relevant else None
    return precision, recall


def content_words(text):
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def groundedness(answer, context_texts):
    """Share of the answer's sentences (those with content words) whose content words are at least GROUNDED_SHARE
    found in the retrieved chunks. An answer with no such sentence ("No.") counts as grounded."""
    known = set(content_words(" ".join(context_texts)))
    judged = grounded = 0
    for sentence in _SENTENCE_END.split(answer.strip()):
        words = content_words(sentence)
        if not words:
            continue
        judged += 1
        if sum(1 for w in words if w in known) / len(words) >= GROUNDED_SHARE:
            grounded += 1
    return grounded / judged if judged else 1.0


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
