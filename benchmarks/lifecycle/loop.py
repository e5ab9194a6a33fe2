"""The lifecycle loop: queries arrive one at a time; clicks become real queries, failures become feedback; after
each block the next block (never seen by the index) is scored on the learning index and its rivals.

One stream position at a time:
  search the learning index (AugmentIndex.query); a relevant document within the top `click_depth` documents is a
  click (the query is logged as a real query of the clicked chunk, AugmentIndex.add_real_queries); otherwise the
  user reports it, with the right document named for a seeded share (a support person's fix) and as a bare
  thumbs-down for the rest (the judge's pick, marked for review). A feedback round runs every `feedback_every`
  reports and the label-free tuner (AugmentIndex.tune) every `tune_every` queries (0: never).
Before each block of `block` queries is used, the same block is scored: the learning index as it stands, the frozen
index (built the same way, never fed), dense only, BM25 only and the dense + BM25 hybrid tuned on the set's train
split, all through AugmentIndex.query on the frozen index (chunks are the same in both).
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lifecycle.judge import SimulatedJudge, passage_key
from benchmarks.lifecycle.sets import LifecycleSet
from rag_augment import metrics as M
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.harness import collect_legs, machine_info
from rag_augment.eval.systems import EVAL_DEPTH, hybrid_profile, single_leg
from rag_augment.eval.tune import TuneSet, tune_profile
from rag_augment.fusion import FusionProfile
from rag_augment.generators.rules import RulesGenerator
from rag_augment.hashing import norm_text, sha1_hex
from rag_augment.types import GENERATED_KINDS

SCORE_K = 30          # chunk hits read per search, collapsed to documents (nDCG@10 needs 10 distinct documents)
RIVALS = ("frozen", "hybrid_tuned", "dense", "bm25")
SYSTEMS = ("learning", *RIVALS)
Log = Callable[[str], Any]


@dataclass
class Config:
    block: int = 100              # queries per block: each block is scored, then used
    fix_share: float = 0.5        # reports that name the right document (the rest: thumbs-down only)
    feedback_every: int = 10      # reports per feedback round (and one at the end of a block with reports left)
    tune_every: int = 0           # queries between label-free tunes (0: never)
    click_depth: int = 3          # a relevant document within this many documents is clicked
    click_from_rank: int = 1      # clicks at this rank or lower are logged (1: every click; 2: not the ones at
                                  # rank 1, which the index already answers; above click_depth: none)
    step_aside: bool = False      # a chunk's synthetic queries are removed once it holds a real or feedback query
    floor_from_log: bool = False  # the learning index sets the guard's floor from its own real queries
    log_every: int = 10           # clicks reach the index in batches of this many queries (a periodic log import;
                                  # each write rebuilds the lexical index, about a second here)
    judge: str = "simulated"      # simulated | none (thumbs-down reports then wait: the rules rewriter cannot judge)
    judge_accuracy: float = 0.8   # the simulated judge's share of right calls (an assumption, see judge.py)
    n_paraphrases: int = 3        # per feedback round item (rules rewordings)
    seed: int = 0
    bootstrap: int = 5000
    max_blocks: int = 0           # 0: every full block the stream has


class CachedEmbedder:
    """The embedder with a memory of every text it embedded: both homes index the same texts and every query is
    searched several times, which on 2 cores costs more than everything else."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for t, v in zip(missing, self.inner.embed(missing)):
                self._memo[t] = v
        dim = len(next(iter(self._memo.values()))) if self._memo else 0
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, dim), dtype=np.float32)


@dataclass
class State:
    """What the loop keeps between stream positions."""
    reports: int = 0
    handled_reports: int = 0                                    # reports made before the last round
    rounds: list[dict] = field(default_factory=list)
    tunes: list[dict] = field(default_factory=list)
    use: list[dict] = field(default_factory=list)
    by_record: dict[int, dict] = field(default_factory=dict)   # feedback record id -> its use row
    clicks: list[dict] = field(default_factory=list)            # logged, not yet imported
    stepped_aside: int = 0                                      # synthetic query vectors removed (step_aside)
    covered: set[str] = field(default_factory=set)              # docs holding a real or feedback query
    floors: list[dict] = field(default_factory=list)            # the guard's floor at each block (floor_from_log)


# ---------------------------------------------------------------- building

def build_home(home: Path, ls: LifecycleSet, embedder, generator, cache: Path) -> AugmentIndex:
    """A fresh index of the set's documents (the generation cache is shared, so both homes hold the same queries)."""
    if home.exists():
        shutil.rmtree(home)
    index = AugmentIndex(home, embedder=embedder, cache_path=cache, collection="lifecycle")
    index.index_documents(ls.dataset.documents, generator, ls.chunking)
    return index


