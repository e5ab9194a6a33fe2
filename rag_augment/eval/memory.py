"""In-memory systems built from an index's chunks and queries, for recipes the product does not implement:
(d) the LlamaIndex QuestionsAnsweredExtractor recipe (queries written into the chunk's embedded text).

A builder takes (index, work folder) and returns a searcher (query text, query embedding) -> chunk ids.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAX_K = 100
Searcher = Callable[[str, np.ndarray | None], list[str]]
Builder = Callable[[object, Path], Searcher]


def chunks_and_queries(index) -> tuple[list[str], list[str], dict[str, list[tuple[str, str]]]]:
    """(chunk ids, chunk texts, parent -> [(kind, query text)] sorted by kind then text, for determinism)."""
    queries: dict[str, list[tuple[str, str]]] = {}
    for _, docs, metas in index.store.iter_all("queries"):
        for text, meta in zip(docs, metas):
            queries.setdefault(meta["parent_id"], []).append((meta.get("kind", ""), text))
    ids, texts = [], []
    for cids, docs, _ in index.store.iter_all("chunks", include=("documents",)):
        ids += cids
        texts += docs
    return ids, texts, {p: sorted(v) for p, v in queries.items()}


def top_ids(ids: list[str], scores: np.ndarray, k: int = MAX_K) -> list[str]:
    k = min(k, len(ids))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [ids[i] for i in sorted(top, key=lambda i: (-scores[i], ids[i]))]


def qa_text(chunk_text: str, queries: list[str], fmt: str = "prepend") -> str:
    """LlamaIndex's default MetadataMode.EMBED rendering: metadata "{key}: {value}" lines, then a blank line,
    then the content; so the extractor's questions come BEFORE the chunk (and eat MiniLM's 256-token window)."""
    if not queries:
        return chunk_text
    if fmt == "append":
        return chunk_text + "\n\n" + "\n".join(queries)
    return "questions_this_excerpt_can_answer: " + "\n".join(queries) + "\n\n" + chunk_text


def qa_extractor(fmt: str = "prepend", kinds: tuple[str, ...] = ()) -> Builder:
    """(d): one vector per chunk for its text with its generated queries (of `kinds`, default all) written in.
    Vectors are cached in the work folder by a hash of the embedder and the exact texts."""
    def build(index, work: Path) -> Searcher:
        ids, texts, queries = chunks_and_queries(index)
        texts = [qa_text(t, [q for k, q in queries.get(c, []) if not kinds or k in kinds], fmt)
                 for c, t in zip(ids, texts)]
        vecs = _cached_vectors(index.embedder, texts, work, f"qa-{fmt}")
        return lambda text, emb: top_ids(ids, vecs @ emb)
    return build


def _cached_vectors(embedder, texts: list[str], work: Path, prefix: str) -> np.ndarray:
    digest = hashlib.sha1("\x00".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = work / f"{prefix}-{digest}.npy"
    if path.exists():
        return np.load(path)
    parts = [embedder.embed(texts[i:i + 256]) for i in range(0, len(texts), 256)]
    vecs = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
    work.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs
