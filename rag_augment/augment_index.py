"""AugmentIndex: the one object users hold. It owns a home folder (settings, generation cache, lexical index,
embedded Chroma unless a server URL is given) and offers indexing, search, human review, real queries, the
feedback loop and reports. Every write goes through one path (`_writing`): take the home's lock, mark the lexical
index stale, write Chroma, rebuild the lexical index from Chroma -- so a crash anywhere leaves an index that the
next reader repairs, and a second writer waits or is refused with a clear message."""
from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag_augment.cache import GenerationCache
from rag_augment.chunking import ChunkingConfig, chunk_each, load_documents, readable_name
from rag_augment.doc_ids import DocIds, content, folder_label, others_content
from rag_augment.embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from rag_augment.errors import ConfigError, InputError, StoreError
from rag_augment.estimate import Estimate, estimate_run
from rag_augment.filters import FilterConfig
from rag_augment.fusion import FusionProfile
from rag_augment.generators.base import QueryGenerator
from rag_augment.hashing import sha1_hex
from rag_augment.home import IndexHome, atomic_write, load_index_profile, save_index_profile
from rag_augment.indexer import Indexer
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.search.pipeline import SearchPipeline
from rag_augment.store.chroma import ChromaStore, open_chroma_client
from rag_augment.trust.review import ReviewBook
from rag_augment.types import GENERATED_KINDS, Chunk, Document, Hit, IndexReport, SyntheticQuery

if TYPE_CHECKING:
    from rag_augment.trust.feedback import FeedbackStore

DEFAULT_HOME = ".rag_augment"
log = logging.getLogger(__name__)


