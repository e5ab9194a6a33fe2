"""Chroma storage: one collection of chunk vectors, one of synthetic-query vectors pointing at their parents.

Embedded PersistentClient by default, HttpClient to a `chroma run` server when a URL is given. We always pass
our own embeddings, so Chroma's default embedding model is never downloaded; telemetry is off through the client's
Settings (never through the process environment, which belongs to the host app).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag_augment.errors import ConfigError, StoreError
from rag_augment.provenance import PROVENANCE_KEYS as _PROV_KEYS
from rag_augment.types import Chunk, SyntheticQuery

log = logging.getLogger(__name__)

_FALLBACK_BATCH = 5000  # rows per write when the client cannot say its limit


def open_chroma_client(path: str | None = None, url: str | None = None):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ConfigError(f"chroma url: cannot read a host from {url!r}")
        try:
            return chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000,
                                       ssl=parsed.scheme == "https", settings=settings)
        except Exception as exc:  # chromadb raises plain exceptions for connection failures
            raise StoreError(f"chroma server at {url}: {exc}") from exc
    if not path:
        raise ConfigError("chroma: give a path for the embedded database or a server url")
    try:
        return chromadb.PersistentClient(path=path, settings=settings)
    except Exception as exc:
        raise StoreError(f"chroma database at {path}: {exc}") from exc


def _batched(seq: Sequence, n: int) -> Iterable[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _scalar_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata values must be str, int, float or bool."""
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[k] = v if isinstance(v, (str, int, float, bool)) else str(v)
    return out


