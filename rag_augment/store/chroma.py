"""Chroma storage: one collection of chunk vectors, one of synthetic-query vectors pointing at their parents.

Embedded PersistentClient by default, HttpClient to a `chroma run` server when a URL is given. We always pass
our own embeddings, so Chroma's default embedding model is never downloaded; telemetry is off through the client's
Settings (never through the process environment, which belongs to the host app).

chromadb keeps one System per database path per process (SharedSystemClient) and loads each HNSW index into it
once: a write by another process then shows in get() (SQLite) but never in query() (HNSW), not even through a
client opened later in this process. EmbeddedChroma opens clients for an index version and starts a fresh System
when the cached one has not seen that version.
"""
from __future__ import annotations

import gc
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np

from rag_augment.errors import ConfigError, StoreError
from rag_augment.trust.provenance import PROVENANCE_KEYS as _PROV_KEYS
from rag_augment.types import Chunk, SyntheticQuery

log = logging.getLogger(__name__)

_FALLBACK_BATCH = 5000  # rows per write when the client cannot say its limit


def _settings():
    from chromadb.config import Settings
    return Settings(anonymized_telemetry=False)


def open_chroma_client(path: str | None = None, url: str | None = None):
    import chromadb

    settings = _settings()
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


class EmbeddedChroma:
    """Clients of the embedded database at `path` that see what other processes wrote, up to an index version
    (a stamp that changes with every finished write). When chromadb's cached System for the path has not seen the
    version, it is dropped from chromadb's cache and the new client starts a fresh System, which reads the files
    again. The old System is not stopped (stop() deletes its bindings): a search still running on it in another
    thread completes, and it is freed with its last client."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _seen: ClassVar[dict[str, tuple[Any, str]]] = {}  # System identifier -> (the cached System, version it saw)

    def __init__(self, path: str):
        from chromadb.api.shared_system_client import SharedSystemClient

        self.path = path
        self.settings = _settings()
        self.settings.is_persistent, self.settings.persist_directory = True, path  # as PersistentClient sets them
        self._ident = SharedSystemClient._get_identifier_from_settings(self.settings)
        self._system: Any = None
        self.stamp: str | None = None
        self.dropped = False  # whether the last open() dropped a System from chromadb's cache

    def open(self, stamp: str, fresh: bool = False):
        """A client whose System has seen every write up to `stamp`; `fresh`: a new System whatever it has seen."""
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._lock:
            systems = SharedSystemClient._identifier_to_system
            cached, seen = systems.get(self._ident), self._seen.get(self._ident)
            self.dropped = cached is not None and (fresh or seen is None or seen[0] is not cached or seen[1] != stamp)
            if self.dropped:
                systems.pop(self._ident, None)
            try:
                client = chromadb.PersistentClient(path=self.path, settings=self.settings)
            except Exception as exc:
                raise StoreError(f"chroma database at {self.path}: {exc}") from exc
            self._system, self.stamp = systems.get(self._ident), stamp
            self._seen[self._ident] = (self._system, stamp)
        return client

    def written(self, stamp: str) -> None:
        """Our own write (under the index's lock) went through our System: it has seen `stamp`, no reload needed."""
        with self._lock:
            seen = self._seen.get(self._ident)
            if seen is not None and seen[0] is self._system:
                self._seen[self._ident] = (self._system, stamp)
            self.stamp = stamp


_DAMAGE = re.compile(r"hnsw|segment reader|pickle", re.IGNORECASE)  # chromadb's words for unreadable index files


class _Collection:
    """One collection of a ChromaStore, as the store holds it now: each call first lets the store reopen on
    another process's write (see ChromaStore.embedded), and turns damaged index files (chromadb: a long
    InternalError traceback) into one StoreError that names the folder and what to do."""

    def __init__(self, store: ChromaStore, which: str):
        self._store, self._which = store, which
        self.name = f"{store.name}-{which}"

    @property
    def col(self):
        self._store.follow()
        return self._store._cols[self._which]

    def _call(self, method: str, *args, **kwargs):
        col = self.col
        try:
            return getattr(col, method)(*args, **kwargs)
        except Exception as exc:
            if not _DAMAGE.search(str(exc)):
                raise
            raise StoreError(f"chroma collection {self.name!r}: its vector index files in "
                             f"{self._store._folder_of(col)} are damaged or unreadable "
                             f"({str(exc).split(': ')[-1][:120]}); restore that folder from a backup, or "
                             "re-index into a new --home") from exc

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def query(self, *args, **kwargs):
        return self._call("query", *args, **kwargs)

    def upsert(self, *args, **kwargs):
        return self._call("upsert", *args, **kwargs)

    def update(self, *args, **kwargs):
        return self._call("update", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)

    def count(self) -> int:
        return self._call("count")

    def __getattr__(self, name: str):
        return getattr(self.col, name)


class ChromaStore:
    def __init__(self, client, collection: str = "rag_augment", embedded: EmbeddedChroma | None = None,
                 version: Callable[[], str] | None = None):
        """`embedded`: how `client` was opened, so that it can be reopened (the embedded database only);
        `version`: reads the index's current version (see ChromaStore.embedded)."""
        if len(collection) < 3:
            raise ConfigError("collection name must have at least 3 characters")
        self.name = collection
        self._embedded, self._version = embedded, version
        self._bind(client)
        self.chunks, self.queries = _Collection(self, "chunks"), _Collection(self, "queries")
        try:
            self._batch = int(client.get_max_batch_size())
        except Exception as exc:  # older servers lack the call; 5000 is below every Chroma limit seen
            log.warning("chroma: cannot read the maximum batch size (%s); writing in batches of %d",
                        exc, _FALLBACK_BATCH)
            self._batch = _FALLBACK_BATCH

    @classmethod
    def embedded(cls, path: str, collection: str, version: Callable[[], str], fresh: bool = False) -> ChromaStore:
        """The embedded database at `path`. `version` reads the index's version (a stamp every finished write
        changes): each call first reopens the database when the version moved on since we saw it, so searches
        and reads see what other processes wrote. `fresh`: start from a fresh view whatever we saw."""
        opener = EmbeddedChroma(path)
        return cls(opener.open(version(), fresh), collection, opener, version)

    def _bind(self, client) -> None:
        cfg = {"hnsw": {"space": "cosine"}}
        try:
            cols = {which: client.get_or_create_collection(f"{self.name}-{which}", embedding_function=None,
                                                           configuration=cfg) for which in ("chunks", "queries")}
        except Exception as exc:
            raise StoreError(f"chroma collection {self.name!r}: {exc}") from exc
        self.client, self._cols = client, cols

    def follow(self) -> None:
        """Reopen when another process finished a write since we last saw the index (the embedded database)."""
        stamp = self._version() if self._version is not None else None
        if stamp is not None:  # None: the index that gave `version` is gone
            self.sync(stamp)

    def sync(self, stamp: str, fresh: bool = False) -> None:
        """Embedded database: make searches see every write up to index version `stamp`, another process's
        included (a client on a fresh System when ours has not seen it). `fresh`: reload whatever we saw (a
        writer died mid-write). A Chroma server needs nothing: it is one process."""
        if self._embedded is not None and (fresh or stamp != self._embedded.stamp):
            self._bind(self._embedded.open(stamp, fresh))
            if self._embedded.dropped:
                gc.collect()  # the dropped System sits in reference cycles, holding its HNSW indexes in memory

    def written(self, stamp: str) -> None:
        """We wrote index version `stamp` ourselves: our System has seen it."""
        if self._embedded is not None:
            self._embedded.written(stamp)

    def _folder_of(self, col) -> str:
        """The folder of a collection's HNSW files (the embedded database): its vector segment's id."""
        if self._embedded is None:
            return "the Chroma server's data folder"
        root = Path(self._embedded.path)
        try:
            uri = (root / "chroma.sqlite3").resolve().as_uri() + "?mode=ro"
            with closing(sqlite3.connect(uri, uri=True)) as db:
                row = db.execute("SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'",
                                 (str(col.id),)).fetchone()
        except sqlite3.Error:
            row = None
        return str(root / row[0]) if row else str(root)

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
        except StoreError:
            raise
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
