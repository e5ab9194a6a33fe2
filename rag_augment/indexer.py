"""Indexing: chunk -> (embed chunks) -> generate -> filter -> embed queries -> upsert. Incremental and resumable.

Order matters for crash safety:
1. new chunks are embedded and upserted with gen_key "" (not yet augmented);
2. real and feedback queries of stale chunks of changed documents move to the nearest new chunk of the same
   document; then stale chunks and chunks of deleted documents go, with their query vectors;
3. chunks whose gen_key differs from the generator's identity are augmented in batches: generated queries are
   appended to the on-disk cache as they come, then filtered, embedded and upserted under deterministic ids,
   and only then is the chunk's gen_key set.
After kill -9 anywhere, the next run redoes only what is missing; upserts are idempotent, so no duplicates.
A chunk the model gives nothing usable for is never done: after MAX_SOFT_FAILURES runs it is given up (reported,
the run is incomplete) and asked again on later runs, with a growing wait between tries.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from rag_augment.cache import GenerationCache, generation_hash
from rag_augment.embedding import Embedder
from rag_augment.filters import FilterConfig, exempt, filter_queries, off_topic
from rag_augment.generators.base import GenerationResult, QueryGenerator, identity_key
from rag_augment.generators.prompts import persona_for
from rag_augment.hashing import sha1_hex
from rag_augment.store.chroma import ChromaStore
from rag_augment.trust.provenance import Provenance
from rag_augment.types import GENERATED_KINDS, Chunk, IndexReport, SyntheticQuery

ProgressFactory = Callable[[int, str], Any]  # a tqdm-like bar: update(n), close(), optionally set_postfix_str
log = logging.getLogger(__name__)
MAX_SOFT_FAILURES = 3
MAX_RETRY_WAIT = 8  # runs a given-up chunk waits, at most, before it is asked again
FILTERS_VERSION = "2"  # stamped on chunks whose stored queries passed today's off-topic filter


def query_id(parent_id: str, kind: str, text: str) -> str:
    return f"{parent_id}::{kind[:1]}{sha1_hex(kind + chr(0) + text.strip().lower(), 12)}"


@dataclass
class IndexPlan:
    to_embed: list[Chunk]
    to_delete: list[str]
    to_generate: list[Chunk]
    unchanged: int


def plan(chunks: Sequence[Chunk], states: dict[str, dict], doc_ids: set[str], prune_missing: bool,
         gen_key: str, source: str | None = None, keep_docs: frozenset[str] | set[str] = frozenset()) -> IndexPlan:
    """What to embed, delete and generate. A stored chunk that is not among `chunks` goes when its document was
    re-read (it changed), or, with prune_missing, when its document is gone from the same `source` (chunks stored
    before sources were recorded count as the same source). Documents in `keep_docs` (present, unreadable now)
    are never touched."""
    current = {c.chunk_id for c in chunks}
    to_embed = [c for c in chunks if c.chunk_id not in states]

    def gone(meta: dict) -> bool:
        doc = meta.get("doc_id")
        if doc in keep_docs:
            return False
        same_source = source is None or meta.get("source", source) == source
        return doc in doc_ids or (prune_missing and same_source)

    to_delete = [cid for cid, meta in states.items() if cid not in current and gone(meta)]
    # a chunk given up on is not done, even where a version before this one marked it done
    to_generate = [c for c in chunks if states.get(c.chunk_id, {}).get("gen_key") != gen_key
                   or soft_failures(states.get(c.chunk_id, {})) >= MAX_SOFT_FAILURES]
    return IndexPlan(to_embed, to_delete, to_generate, len(chunks) - len(to_embed))


class Indexer:
    def __init__(self, store: ChromaStore, embedder: Embedder, generator: QueryGenerator, cache: GenerationCache,
                 filters: FilterConfig | None = None, batch_size: int = 8,
                 progress: ProgressFactory | None = None, review=None):
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.cache = cache
        self.filters = filters or FilterConfig()
        self.batch_size = batch_size
        self.progress = progress
        self.review = review  # optional ReviewBook: decisions that survive re-indexing

    def index_chunks(self, chunks: Sequence[Chunk], doc_ids: set[str], prune_missing: bool = False,
                     report: IndexReport | None = None, source: str | None = None,
                     keep_docs: set[str] | None = None) -> IndexReport:
        report = report or IndexReport()
        start = time.perf_counter()
        identity = self.generator.identity()
        gen_key = identity_key(identity)
        states = self.store.chunk_states()
        p = plan(chunks, states, doc_ids, prune_missing, gen_key, source, keep_docs or set())
        report.chunks_total = len(chunks)
        report.chunks_unchanged = p.unchanged
        for i in range(0, len(p.to_embed), 256):
            part = p.to_embed[i:i + 256]
            self.store.upsert_chunks(part, self.embedder.embed([c.text for c in part]), gen_key="")
        report.chunks_embedded = len(p.to_embed)
        if source is not None:  # chunks stored before sources were recorded learn theirs
            untagged = [c.chunk_id for c in chunks
                        if c.chunk_id in states and states[c.chunk_id].get("source") != source]
            self.store.update_chunk_metadata(untagged, {"source": source})
        report.queries_reattached = self._reattach_human_queries(p.to_delete, chunks)
        human_lost = [q for q in self.store.queries_of(p.to_delete) if q.kind not in GENERATED_KINDS
                      and q.doc_id not in doc_ids]
        if human_lost:
            report.human_queries_deleted = len(human_lost)
            log.warning("%d real/feedback queries go with %d deleted documents", len(human_lost),
                        len({q.doc_id for q in human_lost}))
        self.store.delete_chunks(p.to_delete)
        report.chunks_deleted = len(p.to_delete)
        deleted_docs = {states[c].get("doc_id") for c in p.to_delete} - doc_ids
        report.documents_deleted = len(deleted_docs)
        emptied = self._refilter_stored(chunks, states, {c.chunk_id for c in p.to_generate}, report)
        self._augment(p.to_generate + emptied, identity, gen_key, report, states)
        report.seconds = round(time.perf_counter() - start, 3)
        return report

    def _reattach_human_queries(self, to_delete: Sequence[str], chunks: Sequence[Chunk]) -> int:
        """Real and feedback queries are people's data, not regenerable output: when their chunk goes because its
        document changed, each moves to the new chunk of the same document nearest to it (a deleted document's
        go with it). Written before the old chunks are deleted, under deterministic ids, so a crash in between
        repeats the same move on the next run instead of losing or duplicating anything."""
        human = [q for q in self.store.queries_of(to_delete) if q.kind not in GENERATED_KINDS]
        by_doc: dict[str, list[str]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(c.chunk_id)
        human = [q for q in human if q.doc_id in by_doc]
        if not human:
            return 0
        qvecs = self.store.embeddings("queries", [q.query_id for q in human])
        moved, vecs = [], []
        for doc_id in {q.doc_id for q in human}:
            ids = by_doc[doc_id]
            cvecs = self.store.embeddings("chunks", ids)
            mat = np.stack([cvecs[i] for i in ids])
            for q in (q for q in human if q.doc_id == doc_id and q.query_id in qvecs):
                target = ids[int(np.argmax(mat @ qvecs[q.query_id]))]
                moved.append(replace(q, query_id=query_id(target, q.kind, q.text), parent_id=target,
                                     provenance={**q.provenance, "reattached_from": q.parent_id}))
                vecs.append(qvecs[q.query_id])
        if moved:
            self.store.upsert_queries(moved, np.stack(vecs))
        return len(moved)

    def _augment(self, chunks: list[Chunk], identity: dict, gen_key: str, report: IndexReport,
                 states: dict[str, dict]) -> None:
        chunks = self._hold_back_given_up(chunks, identity, states, report)
        held = len(report.generation_gave_up)
        bar = self.progress(len(chunks), "generating") if self.progress and chunks else None
        try:
            for i in range(0, len(chunks), self.batch_size):
                batch = chunks[i:i + self.batch_size]
                results = self._generate(batch, identity, report)
                gave_up = self._count_soft_failures(batch, results, report)
                if gave_up:  # recorded, never a hit: another home sharing the cache asks again too
                    self.cache.put_many(identity, [
                        (c, replace(r, error="", notes=[*r.notes, f"gave_up: {r.error}"]))
                        for c, r in zip(batch, results) if c.chunk_id in gave_up])
                done = [c for c, r in zip(batch, results) if not r.error]
                self._store_queries(done, results, identity, report)
                self._mark_done(done, gen_key, states)
                report.chunks_done += len(done)
                if bar is not None:
                    bar.update(len(batch))
                    if hasattr(bar, "set_postfix_str"):
                        bar.set_postfix_str(_progress_note(report, bar))
        finally:
            if bar is not None:
                bar.close()
        if len(report.generation_gave_up) > held:  # once per run, counting every batch
            log.warning("%d chunks still had no usable query after %d tries; kept without generated queries, "
                        "asked again on a later run", len(report.generation_gave_up) - held, MAX_SOFT_FAILURES)

    def _hold_back_given_up(self, chunks: list[Chunk], identity: dict, states: dict[str, dict],
                            report: IndexReport) -> list[Chunk]:
        """Chunks given up on in an earlier run (here, or in a home sharing the cache) are asked again, never
        taken as done: on the next run, then after 1, 3, 7 runs (MAX_RETRY_WAIT at most), so that a chunk the
        model always refuses costs a request now and then, not one every run. A replay cannot ask: it holds
        them back. The chunks held back are reported as given up: the run is incomplete."""
        earlier = [c for c in chunks if soft_failures(states.get(c.chunk_id, {})) >= MAX_SOFT_FAILURES
                   or self.cache.gave_up(identity, c)]
        if not earlier:
            return chunks
        asks = getattr(self.generator, "asks_model", True)
        waits = {c.chunk_id: _count(states.get(c.chunk_id, {}), "retry_wait") if asks else 1 for c in earlier}
        held = {cid: w for cid, w in waits.items() if w > 0}
        for w in set(held.values()) if asks else ():
            self.store.update_chunk_metadata([cid for cid, x in held.items() if x == w], {"retry_wait": w - 1})
        report.generation_gave_up += [{"chunk_id": cid, "error": "gave up earlier; " + _when(w, asks)}
                                      for cid, w in sorted(held.items())]
        log.warning("%d chunks gave up earlier, retrying %d now (%d wait for a later run)", len(earlier),
                    len(earlier) - len(held), len(held))
        return [c for c in chunks if c.chunk_id not in held]

    def _count_soft_failures(self, batch: list[Chunk], results: list[GenerationResult],
                             report: IndexReport) -> set[str]:
        """A model that keeps answering a chunk with nothing usable (a refusal, garbage) is asked again on the
        next runs; after MAX_SOFT_FAILURES tries in all the chunk is given up: reported apart from the errors,
        and asked again after a wait (_hold_back_given_up). Hard failures (an endpoint down) are always
        retried."""
        soft = [c.chunk_id for c, r in zip(batch, results) if r.error.startswith("soft failure")]
        if not soft:
            return set()
        seen = self.store.get_chunks(soft)
        tries = {cid: soft_failures(seen.get(cid, {}).get("metadata") or {}) + 1 for cid in soft}
        for n in set(tries.values()):
            wait = {"retry_wait": _retry_wait(n)} if n >= MAX_SOFT_FAILURES else {}
            self.store.update_chunk_metadata([c for c, t in tries.items() if t == n], {"soft_failures": n, **wait})
        gave_up = {cid for cid, n in tries.items() if n >= MAX_SOFT_FAILURES}
        if gave_up:
            errors = {e["chunk_id"]: e["error"] for e in report.generation_errors}
            report.generation_errors = [e for e in report.generation_errors if e["chunk_id"] not in gave_up]
            report.generation_gave_up += [{"chunk_id": c, "error": errors.get(c, "")} for c in sorted(gave_up)]
        return gave_up

    def _mark_done(self, done: list[Chunk], gen_key: str, states: dict[str, dict]) -> None:
        """Done: the generator's key, the text filters its queries passed, and no soft failure on record."""
        stamp = {"filters_version": FILTERS_VERSION} if self.filters.off_topic else {}
        self.store.update_chunk_metadata([c.chunk_id for c in done], {"gen_key": gen_key, **stamp})
        healed = [c.chunk_id for c in done if soft_failures(states.get(c.chunk_id, {}))]
        self.store.update_chunk_metadata(healed, {"soft_failures": 0, "retry_wait": 0})

    def _refilter_stored(self, chunks: Sequence[Chunk], states: dict[str, dict], pending: set[str],
                         report: IndexReport) -> list[Chunk]:
        """Generated queries stored before the off-topic filter (prose garbage from an endpoint, kept by an
        older version) are judged once; a chunk left with none of its generated queries is asked again (its
        cached answer is judged too, see _generate). The chunks judged are stamped, so later runs skip this."""
        if not self.filters.off_topic:
            return []
        todo = {c.chunk_id: c for c in chunks
                if c.chunk_id in states and states[c.chunk_id].get("filters_version") != FILTERS_VERSION}
        if not todo:
            return []
        stored = self.store.queries_of(list(todo), kinds=GENERATED_KINDS)
        judged: dict[str, list] = {}
        for q in stored:
            if not exempt(q):
                judged.setdefault(q.parent_id, []).append(q)
        gone = {q.query_id for parent, qs in judged.items()
                for q, far in zip(qs, off_topic([q.text for q in qs], todo[parent], self.embedder)) if far}
        emptied = {q.parent_id for q in stored if q.query_id in gone} - {
            q.parent_id for q in stored if q.query_id not in gone}
        if gone:
            self.store.delete_queries(sorted(gone))
            report.drop("off_topic", len(gone))
            log.warning("removed %d stored queries that share no word with their chunk and are far from it; %d "
                        "chunks left without "
                        "generated queries are asked again", len(gone), len(emptied))
        self.store.update_chunk_metadata(sorted(emptied), {"gen_key": ""})  # asked again even after a crash
        self.store.update_chunk_metadata(sorted(set(todo) - emptied), {"filters_version": FILTERS_VERSION})
        return [todo[cid] for cid in sorted(emptied) if cid not in pending]

    def _generate(self, batch: list[Chunk], identity: dict, report: IndexReport) -> list[GenerationResult]:
        results: dict[str, GenerationResult] = {}
        missing = []
        asks = getattr(self.generator, "asks_model", True)
        for c in batch:
            hit = self.cache.get(identity, c)
            if hit is not None and (not asks or not self._judge(c, hit).error):
                results[c.chunk_id] = hit
                report.cache_hits += 1
            else:  # not cached, or cached garbage (an older version kept it): asked again
                missing.append(c)
        if missing:
            t0 = time.perf_counter()
            fresh = [self._judge(c, r) for c, r in zip(missing, self.generator.generate_batch(missing))]
            report.generation_seconds += time.perf_counter() - t0
            self.cache.put_many(identity, list(zip(missing, fresh)))
            for c, r in zip(missing, fresh):
                results[c.chunk_id] = r
                report.chunks_generated += 1
                report.prompt_tokens += r.prompt_tokens
                report.completion_tokens += r.completion_tokens
                if r.error:
                    report.generation_errors.append({"chunk_id": c.chunk_id, "error": r.error})
        return [results[c.chunk_id] for c in batch]

    def _judge(self, chunk: Chunk, res: GenerationResult) -> GenerationResult:
        """An answer all of whose queries are off topic (filters.off_topic: prose garbage, an answer about another
        passage) is a soft failure, as the quality gate makes an empty one: not cached, not stored,
        asked again. One off-topic query among good ones is only filtered (filters.py)."""
        if res.error or not res.queries or not self.filters.off_topic:
            return res
        if not all(off_topic([text for text, _ in res.queries], chunk, self.embedder)):
            return res
        n = len(res.queries)
        return replace(res, queries=[], notes=[*res.notes, "gate_dropped_off_topic"],
                       error=f"soft failure: no usable query (dropped: off_topic x{n})")

    def _store_queries(self, chunks: list[Chunk], results: list[GenerationResult], identity: dict,
                       report: IndexReport) -> None:
        by_id = {r.chunk_id: r for r in results}
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        new: list[SyntheticQuery] = []
        for chunk in chunks:
            res = by_id[chunk.chunk_id]
            for note in res.notes:
                if note in ("empty", "refusal", "unparseable"):
                    report.drop(f"model_{note}")
                elif note.startswith("gate_dropped_"):  # lines the quality gate refused (garbage, leaks, PII)
                    report.drop(note.removeprefix("gate_dropped_"))
            report.queries_generated += len(res.queries)
            candidates = [SyntheticQuery(query_id=query_id(chunk.chunk_id, kind, text), text=text, kind=kind,
                                         parent_id=chunk.chunk_id, doc_id=chunk.doc_id,
                                         provenance=_provenance(identity, chunk, now))
                          for text, kind in res.queries]
            if self.review is not None:
                candidates = self.review.apply(candidates, report)
            new += candidates
        kept, vecs, dropped = filter_queries(new, {c.chunk_id: c for c in chunks}, self.filters, self.embedder,
                                             self.store)
        for reason, n in dropped.items():
            report.drop(reason, n)
        report.queries_kept += len(kept)
        # Replace the generated queries of these chunks; real and feedback queries stay.
        old = self.store.queries_of([c.chunk_id for c in chunks], kinds=GENERATED_KINDS)
        keep_ids = {q.query_id for q in kept}
        self.store.delete_queries([q.query_id for q in old if q.query_id not in keep_ids])
        if kept:
            self.store.upsert_queries(kept, vecs)


