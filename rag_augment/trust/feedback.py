"""The feedback loop: failed queries recorded durably, then turned into targeted query vectors, round by round.

A failed query (thumbs down, flagged wrong, or rephrased within a session) is stored in SQLite in the index home.
`apply_feedback` picks the chunk that should have answered each open one (given; the most similar chunk of a given
document; the top hit of the user's successful rephrasing; or an LLM judge's choice among the top candidates --
the last two are guesses and are marked needs_review), writes targeted paraphrases, attaches the failed query and
its paraphrases to that chunk as kind "feedback", and re-runs the failed queries to report what the round fixed.
A query already answered (its target within k before the round) gets no paraphrases, and a paraphrase the chunk
already holds is dropped as a near-duplicate: the same complaint sent twice costs no LLM call and adds no vector.

Leakage: feedback texts that belong to an eval test split can be passed as `holdout`; they are never attached.
The paraphrase prompt sees only the failed query and its target chunk, never other users' queries.
"""
from __future__ import annotations

import builtins
import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment.errors import ConfigError, InputError, StoreError
from rag_augment.filters import FilterConfig, filter_queries, pii_found
from rag_augment.generators import prompts
from rag_augment.generators.base import SamplingParams
from rag_augment.generators.prompts import JUDGE_SYSTEM, judge_messages  # noqa: F401  (re-exported)
from rag_augment.generators.quality import line_reason
from rag_augment.hashing import norm_text, sha1_hex
from rag_augment.indexer import query_id
from rag_augment.trust.provenance import Provenance
from rag_augment.trust.real_queries import ChunkPicker, now_iso, stored_chunk
from rag_augment.types import FEEDBACK, Chunk, SyntheticQuery

VERDICTS = ("thumbs_down", "flagged_wrong", "rephrased")
STATUSES = ("open", "fixed", "failing", "skipped")
PROMPT_VERSION = "feedback-v1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  collection TEXT NOT NULL,
  query TEXT NOT NULL CHECK (length(trim(query)) > 0),
  verdict TEXT NOT NULL CHECK (verdict IN ('thumbs_down', 'flagged_wrong', 'rephrased')),
  chunk_id TEXT, doc_id TEXT, rephrasing TEXT, session_id TEXT,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fixed', 'failing', 'skipped')),
  round_id INTEGER, target_chunk TEXT, target_how TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS feedback_status ON feedback (collection, status);
CREATE TABLE IF NOT EXISTS rounds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  collection TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
  generator TEXT, model TEXT, handled INTEGER, fixed INTEGER, still_failing INTEGER, summary TEXT);