class ChromaStore:
    def __init__(self, client, collection: str = "rag_augment"):
        if len(collection) < 3:
            raise ConfigError("collection name must have at least 3 characters")
        self.client = client
        self.name = collection
        cfg = {"hnsw": {"space": "cosine"}}
        try:
            self.chunks = client.get_or_create_collection(f"{collection}-chunks", embedding_function=None,
                                                          configuration=cfg)
            self.queries = client.get_or_create_collection(f"{collection}-queries", embedding_function=None,
                                                           configuration=cfg)
        except Exception as exc:
            raise StoreError(f"chroma collection {collection!r}: {exc}") from exc
        try:
            self._batch = int(client.get_max_batch_size())
        except Exception as exc:  # older servers lack the call; 5000 is below every Chroma limit seen
            log.warning("chroma: cannot read the maximum batch size (%s); writing in batches of %d",
                        exc, _FALLBACK_BATCH)
            self._batch = _FALLBACK_BATCH

    # ---- chunks -------------------------------------------------------------------------------------------
    def upsert_chunks(self, chunks: Sequence[Chunk], embeddings: np.ndarray, gen_key: str = "") -> None:
        for i in range(0, len(chunks), self._batch):
            part = chunks[i:i + self._batch]
            self.chunks.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=embeddings[i:i + len(part)],
                documents=[c.text for c in part],
                metadatas=[_scalar_meta({**c.metadata, "doc_id": c.doc_id, "content_hash": c.content_hash,
                                         "position": c.position, "title": c.title,
                                         "seeds": "\n".join(c.seeds), "gen_key": gen_key}) for c in part],
            )

    def chunk_states(self) -> dict[str, dict[str, Any]]:
        """Metadata of every stored chunk, by id (for incremental indexing)."""
        out: dict[str, dict[str, Any]] = {}
        total = self.chunks.count()
        for offset in range(0, total, self._batch):
            res = self.chunks.get(include=["metadatas"], limit=self._batch, offset=offset)
            out.update(zip(res["ids"], res["metadatas"]))
        return out

    def set_gen_key(self, chunk_ids: Sequence[str], gen_key: str) -> None:
        self.update_chunk_metadata(chunk_ids, {"gen_key": gen_key})

    def update_chunk_metadata(self, chunk_ids: Sequence[str], meta: dict[str, Any]) -> None:
        """Merge `meta` into the stored metadata of these chunks (Chroma merges on update)."""
        for part in _batched(list(chunk_ids), self._batch):
            self.chunks.update(ids=list(part), metadatas=[dict(meta)] * len(part))

    def set_review_status(self, query_ids: Sequence[str], status: str) -> None:
        for part in _batched(list(query_ids), self._batch):
            self.queries.update(ids=list(part), metadatas=[{"review_status": status}] * len(part))

    def get_chunks(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for part in _batched(list(dict.fromkeys(ids)), self._batch):
            res = self.chunks.get(ids=list(part), include=["documents", "metadatas"])
            for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"]):
                out[cid] = {"text": doc, "metadata": meta}
        return out

    def chunk_ids_of_docs(self, doc_ids: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for part in _batched(list(doc_ids), 500):
            ids += self.chunks.get(where={"doc_id": {"$in": list(part)}}, include=[])["ids"]
        return ids

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Delete chunks and every query vector that points at them (no orphans)."""
        if not chunk_ids:
            return
        for part in _batched(list(chunk_ids), 500):
            self.queries.delete(where={"parent_id": {"$in": list(part)}})
            self.chunks.delete(ids=list(part))

    # ---- synthetic (and real) queries ------------------------------------------------------------------
    def upsert_queries(self, queries: Sequence[SyntheticQuery], embeddings: np.ndarray) -> None:
        for i in range(0, len(queries), self._batch):
            part = queries[i:i + self._batch]
            self.queries.upsert(
                ids=[q.query_id for q in part],
                embeddings=embeddings[i:i + len(part)],
                documents=[q.text for q in part],
                metadatas=[_scalar_meta({**{k: q.provenance.get(k) for k in _PROV_KEYS},
                                         "parent_id": q.parent_id, "doc_id": q.doc_id, "kind": q.kind})
                           for q in part],
            )

    def queries_of(self, parent_ids: Sequence[str], kinds: Sequence[str] | None = None) -> list[SyntheticQuery]:
        out: list[SyntheticQuery] = []
        for part in _batched(list(parent_ids), 500):
            where: dict[str, Any] = {"parent_id": {"$in": list(part)}}
            if kinds:
                where = {"$and": [where, {"kind": {"$in": list(kinds)}}]}
            res = self.queries.get(where=where, include=["documents", "metadatas"])
            out += [_to_query(i, d, m) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"])]
        return out

    def get_queries(self, ids: Sequence[str]) -> list[SyntheticQuery]:
        out: list[SyntheticQuery] = []
        for part in _batched(list(dict.fromkeys(ids)), self._batch):  # Chroma refuses a repeated id
            res = self.queries.get(ids=list(part), include=["documents", "metadatas"])
            out += [_to_query(i, d, m) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"])]
        return out

    def embeddings(self, which: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id ("chunks" or "queries"): the exact vectors retrieval compares against."""
        coll = self.chunks if which == "chunks" else self.queries
        out: dict[str, np.ndarray] = {}
        for part in _batched(list(dict.fromkeys(ids)), self._batch):
            res = coll.get(ids=list(part), include=["embeddings"])
            out.update({i: np.asarray(v, dtype=np.float32) for i, v in zip(res["ids"], res["embeddings"])})
        return out

    def delete_queries(self, ids: Sequence[str]) -> None:
        for part in _batched(list(ids), self._batch):
            self.queries.delete(ids=list(part))

    def iter_all(self, which: str, include=("documents", "metadatas")):
        """Yield (ids, documents, metadatas) pages of a whole collection."""
        for res in self._pages(which, include):
            yield res["ids"], res.get("documents"), res.get("metadatas")

    def iter_queries(self, with_vectors: bool = False, page: int = 2000):
        """Yield (SyntheticQuery, vector or None) for every stored query vector, paged."""
        include = ("documents", "metadatas") + (("embeddings",) if with_vectors else ())
        for res in self._pages("queries", include, page):
            vecs = res["embeddings"] if with_vectors else [None] * len(res["ids"])
            for qid, text, meta, vec in zip(res["ids"], res["documents"], res["metadatas"], vecs):
                yield _to_query(qid, text, meta), (None if vec is None else np.asarray(vec, dtype=np.float32))

    def _pages(self, which: str, include, page: int | None = None):
        col = self.chunks if which == "chunks" else self.queries
        page = page or self._batch
        for offset in range(0, col.count(), page):
            yield col.get(include=list(include), limit=page, offset=offset)

    # ---- search ------------------------------------------------------------------------------------------
    def search(self, which: str, embedding: np.ndarray, n: int, include_docs: bool = False,
               include_meta: bool = True):
        """Nearest neighbours as (id, cosine similarity, metadata, document) tuples, best first.
        Without metadata and documents a query is several times cheaper (Chroma reads fewer columns). Chroma
        (>= 1.0) answers an empty collection with no hits and caps n at the collection's size itself, so no
        count() round trip is spent per search (it cost about 1.5 ms of a 15 ms query)."""
        col = self.chunks if which == "chunks" else self.queries
        if n <= 0:
            return []
        include = ["distances"] + (["metadatas"] if include_meta else []) + (["documents"] if include_docs else [])
        try:
            res = col.query(query_embeddings=[embedding], n_results=n, include=include)
        except Exception as exc:  # chromadb raises plain errors for a damaged segment
            raise StoreError(f"chroma collection {col.name!r} cannot be searched ({type(exc).__name__}: "
                             f"{str(exc)[:200]}); re-index into a new --home if it persists") from exc
        ids = res["ids"][0]
        docs = res["documents"][0] if include_docs else [None] * len(ids)
        metas = res["metadatas"][0] if include_meta else [{}] * len(ids)
        return [(i, 1.0 - float(d), m, doc) for i, d, m, doc in zip(ids, res["distances"][0], metas, docs)]

    def counts(self) -> dict[str, int]:
        return {"chunks": self.chunks.count(), "queries": self.queries.count()}


def _to_query(qid: str, text: str, meta: dict[str, Any]) -> SyntheticQuery:
    prov = {k: meta[k] for k in _PROV_KEYS if k in meta}
    return SyntheticQuery(query_id=qid, text=text, kind=meta.get("kind", ""), parent_id=meta.get("parent_id", ""),
                          doc_id=meta.get("doc_id", ""), provenance=prov)