def tune_rival(frozen: AugmentIndex, ls: LifecycleSet, chunk_doc: dict[str, str]) -> tuple[FusionProfile, dict]:
    """The dense + BM25 hybrid tuned on the train split, as the harness builds "hybrid_tuned" (eval/harness._tune):
    every leg retrieved once at EVAL_DEPTH, then coordinate ascent from the plain hybrid, synthetic legs off."""
    qrels = {q: ls.qrels[q] for q in ls.train}
    legs = collect_legs(frozen, {q: ls.text(q) for q in ls.train}, EVAL_DEPTH)
    ts = TuneSet(f"{ls.name}:train", legs, qrels, chunk_doc)
    res = tune_profile(ts, hybrid_profile(), "hybrid-tuned", EVAL_DEPTH, synthetic=False,
                       notes=f"tuned on {ls.name} train ({len(qrels)} queries)")
    return res.profile, {"train_queries": len(qrels), "start_score": round(res.start_score, 4),
                         "score": round(res.score, 4), "profile": asdict(res.profile)}


def make_judge(ls: LifecycleSet, index: AugmentIndex, cfg: Config) -> SimulatedJudge:
    passages = {passage_key(text): meta["doc_id"] for _, texts, metas in
                index.store.iter_all("chunks", include=("documents", "metadatas"))
                for text, meta in zip(texts, metas)}
    relevant: dict[str, set[str]] = {}
    for q in ls.stream:
        relevant.setdefault(norm_text(ls.text(q)), set()).update(ls.relevant(q))
    return SimulatedJudge(passages, relevant, cfg.judge_accuracy, cfg.seed)


def chunk_docs(index: AugmentIndex) -> dict[str, str]:
    return {cid: meta.get("doc_id", cid) for cid, meta in index.store.chunk_states().items()}


# ---------------------------------------------------------------- searching and scoring

def doc_ranking(index: AugmentIndex, text: str, profile: FusionProfile | None = None) -> tuple[list[str], list]:
    hits = index.query(text, k=SCORE_K, profile=profile)
    return M.dedupe([h.doc_id for h in hits])[0], hits


def first_rank(docs: Sequence[str], relevant: set[str]) -> int | None:
    return next((i for i, d in enumerate(docs, 1) if d in relevant), None)


def score_block(ls: LifecycleSet, block: Sequence[str], learning: AugmentIndex, frozen: AugmentIndex,
                profiles: dict[str, FusionProfile | None], used: int, state: State) -> list[dict]:
    rows = []
    for qid in block:
        text, rels = ls.text(qid), ls.qrels[qid]
        row: dict[str, Any] = {"used": used, "qid": qid, "covered": bool(ls.relevant(qid) & state.covered),
                               "ndcg": {}, "r10": {}, "rank": {}}
        for system in SYSTEMS:
            index = learning if system == "learning" else frozen
            docs, _ = doc_ranking(index, text, profiles.get(system))
            got = M.score_query(docs, rels)
            row["ndcg"][system] = round(got["nDCG@10"], 6)
            row["r10"][system] = round(got["R@10"], 6)
            row["rank"][system] = first_rank(docs, ls.relevant(qid))
        rows.append(row)
    return rows


# ---------------------------------------------------------------- using

def fixed_by_support(qid: str, cfg: Config) -> bool:
    """Seeded per query, so the share does not depend on the order or on which queries fail."""
    return int(sha1_hex(f"{cfg.seed}:fix:{qid}", 12), 16) / 16 ** 12 < cfg.fix_share


def use_query(ls: LifecycleSet, qid: str, pos: int, learning: AugmentIndex, cfg: Config, state: State) -> dict:
    text, relevant = ls.text(qid), ls.relevant(qid)
    docs, hits = doc_ranking(learning, text)
    rank = first_rank(docs, relevant)
    row: dict[str, Any] = {"pos": pos, "qid": qid, "rank": rank}
    if rank is not None and rank <= cfg.click_depth:
        clicked = next(h for h in hits if h.doc_id in relevant)
        row["action"], row["logged"] = "click", rank >= cfg.click_from_rank
        if row["logged"]:
            state.clicks.append({"text": text, "chunk_id": clicked.chunk_id, "doc_id": clicked.doc_id})
        return row
    state.reports += 1
    if fixed_by_support(qid, cfg):
        target = sorted(relevant)[0]
        row["action"], row["record"] = "fix", learning.record_feedback(text, "thumbs_down", doc_id=target)
    else:
        row["action"], row["record"] = "thumbs_down", learning.record_feedback(text, "thumbs_down")
    state.by_record[row["record"]] = row
    return row


