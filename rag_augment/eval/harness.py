"""The eval harness: index a labelled data set once (cached generations, incremental Chroma), retrieve every raw
leg once per query, score every system offline, tune fusion on the train split only, report on the eval split.

Never prints: progress goes through a callback (total, description) -> object with update(n) and close().
"""
from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment import metrics as M
from rag_augment.augment_index import AugmentIndex
from rag_augment.cache import GenerationCache
from rag_augment.chunking import ChunkingConfig, chunk_documents
from rag_augment.errors import ConfigError
from rag_augment.eval.datasets import EvalDataset, Qrels
from rag_augment.eval.memory import Searcher
from rag_augment.eval.systems import (
    AS_RETRIEVED,
    EVAL_DEPTH,
    MAX_K,
    QueryLegs,
    System,
    hybrid_profile,
    latency,
    legs_used,
    rank,
    standard_systems,
)
from rag_augment.eval.tune import TuneSet, save_tune_set, tune_profile, write_profile
from rag_augment.filters import FilterConfig
from rag_augment.fusion import LEG_NAMES, FusionProfile, fuse
from rag_augment.hashing import norm_text
from rag_augment.profiles import load_profile
from rag_augment.trust.real_queries import add_real_queries
from rag_augment.types import FEEDBACK, REAL

Progress = Callable[[int, str], Any]
BASELINE = "dense"


class LeakageError(ConfigError):
    """An evaluation query would reach a generation prompt: the harness refuses to run."""


HUMAN_KINDS = (REAL, FEEDBACK)
TRAIN_LEGS_FILE = "train_legs.json.gz"  # the train split's legs, for tuning across runs
NEAR_DUPLICATE_JACCARD = 0.5  # --real-from-train: a train query this close to an eval query is not blended in


@dataclass
class EvalSpec:
    name: str
    split: str = "test"
    train_split: str | None = None       # set to tune fusion on this split
    profile_name: str | None = None      # the tuned profile's name (<profile_dir>/<name>.json)
    profile_dir: Path | None = None      # where the tuned profile is written (default: the run folder)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    depths: dict[str, int] = field(default_factory=lambda: dict(EVAL_DEPTH))
    bootstrap: int = 5000
    seed: int = 0
    batch_size: int = 8
    profiles: tuple[str, ...] = ()       # more fusion profiles to report (shipped names or JSON files)
    real_from_train: bool = False        # after tuning, store the train queries as real queries (blending)
    label_free: bool = True              # also report the profile `rag-augment tune` chooses for this index
    latency_queries: int = 300           # eval queries timed end to end (the first ones by id); 0: none
    latency_k: int = 10                  # hits each system returns while it is timed
    command: str = ""


# ---------------------------------------------------------------- leakage

def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, Mapping):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, (list, tuple)):
        return [s for v in obj for s in _strings(v)]
    return []


def prompt_texts(generator: Any) -> list[str]:
    """Every text a generator adds to its prompts besides the chunk: few-shot examples, personas, extra
    instructions, and every string of its identity (a replayed cache records its prompt there)."""
    texts: list[str] = []
    prompt = getattr(generator, "prompt", None)
    if prompt is not None:
        texts += list(getattr(prompt, "examples", ())) + list(getattr(prompt, "personas", ()))
        texts.append(getattr(prompt, "extra_instructions", ""))
    texts += _strings(generator.identity())
    return [t for t in texts if t and t.strip()]


def check_leakage(generator: Any, chunks: Sequence, queries: Mapping[str, str],
                  documents: Mapping[str, str] | None = None) -> None:
    """Raise LeakageError when an evaluation query appears in the generator's prompt texts, or is a chunk's seed
    (seeds are paraphrased in the prompt) that does not come from the document itself. A seed that is written in
    its document (a heading a query happens to copy) is content every system sees, so it is not a leak. Compared
    case- and punctuation-insensitively; a query of 4 or more words also counts when contained in a longer text."""
    prompts = [f" {_norm(t)} " for t in prompt_texts(generator)]
    doc_text = {d: f" {_norm(t)} " for d, t in (documents or {}).items()}
    seeds = {_norm(s): c.chunk_id for c in chunks for s in c.seeds
             if f" {_norm(s)} " not in doc_text.get(c.doc_id, "")}
    leaks = []
    for qid, text in queries.items():
        key = _norm(text)
        if not key:
            continue
        if key in seeds:
            leaks.append(f"query {qid} ({text!r}) is a seed of chunk {seeds[key]}, not written in its document")
        elif any(p.strip() == key or (len(key.split()) >= 4 and f" {key} " in p) for p in prompts):
            leaks.append(f"query {qid} ({text!r}) appears in the generator's prompt")
    if leaks:
        raise LeakageError(f"{len(leaks)} evaluation queries would be seen by the generator, e.g. {leaks[0]}; "
                           "take few-shot examples and seeds from the train split only")


