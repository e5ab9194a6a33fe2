"""Training data for a reranker, from the index itself: each stored query (synthetic, real or feedback) with its
parent chunk as the positive, and hard negatives mined by the index's own legs.

Negatives are the chunks the index ranks highest for the query that belong to another document: a chunk of the
parent's own document may well answer the query too (a neighbouring section), so it is never a negative. The
optional round-trip filter (Promptagator's consistency check) keeps a query only when the chunk legs alone, without
the query's own vector and words, already rank its parent among the top `round_trip`: a query its chunk does not
answer teaches the model noise.
"""
from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_augment.fusion import fuse
from rag_augment.profiles import load_profile

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

log = logging.getLogger(__name__)
CHUNK_LEGS = ("chunk_dense", "chunk_lexical")


@dataclass(frozen=True)
class TrainingQuery:
    text: str
    parent_id: str
    kind: str = "question"
    source: str = ""       # who wrote it: the generator (and model) from its provenance, "real", "pseudo" ...


@dataclass(frozen=True)
class TrainingGroup:
    """One query, its parent chunk's text and the texts of its mined negatives (the positive always first)."""
    query: str
    positive: str
    negatives: tuple[str, ...]
    parent_id: str = ""
    negative_ids: tuple[str, ...] = ()
    source: str = ""


@dataclass
class MiningReport:
    queries: int = 0
    kept: int = 0
    dropped_round_trip: int = 0
    dropped_no_negative: int = 0
    dropped_missing_parent: int = 0
    negatives: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _source(provenance: dict[str, Any], kind: str) -> str:
    if kind in ("real", "feedback"):
        return kind
    name = str(provenance.get("generator") or "unknown")
    model = str(provenance.get("model") or "")
    return f"{name}:{Path(model).name}" if model and model != name else name


def index_queries(index: AugmentIndex, kinds: Sequence[str] | None = None) -> list[TrainingQuery]:
    """Every stored query vector's text with its parent (optionally only some kinds), in a stable order."""
    out = [TrainingQuery(q.text, q.parent_id, q.kind, _source(q.provenance, q.kind))
           for q, _ in index.store.iter_queries() if q.text.strip() and (not kinds or q.kind in kinds)]
    return sorted(out, key=lambda q: (q.parent_id, q.kind, q.text))


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def pseudo_queries(index: AugmentIndex) -> list[TrainingQuery]:
    """Queries without any generator: each chunk's title, or else its first sentence (the baseline that shows
    what the generated queries add over the chunk's own words)."""
    out = []
    for ids, docs, metas in index.store.iter_all("chunks"):
        for cid, text, meta in zip(ids, docs, metas):
            title = str((meta or {}).get("title") or "").strip()
            first = _SENTENCE.split((text or "").strip(), maxsplit=1)[0][:300]
            q = title if len(title.split()) >= 3 else first
            if q:
                out.append(TrainingQuery(q, cid, "pseudo", "pseudo:title" if q == title else "pseudo:first-sentence"))
    return sorted(out, key=lambda q: q.parent_id)


def mine_groups(index: AugmentIndex, queries: Sequence[TrainingQuery], negatives: int = 3, depth: int = 20,
                round_trip: int = 0, seed: int = 0, profile=None, progress: Callable | None = None
                ) -> tuple[list[TrainingGroup], MiningReport]:
    """A TrainingGroup per query: the parent's text, and `negatives` chunks drawn (seeded) from the `depth` best
    chunks of other documents under the index's fusion `profile` (default: the shipped default profile)."""
    prof = profile or load_profile(None)
    chunk_only = replace(prof, weights={leg: (w if leg in CHUNK_LEGS else 0.0) for leg, w in prof.weights.items()},
                         dense_pair="separate")
    rng = random.Random(seed)
    states = index.store.chunk_states()
    doc_of = {cid: m.get("doc_id", cid) for cid, m in states.items()}
    texts: dict[str, str] = {}
    report = MiningReport(queries=len(queries))
    retriever = index.retriever
    bar = progress(len(queries), "mining negatives") if progress else None
    vectors = _stored_vectors(index, queries)
    groups: list[TrainingGroup] = []
    for q in queries:
        if bar is not None:
            bar.update(1)
        if q.parent_id not in doc_of:
            report.dropped_missing_parent += 1
            continue
        res = retriever.legs_for(q.text, embedding=vectors.get(q.text), profile=prof)
        if round_trip > 0:
            top, _ = fuse({k: v for k, v in res.legs.items() if k in CHUNK_LEGS}, chunk_only, round_trip)
            if q.parent_id not in {p for p, _ in top}:
                report.dropped_round_trip += 1
                continue
        ranked, _ = fuse(res.legs, prof, depth + 50)
        parent_doc = doc_of[q.parent_id]
        pool = [p for p, _ in ranked if p in doc_of and doc_of[p] != parent_doc][:depth]
        if not pool:
            report.dropped_no_negative += 1
            continue
        picked = tuple(rng.sample(pool, min(negatives, len(pool))))
        missing = [p for p in (q.parent_id, *picked) if p not in texts]
        if missing:
            texts.update({cid: got["text"] or "" for cid, got in index.store.get_chunks(missing).items()})
        groups.append(TrainingGroup(q.text, texts.get(q.parent_id, ""), tuple(texts.get(p, "") for p in picked),
                                    q.parent_id, picked, q.source))
        report.kept += 1
        report.negatives += len(picked)
        report.sources[q.source] = report.sources.get(q.source, 0) + 1
        report.kinds[q.kind] = report.kinds.get(q.kind, 0) + 1
    if bar is not None:
        bar.close()
    return groups, report


def _stored_vectors(index: AugmentIndex, queries: Sequence[TrainingQuery]):
    """The query vectors already in Chroma, by text (saves embedding every query again); empty for pseudo queries."""
    wanted = {q.text for q in queries if q.kind != "pseudo"}
    if not wanted:
        return {}
    return {q.text: vec for q, vec in index.store.iter_queries(with_vectors=True) if q.text in wanted}


def save_groups(groups: Iterable[TrainingGroup], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for g in groups:
            f.write(json.dumps(asdict(g), ensure_ascii=False) + "\n")
    tmp.replace(path)


def load_groups(path: Path) -> list[TrainingGroup]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append(TrainingGroup(d["query"], d["positive"], tuple(d["negatives"]), d.get("parent_id", ""),
                                     tuple(d.get("negative_ids", ())), d.get("source", "")))
    return out
