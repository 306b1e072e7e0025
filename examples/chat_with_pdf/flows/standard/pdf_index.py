"""The document index of the flow: PDFs parsed with pypdf, cut into chunks of whole sentences, embedded through the
flow's connection, and indexed in an HNSW index (hnswlib) for cosine similarity. In the flow the embeddings go
through the llmops engine (retrieve.py passes promptflow.tools.embedding: the engine's connection, cache and token
accounting); a script outside a flow calls the connection itself (`embed`).

The index is persisted under a folder named by a content hash (the PDFs' bytes, the chunking settings, the
embedding deployment and the vector it gives a fixed probe text, so another model behind the same deployment name
is noticed), so it is built once and reused by every line, every worker process and every later run until a
document or the model changes. Folder: CHAT_WITH_PDF_INDEX_DIR, else chat_with_pdf_index in the system temp folder.
"""
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.request

import hnswlib
import numpy as np
from pypdf import PdfReader

DOCUMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "documents")
CHUNK_WORDS = 40
CHUNKING = f"sentences-max{CHUNK_WORDS}-v1"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_lock = threading.Lock()
_loaded = {}
_probes = {}
PROBE_TEXT = "index probe: which embedding model answers this deployment"


def chunk_page(text):
    """Whole sentences packed into chunks of at most CHUNK_WORDS words (a longer sentence is a chunk alone)."""
    sentences = [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]
    chunks, current = [], []
    for sentence in sentences:
        words = len(sentence.split())
        if current and sum(len(s.split()) for s in current) + words > CHUNK_WORDS:
            chunks.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        chunks.append(" ".join(current))
    return chunks


def read_chunks(folder=DOCUMENTS):
    """Every chunk of every PDF of the folder, in file and page order, with a stable id `<file>#p<page>c<n>`."""
    chunks = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(".pdf"):
            continue
        for page_number, page in enumerate(PdfReader(os.path.join(folder, name)).pages, start=1):
            for n, text in enumerate(chunk_page(page.extract_text() or "")):
                chunks.append({"id": f"{name}#p{page_number}c{n}", "source": name, "page": page_number, "text": text})
    return chunks


def content_hash(folder, deployment, probe_vector):
    h = hashlib.sha256(f"{CHUNKING}\n{deployment}\n".encode())
    h.update(json.dumps([round(x, 5) for x in probe_vector]).encode())
    for name in sorted(os.listdir(folder)):
        if name.lower().endswith(".pdf"):
            with open(os.path.join(folder, name), "rb") as f:
                h.update(name.encode() + b"\0" + hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:32]


def embed(connection, deployment, texts):
    """Embeddings of the texts in one request, straight to the connection's endpoint (for use outside a flow)."""
    api_base = str(connection.api_base).rstrip("/")
    if getattr(connection, "api_type", "azure") == "azure" and "/openai" not in api_base:
        version = getattr(connection, "api_version", None) or "2024-02-01"
        url = f"{api_base}/openai/deployments/{deployment}/embeddings?api-version={version}"
        headers = {"api-key": connection.api_key}
    else:
        url = f"{api_base}/embeddings"
        headers = {"authorization": f"Bearer {connection.api_key}"}
    body = json.dumps({"input": texts, "model": deployment}).encode()
    request = urllib.request.Request(url, data=body, headers={**headers, "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        data = json.load(response)["data"]
    return [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]


def index_root():
    return os.environ.get("CHAT_WITH_PDF_INDEX_DIR") or os.path.join(tempfile.gettempdir(), "chat_with_pdf_index")


def load_or_build(connection, deployment, folder=DOCUMENTS, embed_texts=embed):
    """(hnswlib index, chunks, index id, built now?) for the current documents; `embed_texts(connection,
    deployment, texts)` gives one vector per text."""
    with _lock:
        probe = _probes.get(deployment)
        if probe is None:
            probe = _probes[deployment] = embed_texts(connection, deployment, [PROBE_TEXT])[0]
        key = content_hash(folder, deployment, probe)
        if key in _loaded:
            return (*_loaded[key], key, False)
        target = os.path.join(index_root(), key)
        built = not os.path.exists(os.path.join(target, "chunks.json"))
        if built:
            _build(connection, deployment, folder, target, embed_texts)
        with open(os.path.join(target, "chunks.json"), encoding="utf-8") as f:
            meta = json.load(f)
        index = hnswlib.Index(space="cosine", dim=meta["dim"])
        index.load_index(os.path.join(target, "index.bin"), max_elements=len(meta["chunks"]))
        index.set_ef(max(50, len(meta["chunks"])))
        _loaded[key] = (index, meta["chunks"])
        return index, meta["chunks"], key, built


def _build(connection, deployment, folder, target, embed_texts):
    chunks = read_chunks(folder)
    if not chunks:
        raise ValueError(f"no text found in the PDFs of {folder}")
    vectors = np.asarray(embed_texts(connection, deployment, [c["text"] for c in chunks]), dtype=np.float32)
    index = hnswlib.Index(space="cosine", dim=vectors.shape[1])
    index.init_index(max_elements=len(chunks), ef_construction=200, M=16, random_seed=1)
    index.add_items(vectors, np.arange(len(chunks)))
    # Written beside the target then renamed: another process building the same index at the same time
    # leaves one complete folder, never a half-written one.
    os.makedirs(index_root(), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".building-", dir=index_root())
    index.save_index(os.path.join(work, "index.bin"))
    with open(os.path.join(work, "chunks.json"), "w", encoding="utf-8") as f:
        json.dump({"dim": int(vectors.shape[1]), "deployment": deployment, "chunks": chunks}, f, indent=1)
    try:
        os.rename(work, target)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not os.path.exists(os.path.join(target, "chunks.json")):
            raise