def import_clicks(learning: AugmentIndex, cfg: Config, state: State) -> None:
    if state.clicks:
        learning.add_real_queries([{"text": c["text"], "chunk_id": c["chunk_id"]} for c in state.clicks])
        state.covered.update(c["doc_id"] for c in state.clicks)
        if cfg.step_aside:
            step_aside(learning, {c["chunk_id"] for c in state.clicks}, state)
        state.clicks = []


def step_aside(learning: AugmentIndex, chunk_ids: set[str], state: State) -> None:
    """Remove the synthetic queries of chunks that now hold a user's query: on them the model's guesses can only
    compete with the real wording (issue 32: they cost -2.9 on test claims whose abstract holds a real query)."""
    ids = [q.query_id for q in learning.store.queries_of(sorted(chunk_ids), GENERATED_KINDS)]
    if ids:
        state.stepped_aside += learning.remove_queries(ids)


def feedback_round(ls: LifecycleSet, learning: AugmentIndex, generator, chunk_doc: dict[str, str], pos: int,
                   cfg: Config, state: State) -> dict:
    t0 = time.perf_counter()
    summary = learning.apply_feedback(generator, k=cfg.click_depth, n_paraphrases=cfg.n_paraphrases,
                                      judge_candidates=10)
    seconds = time.perf_counter() - t0
    if cfg.step_aside:
        step_aside(learning, {i["target_chunk"] for i in summary["items"] if i["target_chunk"]}, state)
    wrong = 0
    for item in summary["items"]:
        row = state.by_record.get(item["id"])
        doc = chunk_doc.get(item["target_chunk"] or "", "")
        right = doc in ls.relevant(row["qid"]) if row else False
        wrong += not right
        state.covered.add(doc)
        if row is not None and "round" not in row:  # the first round that handled it
            row.update({"round": summary["round"], "target_how": item["target_how"], "target_right": right,
                        "rank_before": item["rank_before"], "rank_after": item["rank_after"],
                        "fixed": item["fixed"], "added": item["queries_added"]})
    event = {"after": pos, "round": summary["round"], "handled": summary["handled"], "fixed": summary["fixed"],
             "still_failing": summary["still_failing"], "already_answered": summary["already_answered"],
             "skipped": summary["skipped"], "queries_added": summary["queries_added"], "wrong_target": wrong,
             "seconds": round(seconds, 2)}
    state.rounds.append(event)
    return event


def tune_now(learning: AugmentIndex, pos: int, cfg: Config, state: State) -> dict:
    t0 = time.perf_counter()
    report = learning.tune(seed=cfg.seed)
    ev = report.real if report.source == "real" else report.synthetic
    p, check = report.profile, report.check
    event = {"after": pos, "source": report.source, "picked": (ev or {}).get("picked", ""),
             "installed": report.installed,
             "check": {k: round(v, 4) if isinstance(v, float) else v for k, v in check.to_dict().items()}
             if check else None,
             "real_queries": (report.real or {}).get("queries", 0),
             "scores": {k: round(v, 4) for k, v in ((ev or {}).get("scores") or {}).items()},
             "method": p.method, "normalize": p.normalize, "dense_pair": p.dense_pair,
             "weights": {k: v for k, v in sorted(p.weights.items()) if v}, "kind_weights": p.kind_weights,
             "seconds": round(time.perf_counter() - t0, 2)}
    state.tunes.append(event)
    return event


# ---------------------------------------------------------------- the run

