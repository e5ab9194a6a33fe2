"""How users' queries vote, chosen on SciFact's TRAIN claims only (issue 32: "with real queries present, the
synthetic queries cost nothing").

The blended runs (benchmarks.lifecycle.blend) found that the model's queries cost claims whose abstract holds a real
query about -3 points, through other abstracts' synthetic queries (benchmarks.lifecycle.blend_intruders). Under the
shipped guard, a user's query at the floor votes in the same legs as the synthetic queries. Candidates, all built
here from the product's legs (nothing in the package changes):

- "users leg W": users' queries at the floor leave the query legs and the doc2query documents (the legs are as with
  the floor out of reach) and vote in a leg of their own with weight W, scored (cosine - floor) / (1 - floor) and
  not rescaled per query, so a weak vote is not stretched to a full one;
- "users leg W, doc2query keeps users": the same, but doc2query_lexical as shipped (users' queries in their
  chunk's document under the guard);
- "kind weight W": users' cosines multiplied by W in query_dense (FusionProfile.kind_weights);
- "others' synthetic queries step aside": as shipped, but where a user's query votes, query_dense and query_lexical
  keep the voted chunks only;
- "floor from the log": the guard's floor set from the index's own real queries (FusionProfile.floor_from_log,
  rag_augment.search.floor).

They are compared on a two-fold split of the train claims, never on the test claims: the train claims (seeded,
random.Random(0)) fall into two halves; one half is attached as real queries exactly as the blended runs attach all
of them (near-duplicates of the other half dropped), the other half is scored, then the other way round. Both
indexes of the blended runs (the model's queries plus real ones, and real ones only), built afresh.

    python -m benchmarks.studies.users_vote.study               # about 4 min on 2 cores; writes results/
    python -m benchmarks.studies.users_vote.study --render-only

The rule, fixed before the run: the version with the highest dev nDCG@10 on the index with the model's queries over
all scored claims is chosen (the shipped one on a tie), and only that one is carried to the test claims.
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lifecycle.blend import METRICS, WITH, WITHOUT, arguments, build, covered_by, score, stamped
from benchmarks.lifecycle.files import read_json_gz, write_json_gz
from benchmarks.paths import shown
from rag_augment.fusion import FusionProfile

RESULTS = Path(__file__).resolve().parent / "results"
FILE, TABLE = "scifact1k-train.json.gz", "table.md"
USERS_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0)
KIND_WEIGHTS = (1.5, 2.0)
SHIPPED = "guard (shipped)"
# a ranking fused here, passed through fusion unchanged (one leg, reciprocal rank keeps its order)
_AS_IS = FusionProfile(name="as fused", method="rrf", dense_pair="separate", weights={"chunk_dense": 1.0})


def versions() -> dict[str, Any]:
    from rag_augment.profiles import load_profile

    shipped = load_profile("default")
    out: dict[str, Any] = {SHIPPED: shipped}
    out.update({f"users leg {w:g}": partial(_users_leg, shipped, w, False) for w in USERS_WEIGHTS})
    out.update({f"users leg {w:g}, doc2query keeps users": partial(_users_leg, shipped, w, True)
                for w in USERS_WEIGHTS})
    out.update({f"kind weight {w:g}": replace(shipped, kind_weights={"real": w, "feedback": w})
                for w in KIND_WEIGHTS})
    out["others' synthetic queries step aside"] = partial(_others_step_aside, shipped)
    out["floor from the log"] = replace(shipped, floor_from_log=True)
    return out


def users_votes(legs: Any, prof: Any, emb: Any) -> dict[str, float]:
    """Parent -> the best (cosine - floor) / (1 - floor) of its users' queries at the floor, among the query
    vectors query_dense reads."""
    from rag_augment.lexical import is_user_query

    parent = legs.lexical.query_parent
    depth = prof.depth["query_dense"]
    best: dict[str, float] = {}
    for qid, cos, _, _ in legs.store.search("queries", emb, depth, include_meta=False):
        if is_user_query(qid) and cos >= prof.real_floor and qid in parent:
            score = (cos - prof.real_floor) / (1.0 - prof.real_floor)
            best[parent[qid]] = max(best.get(parent[qid], 0.0), score)
    return best


def _users_leg(shipped: Any, weight: float, keep_doc2query: bool, legs: Any, text: str, emb: Any
               ) -> tuple[dict, Any]:
    """Users' votes in a leg of their own (see the module's text); returns the fused ranking as one leg."""
    from rag_augment.fusion import combine, merge_dense

    unreachable = replace(shipped, real_floor=0.999)  # the guard with no user query close: legs without them
    got = legs.search(text, emb, unreachable).legs
    if keep_doc2query:
        got["doc2query_lexical"] = legs.search(text, emb, shipped).legs["doc2query_lexical"]
    if shipped.dense_pair != "separate":
        got["dense"] = merge_dense(got.pop("chunk_dense", []), got.pop("query_dense", []), shipped.dense_pair,
                                   shipped.child_weight)
    scores = combine(got, shipped.weights, shipped)
    for p, s in users_votes(legs, shipped, emb).items():
        scores[p] = scores.get(p, 0.0) + weight * s
    return {"chunk_dense": sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))}, _AS_IS


def _others_step_aside(shipped: Any, legs: Any, text: str, emb: Any) -> tuple[dict, Any]:
    """As shipped, but where a user query votes (at the floor), the query legs keep the voted chunks only: other
    chunks' synthetic queries step aside."""
    got = legs.search(text, emb, shipped).legs
    voted = set(users_votes(legs, shipped, emb))
    if voted:
        for leg in ("query_dense", "query_lexical"):
            got[leg] = [(p, s) for p, s in got.get(leg, []) if p in voted]
    return got, shipped


