"""AugmentIndex: the one object users hold. It owns a home folder (settings, generation cache, lexical index,
embedded Chroma unless a server URL is given) and offers index / query / stats / show / delete."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from rag_augment.cache import GenerationCache
from rag_augment.chunking import ChunkingConfig, chunk_documents, load_documents
from rag_augment.embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from rag_augment.errors import ConfigError, InputError
from rag_augment.filters import FilterConfig
from rag_augment.fusion import FusionProfile
from rag_augment.generators.base import QueryGenerator
from rag_augment.indexer import Indexer
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.retriever import AugmentedRetriever
from rag_augment.store.chroma import ChromaStore, open_chroma_client
from rag_augment.types import Chunk, Document, Hit, IndexReport

DEFAULT_HOME = ".rag_augment"


class AugmentIndex:
    def __init__(self, home: str | Path = DEFAULT_HOME, chroma_url: str | None = None,
                 collection: str = "rag_augment", embedder: Embedder | None = None,
                 embedding_model: str | None = None, profile: FusionProfile | str | None = None,
                 cache_path: str | Path | None = None):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings = self._settings(embedder.name if embedder else (embedding_model or DEFAULT_MODEL),
                                       collection, chroma_url)
        self._embedder = embedder
        self.embedding_model = self.settings["embedding_model"]
        client = open_chroma_client(path=None if chroma_url else str(self.home / "chroma"), url=chroma_url)
        self.store = ChromaStore(client, collection)
        self.cache = GenerationCache(cache_path or self.home / "generations.jsonl")
        self.lexical = LexicalIndex(self.home / f"lexical-{collection}")
        self.profile = profile if isinstance(profile, FusionProfile) else load_profile(profile)
        self._lexical_ready = False
        self._retriever: AugmentedRetriever | None = None

    # ---- settings and state ---------------------------------------------------------------------------
    def _settings(self, model: str, collection: str, url: str | None) -> dict[str, Any]:
        path = self.home / "settings.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        coll = data.setdefault("collections", {}).setdefault(collection, {})
        stored = coll.get("embedding_model")
        if stored and stored != model:
            raise ConfigError(f"collection {collection!r} in {self.home} was indexed with embedding model "
                              f"{stored!r}; re-index into a new collection to use {model!r}")
        coll["embedding_model"] = model
        coll["chroma_url"] = url or ""
        _atomic_write(path, json.dumps(data, indent=2))
        return {"embedding_model": model, "collection": collection, "chroma_url": url}

    def _state_path(self) -> Path:
        return self.home / f"state-{self.store.name}.json"

    def _mark_dirty(self, dirty: bool) -> None:
        _atomic_write(self._state_path(), json.dumps({"lexical_dirty": dirty}))

    def _is_dirty(self) -> bool:
        p = self._state_path()
        return p.exists() and json.loads(p.read_text()).get("lexical_dirty", False)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.embedding_model)
        return self._embedder

    # ---- writing ------------------------------------------------------------------------------------------
    def index_path(self, path: str | Path, generator: QueryGenerator, chunking: ChunkingConfig | None = None,
                   filters: FilterConfig | None = None, prune: bool = True, progress=None,
                   batch_size: int = 8) -> IndexReport:
        """Index a folder (or file). With prune, documents no longer in the folder leave the index."""
        chunking = chunking or ChunkingConfig()
        docs, skipped = load_documents(path, chunking)
        report = IndexReport(documents_seen=len(docs), documents_skipped=skipped)
        return self.index_documents(docs, generator, chunking, filters, prune, progress, batch_size, report)

    def index_documents(self, docs: Sequence[Document], generator: QueryGenerator,
                        chunking: ChunkingConfig | None = None, filters: FilterConfig | None = None,
                        prune: bool = False, progress=None, batch_size: int = 8,
                        report: IndexReport | None = None) -> IndexReport:
        report = report or IndexReport(documents_seen=len(docs))
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"document id {dup!r} occurs twice")
        chunks = chunk_documents(docs, chunking or ChunkingConfig())
        return self.index_chunks(chunks, generator, filters, prune, progress, batch_size, report,
                                 doc_ids={d.doc_id for d in docs})

    def index_chunks(self, chunks: Sequence[Chunk], generator: QueryGenerator, filters: FilterConfig | None = None,
                     prune: bool = False, progress=None, batch_size: int = 8, report: IndexReport | None = None,
                     doc_ids: set[str] | None = None) -> IndexReport:
        """Index ready-made chunks (e.g. LlamaIndex nodes, whose ids become parent ids)."""
        report = report or IndexReport()
        doc_ids = doc_ids if doc_ids is not None else {c.doc_id for c in chunks}
        before = self.store.chunk_states()
        known_docs = {m.get("doc_id") for m in before.values()}
        report.documents_added = len(doc_ids - known_docs)
        self._mark_dirty(True)
        indexer = Indexer(self.store, self.embedder, generator, self.cache, filters, batch_size, progress,
                          review=self._review_book())
        indexer.index_chunks(chunks, doc_ids, prune_missing=prune, report=report)
        changed = {before[c]["doc_id"] for c in before if c not in {x.chunk_id for x in chunks}
                   and before[c].get("doc_id") in doc_ids}
        report.documents_changed = len(changed)
        self.rebuild_lexical()
        return report

    def _review_book(self):
        from rag_augment.review import ReviewBook
        return ReviewBook(self.home / f"reviews-{self.store.name}.jsonl")

    def delete_document(self, doc_id: str) -> int:
        ids = self.store.chunk_ids_of_docs([doc_id])
        if not ids:
            raise InputError(f"document {doc_id!r} is not in the index")
        self._mark_dirty(True)
        self.store.delete_chunks(ids)
        self.rebuild_lexical()
        return len(ids)

    def rebuild_lexical(self) -> None:
        """Derive the lexical index from what Chroma holds, swap it in atomically, then mark it clean."""
        cids, ctexts, qids, qtexts, qparents = [], [], [], [], []
        for ids, docs, _ in self.store.iter_all("chunks", include=("documents",)):
            cids += ids
            ctexts += docs
        for ids, docs, metas in self.store.iter_all("queries"):
            qids += ids
            qtexts += docs
            qparents += [m["parent_id"] for m in metas]
        self.lexical.build(cids, ctexts, qids, qtexts, qparents)
        self.lexical.save()
        self._mark_dirty(False)
        self._lexical_ready = True

    # ---- reading ------------------------------------------------------------------------------------------
    def _ensure_lexical(self) -> None:
        if self._lexical_ready:
            return
        if self._is_dirty() or not self.lexical.load() or self._lexical_stale():
            self.rebuild_lexical()  # an interrupted or foreign write left it stale: Chroma is the source of truth
        self._lexical_ready = True

    def _lexical_stale(self) -> bool:
        """Another client of a shared Chroma server may have written since our last rebuild."""
        sizes, counts = self.lexical.sizes(), self.store.counts()
        return sizes.get("chunks") != counts["chunks"] or sizes.get("queries") != counts["queries"]

    @property
    def retriever(self) -> AugmentedRetriever:
        """One retriever per index (its thread pool serves every query), remade if the profile was replaced."""
        self._ensure_lexical()
        r = self._retriever
        if r is None or r.profile is not self.profile or r.lexical is not self.lexical:
            r = self._retriever = AugmentedRetriever(self.store, self.embedder, self.lexical, self.profile)
        return r

    def query(self, text: str, k: int = 10, profile: FusionProfile | None = None) -> list[Hit]:
        return self.retriever.search(text, k=k, profile=profile)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        kinds: dict[str, int] = {}
        per_chunk: dict[str, int] = {}
        real_per_chunk: dict[str, int] = {}
        for _, _, metas in self.store.iter_all("queries", include=("metadatas",)):
            for m in metas:
                kinds[m.get("kind", "")] = kinds.get(m.get("kind", ""), 0) + 1
                key = m.get("parent_id", "")
                per_chunk[key] = per_chunk.get(key, 0) + 1
                if m.get("kind") == "real":
                    real_per_chunk[key] = real_per_chunk.get(key, 0) + 1
        docs = {m.get("doc_id") for m in self.store.chunk_states().values()}
        synthetic = counts["queries"] - kinds.get("real", 0) - kinds.get("feedback", 0)
        return {"collection": self.store.name, "documents": len(docs), "chunks": counts["chunks"],
                "query_vectors": counts["queries"], "queries_by_kind": kinds,
                "chunks_with_queries": len(per_chunk),
                "mean_queries_per_chunk": round(counts["queries"] / counts["chunks"], 2) if counts["chunks"] else 0,
                "real_to_synthetic": round(kinds.get("real", 0) / synthetic, 4) if synthetic else 0.0,
                "embedding_model": self.embedding_model, "home": str(self.home)}

    def show(self, chunk_id: str) -> dict[str, Any]:
        got = self.store.get_chunks([chunk_id])
        if chunk_id not in got:
            raise InputError(f"chunk {chunk_id!r} is not in the index")
        queries = self.store.queries_of([chunk_id])
        return {"chunk_id": chunk_id, **got[chunk_id],
                "queries": [{"query_id": q.query_id, "text": q.text, "kind": q.kind, "provenance": q.provenance}
                            for q in sorted(queries, key=lambda q: (q.kind, q.text))]}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