# ---------------------------------------------------------------- index

def build_index(ds: EvalDataset, chunks: Sequence, generator: Any, home: Path, spec: EvalSpec, embedder=None,
                cache_path: Path | None = None, progress: Progress | None = None) -> tuple[AugmentIndex, dict]:
    """Index the data set into home (reused across runs: unchanged chunks are not embedded again)."""
    index = AugmentIndex(home, embedder=embedder, cache_path=cache_path, collection="eval")
    start = time.perf_counter()
    report = index.index_documents(ds.documents, generator, spec.chunking, spec.filters, prune=True,
                                   progress=progress, batch_size=spec.batch_size)
    seconds = time.perf_counter() - start
    stats = index.stats()
    return index, {
        "documents": stats["documents"], "chunks": stats["chunks"], "query_vectors": stats["query_vectors"],
        "queries_by_kind": stats["queries_by_kind"], "mean_queries_per_chunk": stats["mean_queries_per_chunk"],
        "index_seconds_this_run": round(seconds, 2), "chunks_embedded_this_run": report.chunks_embedded,
        "generation_seconds_this_run": round(report.generation_seconds, 2),
        "chunks_generated_this_run": report.chunks_generated, "cache_hits": report.cache_hits,
        "generation_seconds_recorded": round(_recorded_generation_seconds(index.cache, generator, chunks), 2),
        "queries_generated": report.queries_generated, "queries_kept": report.queries_kept,
        "queries_dropped": report.queries_dropped, "generation_errors": len(report.generation_errors),
        "cache_file": str(index.cache.path),
    }


def _recorded_generation_seconds(cache: GenerationCache, generator: Any, chunks: Sequence) -> float:
    """What generating these chunks cost when the cache entries were made (0 for cache misses)."""
    identity = generator.identity()
    hits = (cache.get(identity, c) for c in chunks)
    return sum(h.seconds for h in hits if h is not None)


def chunk_docs(index: AugmentIndex) -> dict[str, str]:
    return {cid: meta.get("doc_id", cid) for cid, meta in index.store.chunk_states().items()}


def clear_human_queries(index: AugmentIndex) -> int:
    """Remove real and feedback query vectors that an earlier run left in this run folder's index (the indexer
    keeps human kinds across re-indexing), so that tuning and every system see only what this run asks for."""
    ids = [qid for batch, _, metas in index.store.iter_all("queries", include=("metadatas",))
           for qid, meta in zip(batch, metas) if meta.get("kind") in HUMAN_KINDS]
    if ids:
        index.remove_queries(ids)
    return len(ids)


def attach_train_queries(ds: EvalDataset, index: AugmentIndex, train_split: str, eval_texts: Iterable[str],
                         jaccard: float = NEAR_DUPLICATE_JACCARD, cosine: float | None = None) -> dict[str, Any]:
    """Blend real data the way a team with a query log would: each train query becomes a real query of the
    chunk of each of its relevant documents that is most like it. A train query that near-duplicates an eval query
    (token Jaccard >= `jaccard`, or embedding cosine >= `cosine`, default the filters' near-duplicate threshold)
    is dropped and counted: a query log rarely holds a reworded copy of tomorrow's question, and SciFact often
    writes the same finding twice (once per split), which would flatter the blend. An exact copy never gets in."""
    cosine = FilterConfig().dedupe_threshold if cosine is None else cosine
    indexed = {meta.get("doc_id") for meta in index.store.chunk_states().values()}
    train = {q: rels for q, rels in sorted(ds.split(train_split).items())
             if any(grade > 0 and doc in indexed for doc, grade in rels.items())}
    eval_texts = list(eval_texts)
    near = near_duplicates_of(index.embedder, {q: ds.queries[q] for q in train}, eval_texts, jaccard, cosine)
    records = [{"text": ds.queries[q], "doc_id": doc} for q, rels in train.items() if q not in near
               for doc, grade in sorted(rels.items()) if grade > 0 and doc in indexed]
    held = {norm_text(t) for t in eval_texts}
    docs = sorted({r["doc_id"] for r in records if norm_text(r["text"]) not in held})
    dropped = {"queries": len(near), "jaccard": jaccard, "cosine": cosine,
               "by_jaccard": sum(1 for v in near.values() if v["jaccard"] >= jaccard),
               "by_cosine_only": sum(1 for v in near.values() if v["jaccard"] < jaccard),
               "pairs": sum(1 for q in near for d, g in train[q].items() if g > 0 and d in indexed),
               "query_ids": sorted(near)}
    return {"train_split": train_split, "records": len(records), "documents": docs,
            "near_duplicates_dropped": dropped, **add_real_queries(index, records, held)}