def folds(ds: Any, split: str) -> tuple[list[str], list[str]]:
    ids = sorted(ds.split(split))
    random.Random(0).shuffle(ids)
    half = len(ids) // 2
    return sorted(ids[:half]), sorted(ids[half:])


def run_index(name: str, work: Path, log=print) -> dict[str, Any]:
    from rag_augment.eval.harness import attach_train_queries, clear_human_queries

    t0 = time.perf_counter()
    index, ds, spec, _, info = build(name, work)
    split = spec.train_split or "train"
    a, b = folds(ds, split)
    qrels_all = ds.split(split)
    out: dict[str, Any] = {"query_vectors": info["query_vectors"], "folds": {}}
    for attached, scored in (("A", b), ("B", a)):
        clear_human_queries(index)
        ids_attached = a if attached == "A" else b
        fold_ds = replace(ds, qrels={**ds.qrels, "dev_attached": {q: qrels_all[q] for q in ids_attached}})
        queries = {q: ds.queries[q] for q in scored}
        real = attach_train_queries(fold_ds, index, "dev_attached", queries.values())
        covered = covered_by({q: qrels_all[q] for q in scored}, set(real.pop("documents")))
        out["folds"][attached] = {"query_ids": scored, "covered_queries": covered,
                                  "near_duplicates_dropped": real["near_duplicates_dropped"]["queries"],
                                  "scores": score(index, queries, qrels_all, versions())}
        log(f"{name}: attached fold {attached}, scored {len(scored)} ({len(covered)} covered), "
            f"{time.perf_counter() - t0:.0f}s")
    clear_human_queries(index)
    return out


def pooled(run: dict[str, Any], label: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores of both folds in one array, and which claims' abstract holds a real query."""
    vals, cov = [], []
    for f in run["folds"].values():
        vals += f["scores"][label][metric]
        cov += [q in set(f["covered_queries"]) for q in f["query_ids"]]
    return np.array(vals), np.array(cov)


def chosen(record: dict[str, Any]) -> str:
    """The rule in the module's text."""
    return max(record["versions"], key=lambda v: (pooled(record["runs"][WITH], v, "nDCG@10")[0].mean(), v == SHIPPED))


def table(record: dict[str, Any]) -> str:
    from benchmarks.lifecycle.blend import _cell

    n, runs = record["bootstrap"], record["runs"]
    lines = ["# How users' queries vote: chosen on SciFact's train claims", "",
             f"<!-- generated by python -m benchmarks.studies.users_vote.study from {FILE} -->", "",
             f"Run {record['date']} on {record['machine']}, {record['seconds']:.0f} s; command "
             f"`{record['command']}`. The indexes of {WITH} and {WITHOUT} (benchmarks/lifecycle/blend.py), the "
             "train claims in two seeded halves: one attached as real queries (near-duplicates of the other "
             "dropped), the other scored, then the other way round; "
             f"{sum(len(f['query_ids']) for f in runs[WITH]['folds'].values())} train claims scored, "
             f"{sum(len(f['covered_queries']) for f in runs[WITH]['folds'].values())} of them with an abstract that "
             "holds a real query. No test claim is read here.", "",
             f"nDCG@10 (mean), and differences in points (x100) with paired bootstrap 95% intervals ({n:,} "
             "resamples, seed 0), (wins/losses):", "",
             f"| version | {WITH} | {WITHOUT} | model's queries' cost, abstract holds a real query | "
             f"{WITH}: version - shipped |", "|---|---:|---:|---:|---:|"]
    base, _ = pooled(runs[WITH], SHIPPED, "nDCG@10")
    for label in record["versions"]:
        a, cov = pooled(runs[WITH], label, "nDCG@10")
        b, _ = pooled(runs[WITHOUT], label, "nDCG@10")
        lines.append(f"| {label} | {a.mean():.3f} | {b.mean():.3f} | {_cell(a[cov], b[cov], n)} | "
                     f"{_cell(a, base, n) if label != SHIPPED else '-'} |")
    lines += ["", f"Chosen by the rule (highest {WITH} nDCG@10 on the scored train claims): **{chosen(record)}**."]
    return "\n".join(lines) + "\n"


def write(record: dict[str, Any]) -> None:
    write_json_gz(RESULTS / FILE, record)


def read() -> dict[str, Any]:
    return read_json_gz(RESULTS / FILE)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = arguments("benchmarks.studies.users_vote.study", __doc__.split("\n")[0], argv)
    if not args.render_only:
        t0 = time.perf_counter()
        runs = {name: run_index(name, args.work) for name in (WITH, WITHOUT)}
        write(stamped({"runs": runs, "bootstrap": args.bootstrap, "metrics": list(METRICS),
                       "versions": {k: v.func.__doc__.split("\n")[0] if callable(v) else asdict(v)
                                    for k, v in versions().items()}},
                      "benchmarks.studies.users_vote.study", argv, t0))
    (RESULTS / TABLE).write_text(table(read()), encoding="utf-8")
    print(f"wrote {shown(RESULTS / TABLE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