def soft_failures(meta: dict) -> int:
    """How many runs in a row the model gave nothing usable for this chunk (its stored metadata)."""
    return _count(meta, "soft_failures")


def _count(meta: dict, key: str) -> int:
    value = meta.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _retry_wait(tries: int) -> int:
    """Runs to skip after a give-up at `tries` soft failures: 0 (the next run asks), 1, 3, 7, then MAX_RETRY_WAIT."""
    return min((1 << min(tries - MAX_SOFT_FAILURES, 8)) - 1, MAX_RETRY_WAIT)


def _when(wait: int, asks: bool) -> str:
    if not asks:
        return "the replayed cache records a give-up"
    return "asked again on the next run" if wait == 1 else f"asked again in {wait} runs"


def _progress_note(report: IndexReport, bar) -> str:
    """Chunks per minute and what the filters did so far, beside the bar's own count and ETA."""
    elapsed = bar.format_dict.get("elapsed", 0) if hasattr(bar, "format_dict") else 0
    rate = f"{60 * bar.n / elapsed:.1f} chunks/min, " if elapsed else ""
    return f"{rate}queries kept {report.queries_kept}, dropped {sum(report.queries_dropped.values())}"


def _provenance(identity: dict, chunk: Chunk, now: str) -> dict:
    persona = persona_for(chunk, identity.get("personas", ()))
    return Provenance.generated(identity, generation_hash(chunk), persona or "", created_at=now).to_dict()