"""
_COLUMNS = ("id", "collection", "query", "verdict", "chunk_id", "doc_id", "rephrasing", "session_id", "created_at",
            "status", "round_id", "target_chunk", "target_how", "note")


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    collection: str
    query: str
    verdict: str
    chunk_id: str | None
    doc_id: str | None
    rephrasing: str | None
    session_id: str | None
    created_at: str
    status: str
    round_id: int | None
    target_chunk: str | None
    target_how: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in _COLUMNS}


# ---- the durable store -----------------------------------------------------------------------------------
class FeedbackStore:
    """SQLite in WAL mode with synchronous=FULL: a committed record survives kill -9 and power loss, and a
    record being written when the process dies is either wholly there or not at all."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"feedback store {self.path}: {exc}") from exc

    @classmethod
    def for_index(cls, index) -> FeedbackStore:
        return cls(index.files.feedback)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, rows: Sequence[Sequence]) -> list[int]:
        """One transaction for all rows: all of them are stored, or none."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            ids = [int(self._db.execute(sql, row).lastrowid or 0) for row in rows]
            self._db.execute("COMMIT")
            return ids
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"feedback store {self.path}: {exc}") from exc

    def add(self, query: str, verdict: str, chunk_id: str | None = None, doc_id: str | None = None,
            rephrasing: str | None = None, session_id: str | None = None, collection: str = "rag_augment",
            created_at: str | None = None) -> int:
        return self.add_many([{"query": query, "verdict": verdict, "chunk_id": chunk_id, "doc_id": doc_id,
                               "rephrasing": rephrasing, "session_id": session_id, "created_at": created_at}],
                             collection)[0]

    def add_many(self, records: Sequence[dict], collection: str = "rag_augment") -> list[int]:
        rows = []
        for i, rec in enumerate(records, 1):
            where = rec.get("_where") or f"feedback record {i}"
            query = str(rec.get("query") or "").strip()
            if not query:
                raise InputError(f"{where}: the failed query text is empty")
            if rec.get("verdict") not in VERDICTS:
                raise InputError(f"{where}: verdict {rec.get('verdict')!r} is not one of {', '.join(VERDICTS)}")
            rows.append((collection, query, rec["verdict"], rec.get("chunk_id") or None, rec.get("doc_id") or None,
                         (rec.get("rephrasing") or "").strip() or None, rec.get("session_id") or None,
                         rec.get("created_at") or now_iso()))
        return self._write("INSERT INTO feedback (collection, query, verdict, chunk_id, doc_id, rephrasing, "
                           "session_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def list(self, collection: str | None = None, status: str | Sequence[str] | None = None) -> list[FeedbackRecord]:
        where, args = [], []
        if collection:
            where.append("collection = ?")
            args.append(collection)
        if status:
            wanted = [status] if isinstance(status, str) else list(status)
            bad = set(wanted) - set(STATUSES)
            if bad:
                raise InputError(f"feedback status {sorted(bad)} is not one of {', '.join(STATUSES)}")
            where.append(f"status IN ({', '.join('?' * len(wanted))})")
            args += wanted
        sql = f"SELECT {', '.join(_COLUMNS)} FROM feedback" + (" WHERE " + " AND ".join(where) if where else "")
        return [FeedbackRecord(*row) for row in self._db.execute(sql + " ORDER BY id", args)]

    def start_round(self, collection: str, generator: str, model: str) -> int:
        return self._write("INSERT INTO rounds (collection, started_at, generator, model) VALUES (?, ?, ?, ?)",
                           [(collection, now_iso(), generator, model)])[0]

    def finish_round(self, round_id: int, outcomes: Sequence[dict], summary: dict) -> None:
        """Record each record's outcome and the round's summary in one transaction."""
        rows = [(o["status"], o.get("round_id"), o.get("target_chunk"), o.get("target_how"), o.get("note"), o["id"])
                for o in outcomes]
        sql_round = "UPDATE rounds SET finished_at = ?, handled = ?, fixed = ?, still_failing = ?, summary = ? " \
                    "WHERE id = ?"
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE feedback SET status = ?, round_id = ?, target_chunk = ?, target_how = ?, "
                                 "note = ? WHERE id = ?", rows)
            self._db.execute(sql_round, (now_iso(), summary["handled"], summary["fixed"], summary["still_failing"],
                                         json.dumps(summary, ensure_ascii=False), round_id))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"feedback store {self.path}: {exc}") from exc

    def rounds(self, collection: str | None = None, with_summary: bool = False) -> builtins.list[dict]:
        """Past rounds, oldest first; with_summary adds each finished round's full report (items with their
        rank before and after) as "summary"."""
        sql = "SELECT id, collection, started_at, finished_at, generator, model, handled, fixed, still_failing, " \
              "summary FROM rounds" + (" WHERE collection = ?" if collection else "") + " ORDER BY id"
        keys = ("round", "collection", "started_at", "finished_at", "generator", "model", "handled", "fixed",
                "still_failing")
        out = []
        for row in self._db.execute(sql, [collection] if collection else []):
            rec = dict(zip(keys, row[:-1]))
            if with_summary:
                rec["summary"] = json.loads(row[-1]) if row[-1] else None
            out.append(rec)
        return out


# ---- rewriters: who writes paraphrases and judges targets --------------------------------------------------
class _NoRewriter:
    name, model = "none", ""

    def paraphrases(self, items: Sequence[tuple[str, str]], n: int, round_id: int) -> list[list[str]]:
        return [[] for _ in items]

    def judge(self, query: str, passages: Sequence[str]) -> int | None:
        return None  # cannot judge: records without a target wait for a round with an LLM


class _RulesRewriter(_NoRewriter):
    """Deterministic templated rewordings from the rules generator; no judge."""
    name, model = "rules", "rules"

    def paraphrases(self, items: Sequence[tuple[str, str]], n: int, round_id: int) -> list[list[str]]:
        from rag_augment.generators.rules import generate_queries
        out = []
        for query, _ in items:
            seed = query if query.endswith("?") or not _QUESTION_START.match(query) else query + "?"
            chunk = Chunk(chunk_id="feedback", doc_id="", text="", content_hash="", seeds=(seed,))
            out.append([t for t, _ in generate_queries(chunk, n_questions=0, n_paraphrases=n, n_keywords=0)])
        return out


_QUESTION_START = re.compile(r"^(?:what|how|when|where|who|why|which|can|could|may|do|does|is|are|should)\b", re.I)
def parse_judgement(text: str, n: int) -> int | None:
    """1-based passage number, or None for 0, out of range or no number."""
    m = re.search(r"\d+", text or "")
    choice = int(m.group()) if m else 0
    return choice if 1 <= choice <= n else None


COPY_WORDS = 6  # a line of this many words or more found verbatim in the passage is copied, not reworded


def _copied(line: str, context: str) -> str | None:
    """A small model sometimes answers with a stretch of the passage it was shown instead of a rewording of the
    query; such a line is the passage's wording again, which the chunk's own vector already covers."""
    words = norm_text(line).split()
    return "copied_passage" if len(words) >= COPY_WORDS and " ".join(words) in norm_text(context) else None


class _LLMRewriter(_NoRewriter):
    """Paraphrases through prompts.paraphrase_messages (one worked example) and a judge prompt."""

    def __init__(self, backend, params: SamplingParams | None = None, prompt=None, batch_size: int = 8):
        self.backend = backend
        self.params = params or SamplingParams()
        self.personas = tuple(getattr(prompt, "personas", ()) or ())
        self.examples = tuple(getattr(prompt, "examples", ()) or ())
        self.batch_size = max(1, batch_size)
        self.gate_dropped: dict[str, int] = {}  # paraphrase lines the quality gate refused, by reason
        self.name = "feedback-llm"
        self.model = getattr(backend, "model_id", "") or type(backend).__name__

    def paraphrases(self, items: Sequence[tuple[str, str]], n: int, round_id: int) -> list[list[str]]:
        from rag_augment.generators.parsing import parse_queries
        from rag_augment.types import PARAPHRASE
        if not items:
            return []
        convs = [prompts.paraphrase_messages(q, n, context=ctx, persona=self._persona(q), examples=self.examples)
                 for q, ctx in items]
        leaks = getattr(self.backend, "leaks_secret", None)
        params = replace(self.params, seed=self.params.seed + round_id)  # new wordings each round
        comps = [c for i in range(0, len(convs), self.batch_size)
                 for c in self.backend.complete_batch(convs[i:i + self.batch_size], params)]
        out = []
        for (query, context), comp in zip(items, comps):
            parsed = [] if comp.error else parse_queries(comp.text, default_kind=PARAPHRASE,
                                                         truncated=comp.finish_reason == "length").queries
            # the same quality gate as indexing: no garbage, leaked secrets or invented URLs/e-mails
            source = query + "\n" + context
            kept = []
            for t, _ in parsed:
                reason = line_reason(t, source, leaks) or _copied(t, context)
                if reason:
                    self.gate_dropped[reason] = self.gate_dropped.get(reason, 0) + 1
                elif norm_text(t) != norm_text(query):
                    kept.append(t)
            out.append(kept[:n])
        return out

    def _persona(self, query: str) -> str:
        """One of the given personas per failed query, stable across runs (as persona_for is per chunk)."""
        if not self.personas:
            return ""
        return self.personas[int(sha1_hex(norm_text(query), 8), 16) % len(self.personas)]

    def judge(self, query: str, passages: Sequence[str]) -> int | None:
        params = replace(self.params, temperature=0.0, max_tokens=8)
        comp = self.backend.complete_batch([judge_messages(query, passages)], params)[0]
        return None if comp.error else parse_judgement(comp.text, len(passages))


def rewriter_for(generator, batch_size: int = 8) -> _NoRewriter:
    """None (store the failed query only), the rules generator, an LLMQueryGenerator or a bare chat back end."""
    if generator is None:
        return _NoRewriter()
    identity = generator.identity() if hasattr(generator, "identity") else {}
    if identity.get("generator") == "rules":
        return _RulesRewriter()
    if hasattr(generator, "backend") and hasattr(generator.backend, "complete_batch"):
        return _LLMRewriter(generator.backend, getattr(generator, "params", None), getattr(generator, "prompt", None),
                            batch_size)
    if hasattr(generator, "complete_batch"):
        return _LLMRewriter(generator, batch_size=batch_size)
    raise ConfigError(f"feedback: cannot write paraphrases with {type(generator).__name__}; give the rules "
                      "generator, an LLM generator or a chat back end")


# ---- one round ---------------------------------------------------------------------------------------------
@dataclass
class _Item:
    rec: FeedbackRecord
    target: str | None = None
    how: str = ""              # given_chunk | doc_best | rephrasing | judge, or why there is no target
    needs_review: bool = False
    before: int | None = None  # rank of the target among the first `depth` hits, before and after the round
    after: int | None = None
    added: int = 0


def apply_feedback(index, generator=None, *, store: FeedbackStore | None = None, k: int = 5,
                   n_paraphrases: int = 3, judge_candidates: int = 10, holdout: Iterable[str] = (),
                   retry_failing: bool = False, filters: FilterConfig | None = None, depth: int = 20,
                   batch_size: int = 8) -> dict:
    """Run one feedback round over the open failed queries of this index's collection and report it.

    `generator`: None (attach the failed queries only), the rules generator (templated paraphrases, no judge),
    an LLMQueryGenerator or a chat back end (LLM paraphrases and judge). With retry_failing, queries a past
    round did not fix are tried again. A query is fixed when its target ranks within the top k."""
    if k < 1 or n_paraphrases < 0 or judge_candidates < 1:
        raise ConfigError("feedback: k and judge_candidates must be >= 1, n_paraphrases >= 0")
    own = store is None
    fb = store or FeedbackStore.for_index(index)
    try:
        return _run_round(index, fb, rewriter_for(generator, batch_size), k, n_paraphrases, judge_candidates,
                          {norm_text(t) for t in holdout}, retry_failing, filters or FilterConfig(),
                          max(depth, k))
    finally:
        if own:
            fb.close()


def _run_round(index, fb: FeedbackStore, rewriter, k, n_paraphrases, judge_candidates, held, retry_failing,
               filters, depth) -> dict:
    collection = index.store.name
    records = fb.list(collection, ("open", "failing") if retry_failing else "open")
    round_id = fb.start_round(collection, rewriter.name, rewriter.model)
    items, outcomes, skipped = _triage(index, records, rewriter, held, judge_candidates, round_id)
    for it in items:
        it.before = _rank(index, it, depth)
    # A query whose target already ranks within k (the same complaint sent twice, or fixed by an earlier round
    # for another query) gets no paraphrases: generating again would only pile up near-copies. Its own wording
    # is still attached (a real user's words, no LLM call) unless the chunk holds it already.
    answered = {it.rec.id for it in items if it.before is not None and it.before <= k}
    added, dropped = _attach_round(index, items, rewriter, n_paraphrases, round_id, filters, held, answered)
    for it in items:
        it.after = it.before if it.rec.id in answered else _rank(index, it, depth)
        fixed = it.after is not None and it.after <= k
        note = "already_answered" if it.rec.id in answered else ("needs_review" if it.needs_review else None)
        outcomes.append({"id": it.rec.id, "status": "fixed" if fixed else "failing", "round_id": round_id,
                         "target_chunk": it.target, "target_how": it.how, "note": note})
    fixed_n = sum(1 for it in items if it.after is not None and it.after <= k)
    summary = {"round": round_id, "collection": collection, "generator": rewriter.name, "model": rewriter.model,
               "k": k, "handled": len(items), "fixed": fixed_n, "still_failing": len(items) - fixed_n,
               "already_answered": len(answered), "skipped": skipped, "queries_added": added,
               "dropped": dropped, "items": [_item_report(it, k) for it in items]}
    fb.finish_round(round_id, outcomes, summary)
    return summary


def _triage(index, records, rewriter, held: set[str], judge_candidates: int, round_id: int):
    """Split the records into those with a target (items) and those skipped, with the outcome of each skip."""
    picker = ChunkPicker(index)
    items: list[_Item] = []
    outcomes: list[dict] = []
    skipped: dict[str, int] = {}
    for rec in records:
        item = _Item(rec)
        reason = "held_out" if norm_text(rec.query) in held else ("pii" if pii_found(rec.query) else "")
        if not reason:
            _resolve_target(index, item, rewriter, picker, judge_candidates)
            reason = "" if item.target else item.how
        if not reason:
            items.append(item)
            continue
        skipped[reason] = skipped.get(reason, 0) + 1
        # No target yet (e.g. the rules generator cannot judge): the record stays for a later round.
        waiting = reason in ("no_target", "judge_declined")
        outcomes.append({"id": rec.id, "status": rec.status if waiting else "skipped", "note": reason,
                         "round_id": rec.round_id if waiting else round_id})
    return items, outcomes, skipped


def _item_report(it: _Item, k: int) -> dict:
    return {"id": it.rec.id, "query": it.rec.query, "target_chunk": it.target, "target_how": it.how,
            "needs_review": it.needs_review, "rank_before": it.before, "rank_after": it.after,
            "fixed": it.after is not None and it.after <= k, "queries_added": it.added}


def _resolve_target(index, item: _Item, rewriter, picker: ChunkPicker, judge_candidates: int) -> None:
    rec = item.rec
    if rec.chunk_id:
        ok = rec.chunk_id in index.store.get_chunks([rec.chunk_id])
        item.target, item.how = (rec.chunk_id, "given_chunk") if ok else (None, "unknown_chunk")
    elif rec.doc_id:
        best = picker.best(rec.doc_id, index.embedder.embed([rec.query])[0])
        item.target, item.how = (best, "doc_best") if best else (None, "unknown_doc")
    elif rec.rephrasing:  # the user's own rewording found something: its top hit is a good guess
        hits = index.query(rec.rephrasing, k=1)
        item.target, item.how, item.needs_review = (hits[0].chunk_id, "rephrasing", True) if hits else \
            (None, "no_target", False)
    else:
        hits = index.query(rec.query, k=judge_candidates)
        if isinstance(rewriter, _LLMRewriter) and hits:
            choice = rewriter.judge(rec.query, [h.text for h in hits])
            item.target, item.how, item.needs_review = (hits[choice - 1].chunk_id, "judge", True) if choice \
                else (None, "judge_declined", False)
        else:
            item.how = "no_target"


def _rank(index, it: _Item, depth: int) -> int | None:
    by_doc = it.how == "doc_best"  # the user named a document: any of its chunks answers
    for i, hit in enumerate(index.query(it.rec.query, k=depth), 1):
        if hit.chunk_id == it.target or (by_doc and hit.doc_id == it.rec.doc_id):
            return i
    return None


def _provenance(rewriter, round_id: int, chunk: Chunk, it: _Item) -> dict:
    return Provenance.feedback(rewriter.name, rewriter.model, PROMPT_VERSION, chunk.content_hash, round_id,
                               it.rec.id, it.needs_review).to_dict()


def _attach_round(index, items: list[_Item], rewriter, n: int, round_id: int, filters: FilterConfig,
                  held: set[str], answered: set[int]) -> tuple[int, dict]:
    """Attach each failed query (unfiltered: it is a real user's wording) and the filtered paraphrases of those
    not `answered` already."""
    chunks: dict[str, Chunk] = {}
    for it in items:
        chunk = stored_chunk(index, _target(it))
        if chunk is None:  # deleted by another writer since the round started
            raise InputError(f"feedback: chunk {it.target!r} is no longer in the index")
        chunks[_target(it)] = chunk
    have = {q.query_id for q in index.store.get_queries(
        [query_id(_target(it), FEEDBACK, it.rec.query) for it in items if it.rec.id in answered])}
    items = [it for it in items if query_id(_target(it), FEEDBACK, it.rec.query) not in have]
    if not items:
        return 0, {}
    todo = [it for it in items if it.rec.id not in answered]
    wanted = rewriter.paraphrases([(it.rec.query, chunks[_target(it)].text) for it in todo], n, round_id) \
        if n and todo else [[] for _ in todo]
    paras = [[] if it.rec.id in answered else wanted.pop(0) for it in items]
    originals: list[SyntheticQuery] = []
    candidates: list[SyntheticQuery] = []
    owner: dict[str, int] = {}
    for i, (it, texts) in enumerate(zip(items, paras)):
        chunk = chunks[_target(it)]
        prov = _provenance(rewriter, round_id, chunk, it)
        originals.append(_feedback_query(chunk, it.rec.query, prov))
        extra = [it.rec.rephrasing] if it.rec.rephrasing and norm_text(it.rec.rephrasing) not in held else []
        for text in dict.fromkeys(t.strip() for t in texts + extra):
            if text and norm_text(text) != norm_text(it.rec.query):
                q = _feedback_query(chunk, text, prov)
                owner.setdefault(q.query_id, i)
                candidates.append(q)
    kept, vecs, dropped = filter_queries(candidates, chunks, filters, index.embedder)
    for reason, count in getattr(rewriter, "gate_dropped", {}).items():
        dropped[reason] = dropped.get(reason, 0) + count
    ovecs = index.embedder.embed([q.text for q in originals])
    if len(kept) and filters.dedupe_threshold > 0:
        # a paraphrase that merely repeats its failed query, or a query its chunk already holds (an earlier
        # round's paraphrase of another complaint, a generated question)
        stored = _stored_vectors(index, set(chunks))
        close = np.array([float(v @ ovecs[owner[q.query_id]]) >= filters.dedupe_threshold
                          or _max_cosine(v, stored.get(q.parent_id)) >= filters.dedupe_threshold
                          for q, v in zip(kept, vecs)])
        if close.any():
            dropped["near_duplicate"] = dropped.get("near_duplicate", 0) + int(close.sum())
            kept, vecs = [q for q, c in zip(kept, close) if not c], vecs[~close]
    allq = originals + kept
    stored = index.attach_queries(allq, np.vstack([ovecs, vecs]) if len(kept) else ovecs)
    by_record = {it.rec.id: it for it in items}
    for q in stored:
        by_record[q.provenance["feedback_id"]].added += 1
    return len(stored), dropped


def _target(it: _Item) -> str:
    """The chunk an item is attached to; only items with a target reach the attach step."""
    assert it.target is not None
    return it.target


def _stored_vectors(index, chunk_ids: set[str]) -> dict[str, np.ndarray]:
    """The query vectors each chunk already holds, as stored (rows = queries)."""
    held = index.store.queries_of(sorted(chunk_ids))
    vecs = index.store.embeddings("queries", [q.query_id for q in held])
    out: dict[str, list[np.ndarray]] = {}
    for q in held:
        if q.query_id in vecs:
            out.setdefault(q.parent_id, []).append(vecs[q.query_id])
    return {p: np.stack(v) for p, v in out.items()}


def _max_cosine(v: np.ndarray, rows: np.ndarray | None) -> float:
    return float((rows @ v).max()) if rows is not None and len(rows) else -1.0


def _feedback_query(chunk: Chunk, text: str, prov: dict) -> SyntheticQuery:
    return SyntheticQuery(query_id=query_id(chunk.chunk_id, FEEDBACK, text), text=text, kind=FEEDBACK,
                          parent_id=chunk.chunk_id, doc_id=chunk.doc_id, provenance=dict(prov))
