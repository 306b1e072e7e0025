import json
import re

from promptflow.core import tool

_NONE = {"", "none", "n/a", "no entities", "null", "[]"}


@tool
def parse_entities(answer: str) -> list:
    """The model's answer as a list of entities: a JSON list, or text separated by commas, semicolons or lines.
    Bullets, quotes and a final period are dropped; "None" is the empty list; duplicates are kept once."""
    text = (answer or "").strip()
    if text.startswith("["):
        try:
            items = [str(x) for x in json.loads(text)]
        except ValueError:
            items = re.split(r"[,;\n]", text.strip("[]"))
    else:
        items = re.split(r"[,;\n]", text)
    entities = []
    for item in items:
        entity = item.strip().lstrip("-*• ").strip().strip("\"'").rstrip(".").strip()
        if entity.lower() not in _NONE and entity not in entities:
            entities.append(entity)
    return entities