def tokens(text: str) -> frozenset[str]:
    """The normalised token set two queries are compared on (lower-cased alphanumeric words)."""
    return frozenset(_norm(text).split())


def near_duplicates_of(embedder: Any, candidates: Mapping[str, str], others: Sequence[str],
                       jaccard: float = NEAR_DUPLICATE_JACCARD, cosine: float = 0.95) -> dict[str, dict[str, float]]:
    """candidate id -> {"jaccard", "cosine"} (its closest other text by each) for every candidate whose token
    Jaccard with some other text is >= `jaccard` or whose embedding cosine is >= `cosine`."""
    if not candidates or not others:
        return {}
    ids = list(candidates)
    other_sets = [tokens(t) for t in others]
    vecs = embedder.embed([candidates[q] for q in ids] + list(others))
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    cos = vecs[:len(ids)] @ vecs[len(ids):].T
    out: dict[str, dict[str, float]] = {}
    for i, q in enumerate(ids):
        mine = tokens(candidates[q])
        best_j = max((len(mine & o) / len(mine | o) for o in other_sets if mine | o), default=0.0)
        best_c = float(cos[i].max())
        if best_j >= jaccard or best_c >= cosine:
            out[q] = {"jaccard": round(best_j, 4), "cosine": round(best_c, 4)}
    return out


# ---------------------------------------------------------------- retrieval

def collect_legs(index: AugmentIndex, queries: Mapping[str, str], depths: Mapping[str, int],
                 products: Mapping[str, FusionProfile] | None = None,
                 memory: Mapping[str, Searcher] | None = None,
                 progress: Progress | None = None, desc: str = "retrieving") -> dict[str, QueryLegs]:
    """Every raw leg for every query, timed leg by leg (the library runs legs in sequence, so a system's latency
    is the sum of its legs). Profiles in `products` run through the product path: legs_for(profile) + fuse."""
    legs = index.retriever.legs  # the product's LegSearch (index.retriever loads the lexical index)
    out: dict[str, QueryLegs] = {}
    bar = progress(len(queries), desc) if progress else None
    for qid, text in queries.items():
        q = QueryLegs()
        emb = _timed(q.seconds, "embed", lambda t: index.embedder.embed([t])[0], text)
        for leg in LEG_NAMES:
            res = _timed(q.seconds, leg, legs.search, text, emb, legs=[leg], depths=depths)
            q.legs[leg] = res.legs.get(leg, [])
            if leg == "query_dense":
                q.child_rank = res.child_rank
        q.seconds["children"] = q.seconds["query_dense"]  # the child ranks come from that same search
        for key, prof in (products or {}).items():
            t0 = time.perf_counter()
            ranked, _ = fuse(legs.search(text, emb, prof).legs, prof, MAX_K)
            q.product[key] = ([p for p, _ in ranked], time.perf_counter() - t0)
        for key, search in (memory or {}).items():
            q.memory[key] = _timed(q.seconds, key, search, text, emb)
        out[qid] = q
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


