"""Fetch a page's text. Offline by design: pages come from pages.json, a snapshot taken for this example."""
import json
import os

from promptflow.core import tool

_PAGES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages.json")


@tool
def fetch_text_content_from_url(url: str) -> str:
    with open(_PAGES_FILE, encoding="utf-8") as f:
        pages = json.load(f)
    text = pages.get(url)
    if text is None:
        return "No available content"
    # Long pages are cut: the summarizer only needs the beginning.
    return text[:2000]