class AugmentIndex:
    def __init__(self, home: str | Path = DEFAULT_HOME, chroma_url: str | None = None,
                 collection: str = "rag_augment", embedder: Embedder | None = None,
                 embedding_model: str | None = None, profile: FusionProfile | str | None = None,
                 cache_path: str | Path | None = None, create: bool = True, lock_timeout: float = 5.0):
        """`create=False` refuses a home that does not exist (read-only commands must not make one).
        `lock_timeout`: seconds a writer waits for another process's write on the same home before giving up."""
        self.home = Path(home)
        self.files = IndexHome(self.home, collection)  # every file name of the home
        _check_home(self.home, create)
        self.settings = self._settings(embedder.name if embedder else (embedding_model or DEFAULT_MODEL),
                                       collection, chroma_url)
        self._embedder = embedder
        self.embedding_model = self.settings["embedding_model"]
        self.store = self._open_store(collection, chroma_url)
        self.cache = GenerationCache(cache_path or self.files.generations)
        self.lexical = LexicalIndex(self.files.lexical)
        self.profile = profile if isinstance(profile, FusionProfile) else self._own_or(profile)
        self._lock_timeout = lock_timeout
        self._lock: Any = None  # a filelock.FileLock, made on the first write
        self._write_depth = 0
        self._lexical_version: str | None = None  # the state version our lexical index was loaded at
        self._retriever: SearchPipeline | None = None
        self._remove_stale_lexical_temps()

    def _open_store(self, collection: str, url: str | None) -> ChromaStore:
        """A Chroma server, or the embedded database as it stands at the index's current version (a writer that
        died mid-write, or one still writing, leaves the state dirty: then a fresh view of whatever is on disk)."""
        if url:
            return ChromaStore(open_chroma_client(url=url), collection)
        return ChromaStore.embedded(str(self.files.chroma), collection, _weak_call(self._current_version),
                                    fresh=bool(self._state().get("lexical_dirty")))

    def _current_version(self) -> str:
        """The version, read quietly: the store asks before every call (a damaged state file is reported, and
        repaired, by the lexical index's path)."""
        try:
            return str(_read_json(self._state_path(), "index state").get("version", ""))
        except ConfigError:
            return ""

    def _remove_stale_lexical_temps(self) -> None:
        """A lexical save killed before its swap leaves a temp folder that nothing else removes: remove it, under
        the lock (a running save's own temp folder is not stale)."""
        if not self.lexical.stale_temps():
            return
        try:
            with self._locked(timeout=0):
                self.lexical.remove_stale_temps()
        except StoreError:
            pass  # a writer is running: its save removes them

    def _own_or(self, name: str | None) -> FusionProfile:
        """The named profile; without a name, this index's own (written by `tune`) or the shipped default."""
        if name is None:
            own = load_index_profile(self.home, self.store.name)
            if own is not None:
                return own
        return load_profile(name)

    def tune(self, generator=None, save: bool = True, force: bool = False, **options):
        """Choose this index's fusion profile without labels (rag_augment.tuning.label_free.tune_index): held-out
        probes never indexed, then real and feedback queries once there are enough. With save, queries use it from now
        on (an explicit profile still wins), but only when it beat the current profile on held-out evidence
        (report.check) or `force`. Returns the TuneReport with its evidence."""
        from rag_augment.tuning.label_free import tune_index
        report = tune_index(self, generator, **options)
        if save and (force or (report.check is not None and report.check.passed)):
            report.installed = True
            save_index_profile(self, report.profile, report)
            self.profile = report.profile
        return report

    # ---- settings and state ---------------------------------------------------------------------------
    def _settings(self, model: str, collection: str, url: str | None) -> dict[str, Any]:
        path = self.files.settings
        data = _read_json(path, "settings")
        coll = data.setdefault("collections", {}).setdefault(collection, {})
        stored = coll.get("embedding_model")
        if stored and stored != model:
            raise ConfigError(f"collection {collection!r} in {self.home} was indexed with embedding model "
                              f"{stored!r}; re-index into a new collection to use {model!r}")
        if coll.get("embedding_model") != model or coll.get("chroma_url") != (url or ""):
            coll["embedding_model"] = model
            coll["chroma_url"] = url or ""
            atomic_write(path, json.dumps(data, indent=2))
        return {"embedding_model": model, "collection": collection, "chroma_url": url}

    def _state_path(self) -> Path:
        return self.files.state

    def _state(self) -> dict[str, Any]:
        try:
            return _read_json(self._state_path(), "index state")
        except ConfigError as exc:
            log.warning("%s; the lexical index will be rebuilt from Chroma", exc)
            return {"lexical_dirty": True}

    def _set_state(self, dirty: bool) -> str:
        version = self._state().get("version", "") if dirty else os.urandom(8).hex()
        atomic_write(self._state_path(), json.dumps({"lexical_dirty": dirty, "version": version}))
        return version

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.embedding_model)
        return self._embedder

    @property
    def review_book(self) -> ReviewBook:
        """Human review decisions for this collection; they outlive re-indexing."""
        return ReviewBook(self.files.reviews)

    # ---- the one write path -----------------------------------------------------------------------------
    @contextmanager
    def _locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the home's write lock (re-entrant); another holder makes us wait `timeout`, then refuse."""
        from filelock import FileLock, Timeout

        if self._lock is None:
            self._lock = FileLock(str(self.files.write_lock))
        try:
            self._lock.acquire(timeout=self._lock_timeout if timeout is None else timeout)
        except Timeout:
            raise StoreError(f"index {self.home} (collection {self.store.name!r}) is being written by another "
                             "process; run again when it has finished") from None
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def _writing(self, timeout: float | None = None) -> Iterator[ChromaStore]:
        """Lock the home, mark the lexical index stale, let the caller write Chroma, then rebuild the lexical
        index from Chroma (which marks it clean). Re-entrant: only the outermost write rebuilds."""
        with self._locked(timeout):
            try:
                self._write_depth += 1
                if self._write_depth == 1:
                    self._begin_write()
                yield self.store
                if self._write_depth == 1:
                    self._rebuild_lexical()
            finally:
                self._write_depth -= 1

    def _begin_write(self) -> None:
        """Write on top of what other processes wrote (Chroma reopened at the current version; a dirty state
        means a writer died mid-write: reopened whatever we saw), then mark the lexical index stale, so that a
        crash before the rebuild leaves it marked."""
        state = self._state()
        self.store.sync(str(state.get("version", "")), fresh=bool(state.get("lexical_dirty")))
        self._set_state(dirty=True)

    def writing(self):
        """The one write path for code outside this class (`with index.writing() as store:`): the home's lock,
        the lexical index marked stale, the caller's writes to the store, then one lexical rebuild. Several writes
        grouped this way (a reviewer's decisions in a burst) cost one lock and one rebuild. Other writers to this
        home wait, then are refused, meanwhile."""
        return self._writing()

    def lexical_state(self) -> str:
        """How the lexical index stands against Chroma: current, stale, dirty (a write did not finish) or missing."""
        if self._state().get("lexical_dirty"):
            return "dirty"
        if not self.lexical.load():
            return "missing"
        return "stale" if self._lexical_stale() else "current"

    @property
    def version(self) -> str:
        """Changes whenever any process finishes a write to this collection (a reader's change marker)."""
        return str(self._state().get("version", ""))

    # ---- indexing ------------------------------------------------------------------------------------------
    def index_path(self, path: str | Path, generator: QueryGenerator, chunking: ChunkingConfig | None = None,
                   filters: FilterConfig | None = None, prune: bool = True, progress=None,
                   batch_size: int = 8, force: bool = False, report: IndexReport | None = None) -> IndexReport:
        """Index a folder (or file). With prune, documents that came from this same folder and are no longer in
        it leave the index (documents indexed from other folders stay). An empty folder prunes nothing, and a
        document that is present but unreadable keeps its indexed version, unless `force`. `report` is filled as
        the run goes (what an interrupted run had saved)."""
        docs, prune, source, keep, skipped = read_source(path, chunking, prune, force, self.store.chunk_states())
        for s in skipped:
            log.info("skipped %s: %s", s["source"], s["reason"])
        report = report or IndexReport()
        report.documents_seen, report.documents_skipped = len(docs), skipped
        return self.index_documents(docs, generator, chunking, filters, prune, progress, batch_size, report,
                                    source=source, keep_docs=keep)

    def estimate(self, path: str | Path, generator: QueryGenerator, chunking: ChunkingConfig | None = None,
                 prune: bool = True, force: bool = False, prices: tuple[float, float] | None = None,
                 calibrate: bool = True) -> Estimate:
        """What `index_path` with these arguments would do and cost; generates nothing and writes nothing."""
        return estimate_source(path, generator, chunking, self.store.chunk_states(), self.cache, prune, force,
                               prices, calibrate)

    def index_documents(self, docs: Sequence[Document], generator: QueryGenerator,
                        chunking: ChunkingConfig | None = None, filters: FilterConfig | None = None,
                        prune: bool = False, progress=None, batch_size: int = 8,
                        report: IndexReport | None = None, source: str | None = None,
                        keep_docs: set[str] = frozenset()) -> IndexReport:  # type: ignore[assignment]
        report = report or IndexReport(documents_seen=len(docs))
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"document id {dup!r} occurs twice")
        chunks, docs, keep_docs = _chunk(docs, chunking, set(keep_docs), report)
        return self.index_chunks(chunks, generator, filters, prune, progress, batch_size, report,
                                 doc_ids={d.doc_id for d in docs}, source=source, keep_docs=keep_docs)

    def index_chunks(self, chunks: Sequence[Chunk], generator: QueryGenerator, filters: FilterConfig | None = None,
                     prune: bool = False, progress=None, batch_size: int = 8, report: IndexReport | None = None,
                     doc_ids: set[str] | None = None, source: str | None = None,
                     keep_docs: set[str] = frozenset()) -> IndexReport:  # type: ignore[assignment]
        """Index ready-made chunks (e.g. LlamaIndex nodes, whose ids become parent ids). With prune, stored
        documents not among these go -- only those indexed from the same `source`, when one is given."""
        report = report or IndexReport()
        doc_ids = doc_ids if doc_ids is not None else {c.doc_id for c in chunks}
        if source is not None:
            chunks = [c if c.metadata.get("source") == source else
                      replace(c, metadata={**c.metadata, "source": source}) for c in chunks]
        with self._writing() as store:
            before = store.chunk_states()
            if source is not None:
                _refuse_foreign_ids(chunks, doc_ids, before, source)
            known_docs = {m.get("doc_id") for m in before.values()}
            report.documents_added = len(doc_ids - known_docs)
            report.estimate = estimate_run(chunks, before, doc_ids, generator, self.cache, prune, source,
                                           set(keep_docs), calibrate=False).to_dict()
            indexer = Indexer(store, self.embedder, generator, self.cache, filters, batch_size, progress,
                              review=self.review_book)
            indexer.index_chunks(chunks, doc_ids, prune_missing=prune, report=report, source=source,
                                 keep_docs=set(keep_docs))
            current = {x.chunk_id for x in chunks}
            changed = {before[c]["doc_id"] for c in before if c not in current and before[c].get("doc_id") in doc_ids}
            report.documents_changed = len(changed)
        return report

    def delete_document(self, doc_id: str) -> int:
        ids = self.store.chunk_ids_of_docs([doc_id])
        if not ids:
            raise InputError(f"document {doc_id!r} is not in the index")
        with self._writing() as store:
            store.delete_chunks(ids)
        return len(ids)

    # ---- query vectors added after indexing: real, feedback, reviewed ---------------------------------------
    def attach_queries(self, queries: Sequence[SyntheticQuery], vecs: np.ndarray | None = None) -> list[SyntheticQuery]:
        """Store query vectors after the human review decisions. Returns what was stored (rejected queries left
        out, edited ones carrying the reviewer's text)."""
        reviewed = self.review_book.apply(queries)
        if vecs is None or [q.text for q in reviewed] != [q.text for q in queries]:
            vecs = self.embedder.embed([q.text for q in reviewed]) if reviewed else None
        first: dict[str, int] = {}
        for i, q in enumerate(reviewed):  # one id twice in one upsert is an error in Chroma
            first.setdefault(q.query_id, i)
        if vecs is not None and len(first) < len(reviewed):
            reviewed, vecs = [reviewed[i] for i in first.values()], vecs[list(first.values())]
        with self._writing() as store:
            if reviewed and vecs is not None:
                store.upsert_queries(list(reviewed), vecs)
        return list(reviewed)

    def remove_queries(self, query_ids: Sequence[str]) -> int:
        with self._writing() as store:
            store.delete_queries(list(query_ids))
        return len(query_ids)

    def add_real_queries(self, source: str | Path | Iterable[dict], holdout: Iterable[str] = ()) -> dict:
        """Real queries with known answers (a JSONL file or dicts with "text" and "chunk_id" or "doc_id")."""
        from rag_augment.trust.real_queries import add_real_queries
        return add_real_queries(self, source, holdout)

    # ---- human review ---------------------------------------------------------------------------------------
    def export_rows(self, kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """One flat row per stored query vector with its provenance and chunk, for reviewers."""
        from rag_augment.trust.reviewing import export_rows
        return export_rows(self, tuple(kinds) if kinds else None)

    def export_review(self, path: str | Path, fmt: str | None = None, kinds: Sequence[str] | None = None) -> int:
        from rag_augment.trust.reviewing import export
        return export(self, path, fmt, tuple(kinds) if kinds else None)

    def apply_review(self, source: str | Path | Sequence[dict]) -> dict[str, Any]:
        """Apply review decisions (a filled-in export file, or rows with query_id/parent_id/text/decision/
        edited_text) to the live index and remember them for every future indexing run."""
        from rag_augment.trust.reviewing import apply_review
        return apply_review(self, source)

    # ---- feedback loop ---------------------------------------------------------------------------------------
    def feedback_store(self) -> FeedbackStore:
        """The durable store of failed queries (a context manager)."""
        from rag_augment.trust.feedback import FeedbackStore
        return FeedbackStore.for_index(self)

    def record_feedback(self, query: str, verdict: str = "thumbs_down", chunk_id: str | None = None,
                        doc_id: str | None = None, rephrasing: str | None = None,
                        session_id: str | None = None) -> int:
        with self.feedback_store() as fb:
            return fb.add(query, verdict, chunk_id, doc_id, rephrasing, session_id, collection=self.store.name)

    def apply_feedback(self, generator=None, **options) -> dict:
        """One feedback round over the open failed queries (see rag_augment.trust.feedback.apply_feedback)."""
        from rag_augment.trust.feedback import apply_feedback
        return apply_feedback(self, generator, **options)

    # ---- reports ---------------------------------------------------------------------------------------------
    def diversity(self, m: int = 3, kinds: Sequence[str] | None = GENERATED_KINDS) -> dict[str, Any]:
        from rag_augment.trust.diversity import index_diversity
        return index_diversity(self, m=m, kinds=kinds)

    # ---- the lexical index ------------------------------------------------------------------------------------
    def rebuild_lexical(self) -> None:
        """Derive the lexical index from what Chroma holds, swap it in atomically, then mark it clean. Under the
        home's lock, as every write: two rebuilds at once would swap each other's folders away."""
        with self._writing():
            pass  # the outermost write rebuilds as it ends

    def _rebuild_lexical(self) -> None:
        """rebuild_lexical, the lock held."""
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
        self._lexical_version = self._set_state(dirty=False)
        self.store.written(self._lexical_version)

    def _ensure_lexical(self) -> None:
        """Load (or repair) the lexical index; reload it when another process or client wrote since."""
        state = self._state()
        version = state.get("version", "")
        if state.get("lexical_dirty"):
            pass
        elif version == self._lexical_version:
            return
        elif self.lexical.load() and not self._lexical_stale():
            self._lexical_version = version
            return
        try:  # an interrupted or foreign write left it stale: Chroma is the source of truth
            with self._writing(timeout=0):
                pass
        except StoreError:  # another process is writing: search what is on disk until it has finished
            log.debug("index %s is being written; searching the last complete lexical index", self.home)
            if not self.lexical.sizes():
                self.lexical.load()

    def _lexical_stale(self) -> bool:
        """Another client of a shared Chroma server may have written since our last rebuild."""
        sizes, counts = self.lexical.sizes(), self.store.counts()
        return sizes.get("chunks") != counts["chunks"] or sizes.get("queries") != counts["queries"]

    # ---- reading ------------------------------------------------------------------------------------------
    @property
    def retriever(self) -> SearchPipeline:
        """One retriever per index (its thread pool serves every query), remade if the profile was replaced."""
        self._ensure_lexical()
        r = self._retriever
        if r is None or r.profile is not self.profile or r.lexical is not self.lexical:
            r = self._retriever = SearchPipeline(self.store, self.embedder, self.lexical, self.profile,
                                                 before_search=_weak_call(self._ensure_lexical))
        return r

    def query(self, text: str, k: int = 10, profile: FusionProfile | None = None, rerank: bool = False
              ) -> list[Hit]:
        """The k best chunks. `rerank`: rescore the fused top hits with the reranker trained on this index's own
        queries (`train_reranker`, `rag-augment train`). An error names a missing or stale model."""
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a whole number >= 1, not {k!r}")
        reranker = None
        if rerank:
            from rag_augment.rerank.stage import cached_reranker
            reranker = cached_reranker(self)
            if reranker.off_reason:  # its self-check failed: rank as before, at no reranking cost, and say why
                log.warning("%s", reranker.off_reason)
                reranker = None
        return self.retriever.search(text, k=k, profile=profile, reranker=reranker)

    def train_reranker(self, config=None, progress=None, force: bool = False) -> dict[str, Any]:
        """Fine-tune a cross-encoder on this index's synthetic, real and feedback queries with hard negatives
        mined by its legs; stored in the home with its provenance (see rag_augment.rerank), then checked on
        held-out probes: it stays switched off (weight 0) unless it wins there, or `force`."""
        from rag_augment.rerank.training import gate_reranker, train_reranker
        train_reranker(self, config, progress=progress)
        return gate_reranker(self, force=force)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        kinds: dict[str, int] = {}
        per_chunk: dict[str, int] = {}
        for _, _, metas in self.store.iter_all("queries", include=("metadatas",)):
            for m in metas:
                kinds[m.get("kind", "")] = kinds.get(m.get("kind", ""), 0) + 1
                key = m.get("parent_id", "")
                per_chunk[key] = per_chunk.get(key, 0) + 1
        docs = {m.get("doc_id") for m in self.store.chunk_states().values()}
        synthetic = counts["queries"] - kinds.get("real", 0) - kinds.get("feedback", 0)
        return {"collection": self.store.name, "documents": len(docs), "chunks": counts["chunks"],
                "query_vectors": counts["queries"], "queries_by_kind": kinds,
                "chunks_with_queries": len(per_chunk),
                "mean_queries_per_chunk": round(counts["queries"] / counts["chunks"], 2) if counts["chunks"] else 0,
                "real_to_synthetic": round(kinds.get("real", 0) / synthetic, 4) if synthetic else 0.0,
                "embedding_model": self.embedding_model, "home": str(self.home)}

    def show(self, chunk_id: str) -> dict[str, Any]:
        """A chunk, its metadata and its queries (by kind, then text) with their provenance."""
        from rag_augment.trust.reviewing import show
        chunk, queries = show(self, chunk_id)
        return {"chunk_id": chunk_id, **chunk,
                "queries": [{"query_id": q.query_id, "text": q.text, "kind": q.kind, "provenance": q.provenance}
                            for q in queries]}


def read_source(path: str | Path, chunking: ChunkingConfig | None, prune: bool, force: bool,
                states: dict[str, dict] | None = None):
    """Documents of a folder under their ids in the index whose chunks are `states`, tagged with their source;
    whether pruning may run; the doc ids to keep whatever happens (present but unreadable this time); and the
    skipped files."""
    docs, skipped = load_documents(path, chunking or ChunkingConfig())
    source = source_key(path)
    ids = DocIds(states or {}, source, folder_label(path), chunking)
    docs = [replace(d, metadata={**d.metadata, "source": source}) for d in ids.assign(docs)]
    if prune and not docs and not force:
        log.warning("%s holds no readable document: nothing is pruned (use force to empty the index)", path)
        prune = False
    if force:
        return docs, prune, source, set(), skipped
    # a skipped folder (unlistable, a broken link, a second link to a folder already read) keeps what it held
    unread = _skipped_doc_ids(path, skipped)
    return docs, prune, source, {doc_id for key, doc_id in ids.mine.items() if _within(key, unread)}, skipped


def estimate_source(path: str | Path, generator: QueryGenerator, chunking: ChunkingConfig | None,
                    states: dict[str, dict], cache: GenerationCache, prune: bool = True, force: bool = False,
                    prices: tuple[float, float] | None = None, calibrate: bool = True) -> Estimate:
    """The estimate of indexing `path` into an index whose chunks are `states` (empty for a new index)."""
    docs, prune, source, keep, _ = read_source(path, chunking, prune, force, states)
    chunks, docs, keep = _chunk(docs, chunking, keep)
    return estimate_run(chunks, states, {d.doc_id for d in docs}, generator, cache, prune, source, keep, prices,
                        calibrate)


def source_key(path: str | Path) -> str:
    """Which folder (or file) a document was indexed from, without storing the path itself."""
    return sha1_hex(str(Path(path).resolve()), 16)


def _chunk(docs: Sequence[Document], chunking: ChunkingConfig | None, keep: set[str],
           report: IndexReport | None = None) -> tuple[list[Chunk], list[Document], set[str]]:
    """Chunks of the documents that split; one that does not is skipped (reported) and keeps its indexed version."""
    chunks, bad = chunk_each(list(docs), chunking or ChunkingConfig())
    failed = {s["doc_id"] for s in bad}
    for s in bad:
        log.warning("skipped %s: %s", s["source"], s["reason"])
    if report is not None:
        report.documents_skipped = [*report.documents_skipped, *bad]
    keys = {d.doc_id: d.metadata["doc_key"] for d in docs if "doc_key" in d.metadata}
    chunks = [replace(c, metadata={**c.metadata, "doc_key": keys[c.doc_id]}) if c.doc_id in keys else c
              for c in chunks]
    return chunks, [d for d in docs if d.doc_id not in failed], keep | failed


def _refuse_foreign_ids(chunks: Sequence[Chunk], doc_ids: set[str], states: dict[str, dict], source: str) -> None:
    """A document of another folder is never overwritten under a shared id (nor are its real queries moved); the
    very same content may change owner. read_source gives ids that are free, so this only stops a caller's own
    ids or another writer's race."""
    theirs, ours = others_content(states, source), content(list(chunks))
    clash = sorted(d for d in doc_ids | set(ours) if d in theirs and theirs[d] != ours.get(d))
    if clash:
        raise InputError(f"document id {clash[0]!r} is already indexed from another folder; give this one "
                         "another id (or index it into another collection)")


def _skipped_doc_ids(root: str | Path, skipped: Sequence[dict]) -> set[str]:
    """Doc keys of files that are there but could not be read this time: their indexed version is kept."""
    is_dir = Path(root).is_dir()
    root = Path(readable_name(str(root)))  # skip records name files as readable_name writes them
    out = set()
    for s in skipped:
        if "doc_id" in s:
            out.add(s["doc_id"])
            continue
        src = Path(str(s.get("source", "")))
        try:
            out.add(src.relative_to(root).as_posix() if is_dir else src.name)
        except ValueError:
            continue
    return out


def _within(key: str, paths: set[str]) -> bool:
    """Whether `key` is one of `paths` or lies in a folder among them."""
    parts = key.split("/")
    return any("/".join(parts[:i]) in paths for i in range(1, len(parts) + 1))


def _weak_call(method: Callable[[], Any]) -> Callable[[], Any]:
    """`method` called through a weak reference (None once its object is gone): what an index hands to its store
    and retriever must not keep it alive in a cycle."""
    ref = weakref.WeakMethod(method)
    return lambda: m() if (m := ref()) is not None else None


def _check_home(home: Path, create: bool) -> None:
    if home.exists() and not home.is_dir():
        raise ConfigError(f"home {home} is a file, not a folder")
    if not home.exists():
        if not create:
            raise InputError(f"no index at {home}: run `rag-augment index` first (or give --home)")
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"home {home}: cannot create it: {exc.strerror}") from exc


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{what} file {path} is unreadable or not JSON ({type(exc).__name__}); "
                          "fix or delete it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {path} does not hold a JSON object; fix or delete it")
    return data
