"""Data preparation of the named_entity_recognition use case (configs/dataops_config.json, `llmops data-pipeline`).

Reads the annotation export (CSV: id, status, pr_sample, entity_type, text, entities separated by ";"), keeps the
accepted rows, normalises spacing and the entity type's case, and writes the datasets the experiment uses: every
accepted row to data.jsonl, the rows marked pr_sample to data_pr.jsonl (`results`: the entities joined by ", ",
"None" when there is none). The output is the same bytes for the same input, so unchanged data registers nothing.
"""
import csv
import json
import os

from promptflow.core import tool

COLUMNS = ("id", "status", "pr_sample", "entity_type", "text", "entities")


def to_line(row):
    entities = [e.strip() for e in row["entities"].split(";") if e.strip()]
    return {
        "text": " ".join(row["text"].split()),
        "entity_type": row["entity_type"].strip().lower(),
        "results": ", ".join(entities) if entities else "None",
    }


@tool
def prep_data(source_path: str, target_dir: str, asset_paths: list) -> dict:
    with open(source_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{os.path.basename(source_path)} lacks the column(s) {', '.join(missing)}")
        rows = [r for r in reader if r["status"].strip() == "accepted"]
    outputs = {
        "data.jsonl": [to_line(r) for r in rows],
        "data_pr.jsonl": [to_line(r) for r in rows if r["pr_sample"].strip() == "yes"],
    }
    for name in asset_paths:
        with open(os.path.join(target_dir, name), "w", encoding="utf-8", newline="\n") as f:
            for line in outputs[name]:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {name: len(outputs[name]) for name in asset_paths}