def block_starts(n_stream: int, cfg: Config) -> list[int]:
    """Queries used before each scored block. A last, shorter block is scored when it holds at least half a block
    (a small set's 80% mark falls there)."""
    starts = [s for s in range(0, n_stream, cfg.block) if n_stream - s >= max(1, cfg.block // 2)]
    return starts[:cfg.max_blocks] if cfg.max_blocks else starts


def run(ls: LifecycleSet, cfg: Config, work: Path, embedder=None, log: Log = print) -> dict[str, Any]:
    """Run the lifecycle on a set; returns {"run", "scored", "use"} for files.write_run."""
    from rag_augment.embedding import SentenceTransformerEmbedder

    started = time.perf_counter()
    embedder = CachedEmbedder(embedder or SentenceTransformerEmbedder())
    generator = RulesGenerator()
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "generations.jsonl"
    frozen = build_home(work / "frozen", ls, embedder, generator, cache)
    learning = build_home(work / "learning", ls, embedder, generator, cache)
    if cfg.floor_from_log:
        learning.profile = replace(learning.profile, floor_from_log=True)
    chunk_doc = chunk_docs(frozen)
    log(f"indexed {len(ls.dataset.documents)} documents twice ({len(chunk_doc)} chunks) "
        f"in {time.perf_counter() - started:.0f}s")
    rival, rival_info = tune_rival(frozen, ls, chunk_doc)
    log(f"rival tuned on {len(ls.train)} train queries: train nDCG@10 {rival_info['start_score']:.4f} -> "
        f"{rival_info['score']:.4f}")
    profiles = {"hybrid_tuned": rival, "dense": single_leg("chunk_dense", SCORE_K),
                "bm25": single_leg("chunk_lexical", SCORE_K)}
    feedback_gen = make_judge(ls, frozen, cfg) if cfg.judge == "simulated" else generator
    state, scored = State(), []
    start_stats = learning.stats()
    starts = block_starts(len(ls.stream), cfg)
    for b, used in enumerate(starts):
        block = ls.stream[used:used + cfg.block]
        if cfg.floor_from_log:
            state.floors.append({"used": used, "floor": learning.retriever.legs.floor(learning.profile)})
        rows = score_block(ls, block, learning, frozen, profiles, used, state)
        scored += rows
        log(_block_line(used, rows))
        if b + 1 < len(starts):
            _use_block(ls, block, used, learning, feedback_gen, chunk_doc, cfg, state, log)
    if isinstance(feedback_gen, SimulatedJudge):
        for row in state.use:
            pick = feedback_gen.picks.get(norm_text(ls.text(row["qid"])))
            if row.get("action") == "thumbs_down" and pick:
                row["judge"] = pick
    record = {"set": ls.name, "source": ls.source, "how": ls.how, "config": asdict(cfg),
              "documents": len(ls.dataset.documents), "chunks": len(chunk_doc), "stream": len(ls.stream),
              "train": len(ls.train), "embedding_model": embedder.name, "generator": generator.identity(),
              "feedback_generator": "simulated judge + rules paraphrases" if cfg.judge == "simulated" else "rules",
              "rival": rival_info, "index_start": start_stats, "index_end": learning.stats(),
              "rounds": state.rounds, "tunes": state.tunes, "stepped_aside": state.stepped_aside,
              **({"floors": state.floors} if cfg.floor_from_log else {}),
              "machine": machine_info(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "seconds": round(time.perf_counter() - started, 1)}
    for key in ("index_start", "index_end"):
        record[key] = {k: v for k, v in record[key].items() if k not in ("home", "collection")}
    return {"run": record, "scored": scored, "use": state.use}


def _use_block(ls, block, used, learning, feedback_gen, chunk_doc, cfg: Config, state: State, log: Log) -> None:
    for i, qid in enumerate(block):
        pos = used + i + 1
        row = use_query(ls, qid, pos, learning, cfg, state)
        state.use.append(row)
        if pos % cfg.log_every == 0 or i + 1 == len(block):
            import_clicks(learning, cfg, state)
        # a round every `feedback_every` reports, and one at the end of a block for reports still unhandled (a
        # quiet set may never reach `feedback_every` reports)
        due = row["action"] != "click" and state.reports % cfg.feedback_every == 0
        if due or (i + 1 == len(block) and state.reports > state.handled_reports):
            state.handled_reports = state.reports
            ev = feedback_round(ls, learning, feedback_gen, chunk_doc, pos, cfg, state)
            log(f"  round {ev['round']} after {pos}: handled {ev['handled']}, fixed {ev['fixed']}, "
                f"added {ev['queries_added']}, wrong targets {ev['wrong_target']} ({ev['seconds']}s)")
        if cfg.tune_every and pos % cfg.tune_every == 0:
            import_clicks(learning, cfg, state)
            ev = tune_now(learning, pos, cfg, state)
            log(f"  tune after {pos}: {ev['source']} evidence ({ev['picked'] or 'probes'}), "
                f"{'installed' if ev['installed'] else 'not installed'}: {ev['method']} {ev['weights']} "
                f"({ev['seconds']}s)")


def _block_line(used: int, rows: list[dict]) -> str:
    means = {s: np.mean([r["ndcg"][s] for r in rows]) for s in SYSTEMS}
    return f"after {used:4d} used: " + ", ".join(f"{s} {v:.4f}" for s, v in means.items())