def _timed(seconds: dict[str, float], key: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    t0 = time.perf_counter()
    value = fn(*args, **kw)
    seconds[key] = time.perf_counter() - t0
    return value


# ---------------------------------------------------------------- latency

NATURAL_DEPTH = FusionProfile().depth  # the product's own defaults
LATENCY_WARMUP = 3


def natural_profile(system: System, k: int) -> FusionProfile | None:
    """The profile a rival runs with when it is used for real, to answer k hits: one leg at depth k (the query
    vectors at their default depth, since k counts parents and a parent has several), several legs at the product's
    default depths; depths the offline table widened for Recall@100 are put back. None: not a profile system."""
    prof = system.profile
    if prof is None or system.substitute:
        return None
    legs = legs_used(prof)
    depth = {leg: (d if d < AS_RETRIEVED else NATURAL_DEPTH[leg]) for leg, d in prof.depth.items()}
    if system.kind != "product" and len(legs) == 1 and legs[0] != "query_dense":
        depth[legs[0]] = k
    return prof if depth == prof.depth else replace(prof, depth=depth)


def system_call(index: AugmentIndex, system: System, searchers: Mapping[str, Searcher],
                k: int) -> Callable[[str], Any] | None:
    """A function (query text) -> hits that does what the system does for a user, end to end: embed the query (if
    it reads vectors), search at its natural depth, fuse, read the k hits' texts. The product is AugmentIndex.query
    itself (legs searched at once); profile rivals run on the same retriever with their own profile, so they get
    the same parallel legs. None for the pool's reference systems, which have no such path."""
    if system.kind == "multivector":
        def multivector(text: str) -> Any:  # top-k child vectors, parents deduplicated in order, then their texts
            res = index.retriever.legs.search(text, legs=["query_dense"], depths={"query_dense": k})
            return index.store.get_chunks([p for p, _ in res.legs["query_dense"]])
        return multivector
    if system.kind == "memory":
        search = searchers[system.key]

        def memory(text: str) -> Any:
            emb = index.embedder.embed([text])[0] if system.dense else None
            return index.store.get_chunks(list(dict.fromkeys(search(text, emb)))[:k])
        return memory
    prof = natural_profile(system, k)
    if prof is None:
        return None
    return lambda text: index.query(text, k=k, profile=prof)


def measure_latency(index: AugmentIndex, systems: Sequence[System], queries: Mapping[str, str],
                    searchers: Mapping[str, Searcher], n: int, k: int = 10
                    ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Seconds per query of each system's own end-to-end call (system_call), for the first n queries by id. Systems
    take turns on each query, in an order that rotates, so that a load change on the shared machine falls on all
    of them alike. Returns (system key -> query id -> seconds, how it was measured)."""
    calls = {s.key: fn for s in systems if (fn := system_call(index, s, searchers, k)) is not None}
    qids = sorted(queries)[:max(0, n)]
    for qid in qids[:LATENCY_WARMUP]:  # load models, open collections, fill caches
        for fn in calls.values():
            fn(queries[qid])
    load_before = _load()
    out: dict[str, dict[str, float]] = {key: {} for key in calls}
    keys = list(calls)
    for i, qid in enumerate(qids):
        for key in keys[i % len(keys):] + keys[:i % len(keys)] if keys else []:
            t0 = time.perf_counter()
            calls[key](queries[qid])
            out[key][qid] = time.perf_counter() - t0
    return out, {"queries": len(qids), "k": k, "warmup_queries": min(LATENCY_WARMUP, len(qids)),
                 "load_avg_before": load_before, "load_avg_after": _load(),
                 "method": "end to end per call: AugmentIndex.query for rag_augment's profiles (embedding, legs at "
                           "once, fusion, hit texts); rivals on the same retriever with their own legs at their "
                           "natural depth (one leg: k; several: the product's defaults), or their own search plus "
                           "the hits' texts",
                 "not_timed": sorted(s.key for s in systems if s.key not in calls)}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


# ---------------------------------------------------------------- scoring

def score_system(system: System, legs: Mapping[str, QueryLegs], qrels: Qrels,
                 chunk_doc: Mapping[str, str]) -> tuple[dict[str, np.ndarray], list[float]]:
    rankings, costs, lat = {}, {}, []
    for qid in sorted(qrels):
        q = legs[qid]
        t0 = time.perf_counter()
        ids, c = rank(system, q)
        offline = time.perf_counter() - t0 if system.kind == "fuse" else 0.0
        rankings[qid], doc_costs = M.to_documents(ids, chunk_doc, c)
        if doc_costs is not None:
            costs[qid] = doc_costs
        lat.append(latency(system, q, offline))
    return M.score_run(rankings, qrels, costs or None), lat


def compare(per_query: Mapping[str, Mapping[str, np.ndarray]], pairs: Sequence[tuple[str, str]],
            metrics: Sequence[str] = ("nDCG@10", "R@10"), n: int = 5000, seed: int = 0) -> list[dict]:
    from rag_augment.eval.report import lifts

    return lifts(per_query, pairs, metrics, n=n, seed=seed)


def default_pairs(systems: Sequence[System]) -> list[tuple[str, str]]:
    """Every system against the dense baseline; rag_augment's profiles also against the strongest rivals."""
    keys = [s.key for s in systems]
    pairs = [(k, BASELINE) for k in keys if k != BASELINE]
    rivals = [k for k in ("hybrid", "hybrid_tuned", "bm25", "qa_extractor", "multivector", "synthetic") if k in keys]
    for s in systems:
        if s.kind == "product":
            pairs += [(s.key, r) for r in rivals]
    return pairs


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {"p50": 0.0, "p95": 0.0}
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


# ---------------------------------------------------------------- the run

def run_eval(ds: EvalDataset, generator: Any, out_dir: str | Path, spec: EvalSpec, embedder=None,
             cache_path: str | Path | None = None, systems: Sequence[System] | None = None,
             pairs: Sequence[tuple[str, str]] | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Index, (tune on train), retrieve, score. Returns the run record that report.write_run writes out."""
    out_dir = Path(out_dir)
    qrels = ds.split(spec.split)
    queries = {q: ds.queries[q] for q in sorted(qrels)}
    if spec.train_split and (spec.train_split == spec.split or set(ds.split(spec.train_split)) & set(qrels)):
        raise ConfigError(f"--train-split {spec.train_split} must differ from --split {spec.split} and share no "
                          "query with it: tuning on the eval queries leaks")
    chunks = chunk_documents(ds.documents, spec.chunking)
    check_leakage(generator, chunks, queries, {d.doc_id: f"{d.title}\n{d.text}" for d in ds.documents})
    index, info = build_index(ds, chunks, generator, out_dir / "index", spec, embedder,
                              Path(cache_path) if cache_path else out_dir / "generations.jsonl", progress)
    chunk_doc = chunk_docs(index)
    info["human_queries_cleared"] = clear_human_queries(index)
    if spec.real_from_train and not spec.train_split:
        raise ConfigError("--real-from-train needs --tune and a --train-split: the train queries are what it adds")
    profiles = {"rag_augment": load_profile(None)}
    if spec.label_free:  # before any real query is blended in: what a user gets from `index --tune`, no labels
        from rag_augment.tuning.label_free import tune_index
        report = tune_index(index, seed=spec.seed)
        profiles["rag_augment_label_free"] = report.profile
        info["label_free"] = {k: v for k, v in report.to_dict().items() if k != "profile"}
    profiles.update({f"profile:{Path(p).stem}": load_profile(p) for p in spec.profiles})
    tuning = None
    if spec.train_split:
        tuning = _tune(ds, index, chunk_doc, spec, profiles["rag_augment"], progress, out_dir)
        profiles["rag_augment_tuned"] = tuning.pop("profile_obj")
        tuning["path"] = _shown(write_profile(profiles["rag_augment_tuned"], spec.profile_dir or out_dir))
    rival = tuning.pop("hybrid_obj") if tuning else None
    if spec.real_from_train and spec.train_split:  # after tuning: the train legs must not hold the train queries
        info["real_from_train"] = attach_train_queries(ds, index, spec.train_split, queries.values())
        # eval queries with a relevant document that now holds a real query: where the blend can help directly
        with_real = set(info["real_from_train"].pop("documents"))
        info["real_from_train"]["covered_queries"] = sorted(
            q for q, rels in qrels.items() if any(g > 0 and d in with_real for d, g in rels.items()))
    systems = list(systems or standard_systems(profiles, rival))
    memory = {s.key: s.build(index, out_dir / "vectors") for s in systems if s.kind == "memory" and s.build}
    products = {s.key: s.profile for s in systems if s.kind == "product" and s.profile}
    legs = collect_legs(index, queries, spec.depths, products, memory, progress, f"eval {spec.split}")
    per_query, summed = {}, {}
    for s in systems:
        per_query[s.key], summed[s.key] = score_system(s, legs, qrels, chunk_doc)
    timed, timing = measure_latency(index, systems, queries, memory, spec.latency_queries, spec.latency_k)
    # a system with no end-to-end path (the pool's reference recipes) keeps the old account: its legs, summed
    lat = {s.key: timed[s.key] if s.key in timed else dict(zip(sorted(qrels), summed[s.key])) for s in systems}
    pairs = list(pairs or default_pairs(systems))
    return {
        "run": run_info(ds, generator, index, spec, len(queries)),
        "index": info,
        "systems": [{"key": s.key, "label": s.label, "kind": s.kind,
                     "profile": asdict(s.profile) if s.profile else None,
                     "metrics": M.mean_metrics(per_query[s.key]),
                     "latency_ms": percentiles_ms(list(lat[s.key].values())),
                     "latency_source": "end to end" if s.key in timed else "legs summed"}
                    for s in systems],
        "lifts": compare(per_query, pairs, n=spec.bootstrap, seed=spec.seed),
        "pairs": [list(p) for p in pairs],
        "latency": timing,
        "tuning": tuning,
        "per_query": {s.key: {m: v.round(6).tolist() for m, v in per_query[s.key].items()} for s in systems},
        "latency_per_query_ms": {key: {q: round(1000 * t, 3) for q, t in by_q.items()} for key, by_q in lat.items()},
        "query_ids": sorted(qrels),
        "curve_ks": list(M.CURVE_KS),
    }


def _shown(path: Path) -> str:
    """Relative to the working folder when inside it: run records are committed, absolute paths are not useful."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _tune(ds: EvalDataset, index: AugmentIndex, chunk_doc: Mapping[str, str], spec: EvalSpec,
          start: FusionProfile, progress: Progress | None, out_dir: Path | None = None) -> dict[str, Any]:
    if not spec.train_split:
        raise ConfigError("tuning needs a --train-split")
    train = ds.split(spec.train_split)
    legs = collect_legs(index, {q: ds.queries[q] for q in sorted(train)}, spec.depths, progress=progress,
                        desc=f"legs {spec.train_split}")
    name = spec.profile_name or f"tuned-{ds.name}"
    note = f"tuned on {ds.name} {spec.train_split} ({len(train)} queries)"
    train_set = TuneSet(f"{ds.name}:{spec.train_split}", legs, train, chunk_doc)
    if out_dir is not None:  # kept, so that benchmarks/tune_default.py can tune across data sets without re-indexing
        save_tune_set(train_set, Path(out_dir) / TRAIN_LEGS_FILE)
    # the fair rival: the hybrid without synthetic queries, tuned the same way on the same queries
    rival = tune_profile(train_set, hybrid_profile(), "hybrid-tuned", spec.depths, notes=note, synthetic=False)
    # rag_augment's ascent also starts from that rival, so synthetic legs enter only where they gain on train
    result = tune_profile(train_set, start, name, spec.depths, progress=progress, notes=note,
                          also_from=[rival.profile])
    return {"split": spec.train_split, "queries": len(train), "name": name, "profile_obj": result.profile,
            "hybrid_obj": rival.profile, "start_score": result.start_score, "score": result.score,
            "evaluated": result.evaluated, "train_metrics": result.train_metrics,
            "start_train_metrics": result.start_train_metrics, "hybrid_start_score": rival.start_score,
            "hybrid_score": rival.score}


def run_info(ds: EvalDataset, generator: Any, index: AugmentIndex, spec: EvalSpec, n_queries: int) -> dict:
    return {"name": spec.name, "command": spec.command, "dataset": ds.name, "source": ds.source,
            "dataset_notes": ds.notes, "split": spec.split, "queries": n_queries, "documents": len(ds.documents),
            "train_split": spec.train_split,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
            "embedding_model": index.embedder.name, "generator": generator.identity(),
            "chunking": asdict(spec.chunking), "filters": asdict(spec.filters), "depths": spec.depths,
            "bootstrap": {"resamples": spec.bootstrap, "seed": spec.seed}}


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "platform": platform.platform(),
            "python": platform.python_version(), "load_avg_1_5_15": [round(x, 2) for x in load]}
