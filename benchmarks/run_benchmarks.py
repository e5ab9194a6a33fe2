"""The benchmark runs behind benchmarks/RESULTS.md, and the regeneration of its "## Retrieval quality" section.

    python -m benchmarks.run_benchmarks pool sample_kb-rules scifact1k-qwen15b  # run them one by one, then
                                                                                # rewrite RESULTS.md
    python -m benchmarks.run_benchmarks --results-only                          # rewrite it from the run folders

Data sets are read from --shared (default: ../shared beside the repository; see its README); run folders go to
benchmarks/runs/ (gitignored); the plots that RESULTS.md shows are copied to benchmarks/results/. Paths are resolved
from the repository root, whatever the working folder, and recorded relative to it. Each run needs only its cache
file: the rules generator is deterministic and fast, the model runs replay committed caches (--generator replay).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

from benchmarks.paths import CACHE, REPO_ROOT, RESULTS, RUNS, SHARED, SUBSETS, shown
from rag_augment.eval import command
from rag_augment.eval.report import results_section, write_per_query, write_run

RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Retrieval quality"


def run_table(shared: str, runs: str) -> dict[str, list[str]]:
    """name -> `rag-augment eval` arguments, with paths relative to the repository root (the working folder while
    the runs are made). Model runs replay a committed cache; see benchmarks/cache/PROVENANCE.md."""
    scifact, xquad = f"{shared}/datasets/scifact", f"{shared}/datasets/xquad_en"
    subset = shown(SUBSETS / "scifact_test_1000.json")
    random_subset = shown(SUBSETS / "scifact_test_random_1000.json")  # data_prep/build_random_subset.py
    random_cache = shown(CACHE / "scifact_random1000_qwen15b.jsonl")  # made by build_random_subset.py --generate
    kb_cache, scifact_cache = shown(CACHE / "sample_kb_qwen15b_hr_policy.jsonl"), shown(
        CACHE / "scifact_test1000_qwen15b.jsonl")
    return {
        "sample_kb-rules": ["--dataset", "sample_kb", "--split", "test", "--generator", "rules", "--tune",
                            "--train-split", "train", "--profile-name", "sample_kb"],
        "xquad-rules": ["--dataset", xquad, "--split", "test", "--generator", "rules", "--chunk-size", "2048",
                        "--profile", "scifact", "--profile", "sample_kb"],  # no train split: the tuned profiles, moved
        "scifact-rules": ["--dataset", scifact, "--split", "test", "--generator", "rules", "--chunk-size", "2048",
                          "--tune", "--train-split", "train", "--profile-name", "scifact"],
        # Local-model runs replay committed caches (benchmarks/cache/PROVENANCE.md). Their tuned profiles stay in
        # the run folder: the shipped default is tuned on both train sets jointly by benchmarks/tune_default.py.
        "sample_kb-qwen15b": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                              "--cache", kb_cache, "--tune", "--train-split", "train",
                              "--profile-name", "sample_kb-qwen15b", "--profile-dir", f"{runs}/sample_kb-qwen15b",
                              "--profile", "sample_kb"],
        "scifact1k-qwen15b": ["--dataset", scifact, "--split", "test", "--pool", subset,
                              "--generator", "replay", "--cache", scifact_cache,
                              "--chunk-size", "2048", "--tune", "--train-split", "train",
                              "--profile-name", "scifact1k-qwen15b", "--profile-dir", f"{runs}/scifact1k-qwen15b",
                              "--profile", "scifact"],
        # The same subset and queries with Doc2Query-- filtering: the 30% of each batch's queries least similar to
        # their own chunk are dropped before indexing.
        "scifact1k-qwen15b-d2qminus": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                       "--generator", "replay", "--cache", scifact_cache, "--chunk-size", "2048",
                                       "--relevance-drop", "0.3", "--tune", "--train-split", "train",
                                       "--profile-name", "scifact1k-qwen15b-d2qminus",
                                       "--profile-dir", f"{runs}/scifact1k-qwen15b-d2qminus"],
        # Real data blended in: after tuning, the train queries become real queries of their relevant documents
        # (what a team with a query log would add). Separate folders: the human kinds must not reach the runs above.
        "scifact1k-qwen15b-real": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                   "--generator", "replay", "--cache", scifact_cache,
                                   "--chunk-size", "2048", "--tune", "--train-split", "train", "--real-from-train",
                                   "--profile-name", "scifact1k-qwen15b-real",
                                   "--profile-dir", f"{runs}/scifact1k-qwen15b-real"],
        "sample_kb-qwen15b-real": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                                   "--cache", kb_cache, "--tune", "--train-split", "train", "--real-from-train",
                                   "--profile-name", "sample_kb-qwen15b-real",
                                   "--profile-dir", f"{runs}/sample_kb-qwen15b-real"],
        # The same with no synthetic query at all: what the synthetic queries add on top of the real ones.
        "scifact1k-none-real": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                "--generator", "none", "--chunk-size", "2048", "--tune", "--train-split", "train",
                                "--real-from-train", "--profile-name", "scifact1k-none-real",
                                "--profile-dir", f"{runs}/scifact1k-none-real"],
        "sample_kb-none-real": ["--dataset", "sample_kb", "--split", "test", "--generator", "none", "--tune",
                                "--train-split", "train", "--real-from-train", "--profile-name", "sample_kb-none-real",
                                "--profile-dir", f"{runs}/sample_kb-none-real"],
        # The 1,000-document subsets with the rules generator: the pooled one (the shared experiment's pool, hard
        # distractors chosen by the dense and BM25 baselines) and one with random distractors only.
        "scifact1k-rules": ["--dataset", scifact, "--split", "test", "--pool", subset, "--generator", "rules",
                            "--chunk-size", "2048", "--tune", "--train-split", "train",
                            "--profile-name", "scifact1k-rules", "--profile-dir", f"{runs}/scifact1k-rules"],
        "scifact1k-random-rules": ["--dataset", scifact, "--split", "test", "--pool", random_subset,
                                   "--generator", "rules", "--chunk-size", "2048", "--tune", "--train-split", "train",
                                   "--profile-name", "scifact1k-random-rules",
                                   "--profile-dir", f"{runs}/scifact1k-random-rules"],
        "scifact1k-random-qwen15b": ["--dataset", scifact, "--split", "test", "--pool", random_subset,
                                     "--generator", "replay", "--cache", random_cache, "--chunk-size", "2048",
                                     "--tune", "--train-split", "train", "--profile-name", "scifact1k-random-qwen15b",
                                     "--profile-dir", f"{runs}/scifact1k-random-qwen15b"],
        # sample_kb's labelled queries over the whole handbook it was cut from: 246 pages, 226 of them unlabelled
        # distractors (some may answer a query too: that can only lower every system's score).
        "handbook-rules": ["--dataset", "sample_kb", "--docs", f"{shared}/kb/handbook_18f/pages",
                           "--split", "test", "--generator", "rules", "--tune", "--train-split", "train",
                           "--profile-name", "handbook", "--profile", "sample_kb"],
    }


RUN_NAMES = list(run_table("", ""))
ORDER = ["pool-qwen15b", "scifact-rules", "scifact1k-random-rules", "scifact1k-rules", "scifact1k-random-qwen15b",
         "scifact1k-qwen15b", "scifact1k-qwen15b-d2qminus", "scifact1k-qwen15b-real", "scifact1k-none-real",
         "sample_kb-rules", "sample_kb-qwen15b", "sample_kb-qwen15b-real", "sample_kb-none-real", "handbook-rules",
         "xquad-rules"]
PER_QUERY_DIR = RESULTS / "per_query"  # one <run>.json.gz per run: every figure of the section comes from these


def log_progress(total: int, desc: str):
    """Progress that also shows in a log file (the CLI's bars hide when stderr is not a terminal)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=20, ascii=True)


def _parse(name: str, shared: str, runs: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rag-augment")
    command.add_parser(parser.add_subparsers(dest="command"))
    argv = ["eval", *run_table(shared, runs)[name], "--name", name, "--out", f"{runs}/{name}"]
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    return args


def run_pool(shared: str, runs: str) -> None:
    """Cross-check against shared/experiments/scifact_pool_qwen15b: its 100 test queries and 663 documents, its
    generations (imported into benchmarks/cache/scifact_pool_qwen15b.jsonl), no filters, every leg retrieved in
    full, the README's systems."""
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.eval.datasets import load_dataset, restrict
    from rag_augment.eval.harness import EvalSpec, run_eval
    from rag_augment.eval.replay import ReplayGenerator
    from rag_augment.eval.systems import ablation_systems
    from rag_augment.filters import FilterConfig

    pool_json = f"{shared}/experiments/scifact_pool_qwen15b/pool.json"
    pool_cache = shown(CACHE / "scifact_pool_qwen15b.jsonl")
    pool = json.loads(Path(pool_json).read_text())
    ds = restrict(load_dataset(f"{shared}/datasets/scifact"), pool["docs"], pool["queries"], {"pool": pool_json})
    no_filters = FilterConfig(min_words=0, max_words=10_000, not_a_query=False, dedupe_threshold=0, pii=False,
                              injection=False)
    # every leg in full (663 documents, 4,328 query vectors), as the experiment scored them in numpy
    depths = {"chunk_dense": 1000, "chunk_lexical": 1000, "doc2query_lexical": 1000, "query_dense": 5000,
              "query_lexical": 5000}
    spec = EvalSpec(name="pool-qwen15b", split="test", chunking=ChunkingConfig(2048, 32), filters=no_filters,
                    depths=depths, command="python -m benchmarks.run_benchmarks pool")
    out = Path(runs) / "pool-qwen15b"
    systems = ablation_systems()
    pairs = [(s.key, "dense") for s in systems if s.key != "dense"]
    pairs += [("rag_augment", "rrf_dense_bm25"), ("rag_augment", "rrf_3"), ("max_pc", "qa_prepend"),
              ("max_pc", "synthetic")]
    result = run_eval(ds, ReplayGenerator(pool_cache), out, spec, cache_path=pool_cache, systems=systems,
                      pairs=pairs, progress=log_progress)
    write_run(result, out)
    return result


def write_results(shared: str, runs: str, results_md: Path) -> list[str]:
    """Rewrite the Retrieval quality section of `results_md` from the run folders that exist (their plots are
    copied to results/ beside it); returns the names written."""
    png_dir = results_md.parent / "results"
    table = run_table(shared, runs)
    results, names = [], []
    for name in ORDER:
        path = Path(runs) / name / "result.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            names.append(name)
            png_dir.mkdir(parents=True, exist_ok=True)
            for png in path.parent.glob(f"{name}-*.png"):
                shutil.copy(png, png_dir / png.name)
    if not results:  # a fresh clone has no run folder: keep the committed section rather than empty it
        print(f"no run folder with a result.json under {runs}: {shown(results_md)} left as it is", file=sys.stderr)
        return names
    body = (goal_table(results) + "\n" + cross_run_table(results) + "\n"
            + results_section(results, png_dir=png_dir.name, notes=NOTES))
    missing = [n for n in ORDER if n not in names]
    if missing:
        body += "\n### TODO: runs not yet made\n\n" + "\n".join(
            f"- `{n}`: `{_command_of(n, table, runs)}` (needs {_needs(n, table)})" for n in missing) + "\n"
    _replace_section(body, results_md)
    return names


GOAL_RIVALS = (("dense", "dense"), ("bm25", "BM25"), ("hybrid", "hybrid"), ("hybrid_tuned", "hybrid tuned"))


def goal_table(results: list[dict]) -> str:
    """Issue 8's goal at a glance: the shipped default against the best of dense, BM25 and the hybrid without
    synthetic queries, on nDCG@10 and Recall@10, with the lift over dense and its 95% interval."""
    def metric(r, key, m):
        sys_ = next((s for s in r["systems"] if s["key"] == key), None)
        return sys_["metrics"][m] if sys_ else None

    rows = ["### Summary: the default profile against the best single leg and the hybrid without synthetic queries",
            "", "nDCG@10 / Recall@10 on each run's test split (the pool run names its hybrid `rrf_dense_bm25`). "
            "`default` is the profile the run used as the shipped default (recorded in its result.json). Rows whose "
            "generator says \"train queries as real\" also hold the train split's queries as real queries (next "
            "table); their rivals read no query at all, so those rows measure the blend, not issue 8's goal.", "",
            "| run | generator | " + " | ".join(label for _, label in GOAL_RIVALS) + " | rag_augment default | "
            "default - dense, nDCG@10 [95% CI] | default - best rival, nDCG@10 / R@10 |",
            "|---|---|" + "---:|" * (len(GOAL_RIVALS) + 3)]
    for r in results:
        keys = {k: ("rrf_dense_bm25" if k == "hybrid" and r["run"]["name"] == "pool-qwen15b" else k)
                for k, _ in GOAL_RIVALS}
        cells, best = [], {"nDCG@10": 0.0, "R@10": 0.0}
        for k, _ in GOAL_RIVALS:
            n, rc = metric(r, keys[k], "nDCG@10"), metric(r, keys[k], "R@10")
            cells.append("-" if n is None else f"{n:.3f} / {rc:.3f}")
            if n is not None:
                best = {"nDCG@10": max(best["nDCG@10"], n), "R@10": max(best["R@10"], rc)}
        n, rc = metric(r, "rag_augment", "nDCG@10"), metric(r, "rag_augment", "R@10")
        lift = next((x for x in r["lifts"] if x["system"] == "rag_augment" and x["reference"] == "dense"
                     and x["metric"] == "nDCG@10"), None)
        lift_s = f"{100 * lift['delta']:+.1f} [{100 * lift['lo']:+.1f}, {100 * lift['hi']:+.1f}]" if lift else "-"
        gen = r["run"]["generator"]
        gen_s = {"rules": "rules", "none": "none"}.get(gen.get("generator"), "local 1.5B")
        if r["index"].get("real_from_train"):
            gen_s += " + train queries as real"
        rows.append(f"| {r['run']['name']} | {gen_s} | " + " | ".join(cells) + f" | {n:.3f} / {rc:.3f} | {lift_s} | "
                    f"{100 * (n - best['nDCG@10']):+.1f} / {100 * (rc - best['R@10']):+.1f} |")
    return "\n".join(rows) + "\n"


# Runs over the same test queries that differ in one thing: (A, B, what A adds to B).
CROSS_RUNS = (
    ("scifact1k-qwen15b-real", "scifact1k-qwen15b", "train claims as real queries, on top of the model's queries"),
    ("scifact1k-qwen15b-real", "scifact1k-none-real", "the model's queries, on top of the train claims as real"),
    ("sample_kb-qwen15b-real", "sample_kb-qwen15b", "train questions as real queries, on top of the model's"),
    ("sample_kb-qwen15b-real", "sample_kb-none-real", "the model's queries, on top of the train questions as real"),
)


def cross_run_table(results: list[dict]) -> str:
    """The shipped default's lift from one run to another on the same queries (paired bootstrap, as in a run)."""
    import numpy as np

    from rag_augment.eval import metrics as M

    by_name = {r["run"]["name"]: r for r in results}
    rows = ["### Real queries and synthetic queries, blended", "",
            "The shipped default in two runs over the same test queries that differ in one thing (paired bootstrap "
            "95% intervals, 5,000 resamples, seed 0; points x100).", "",
            "The last column splits the nDCG@10 lift by whether a test query's relevant document holds a real query "
            "(the blend's train queries): where it does, and where it does not.", "",
            "| A | B | what A adds to B | nDCG@10 A / B | dnDCG@10 [95% CI] | dR@10 [95% CI] | nDCG@10 wins/losses "
            "| dnDCG@10 with a real query / without |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    for a, b, what in CROSS_RUNS:
        ra, rb = by_name.get(a), by_name.get(b)
        if ra is None or rb is None or ra["query_ids"] != rb["query_ids"]:
            continue
        cells = []
        for m in ("nDCG@10", "R@10"):
            x, y = (np.asarray(r["per_query"]["rag_augment"][m]) for r in (ra, rb))
            d, lo, hi = M.paired_bootstrap(x, y, n=5000, seed=0)
            cells.append(f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            if m == "nDCG@10":
                wins, losses, _ = M.wins_losses(x, y)
                means = f"{x.mean():.3f} / {y.mean():.3f}"
        rows.append(f"| {a} | {b} | {what} | {means} | {cells[0]} | {cells[1]} | {wins}/{losses} | "
                    f"{_split_by_cover(ra, rb)} |")
    return "\n".join(rows) + "\n" if len(rows) > 8 else ""


def _split_by_cover(ra: dict, rb: dict) -> str:
    import numpy as np

    covered = set((ra["index"].get("real_from_train") or {}).get("covered_queries", ()))
    if not covered:
        return "-"
    x, y = (np.asarray(r["per_query"]["rag_augment"]["nDCG@10"]) for r in (ra, rb))
    mask = np.array([q in covered for q in ra["query_ids"]])
    parts = [f"{100 * (x[m] - y[m]).mean():+.1f} ({int(m.sum())} queries)" if m.any() else "-" for m in (mask, ~mask)]
    return " / ".join(parts)


# Reading of each run, written after looking at its numbers (kept here so regenerating keeps them).
NOTES: dict[str, str] = {
    "pool-qwen15b": """
Cross-check with `shared/experiments/scifact_pool_qwen15b/README.txt` (same 100 queries, 663 documents,
generations, no filters, every leg in full). Reproduced exactly (README value in brackets): dense 0.647 / R@10 0.846
(0.647 / 0.846); children only 0.680 / 0.857 (0.680 / 0.857, 30/23); max(parent, best child) 0.710 / 0.896
(0.710 / 0.896, +6.3 [+1.8, +10.8] vs +6.3 [+1.8, +10.9], 29/18); parent + 0.5 x child 0.692 / 0.873
(0.692 / 0.873); questions only 0.684 / 0.886 (0.684 / 0.886); claims only 0.647 / 0.844 (0.647 / 0.844); BM25 as
the experiment computed it (rank_bm25's Okapi formula re-implemented in `rag_augment/eval/memory.py`, lower-cased alphanumeric
tokens, no stemming) 0.648 / 0.834 (0.648 / 0.834) and with Q + C appended 0.662 / 0.853 (0.661 / 0.853); RRF(dense,
that BM25) 0.691 / 0.876 (0.691 / 0.876). Bootstrap intervals differ in the last digit only (another random stream).
Not reproduced exactly: RRF(parent, children) 0.680 vs 0.684 and RRF(dense, children, BM25-as-experiment) 0.729 / 0.927
vs 0.726 / 0.917; our children leg ranks each parent by its best query (ranks by best child, by child rank, 0-based
ranks, truncated lists and summed children were tried: none gives 0.684), so the experiment's children ranking
for RRF must differ in a detail it does not describe. The QA-extractor rows depend on the exact text layout, which the
README does not give; ours is LlamaIndex's default template (questions before the text): 0.664 / 0.854 (README
"prepended" 0.669 / 0.871; "appended" 0.665 / 0.846 vs 0.657 / 0.846).
Our own BM25 leg (bm25s with Snowball stemming and stop words) is much stronger here than the experiment's unstemmed
BM25: 0.700 vs 0.648 nDCG@10, so every row with our BM25 is higher than the README's (RRF(dense, BM25) 0.739 vs 0.691;
RRF(dense, children, BM25) 0.742 vs 0.726). With it, rag_augment's shipped default profile (a weighted sum of
normalised scores: chunk vectors, synthetic-query vectors as their own leg, chunk BM25 at 0.5, the Doc2Query BM25
leg at 1.5, BM25 over the synthetic queries at 0.75) reaches 0.748 / 0.906: +10.0 [+5.5, +14.6] nDCG@10 over
dense, but only +0.9 [-1.5, +3.3] nDCG@10 (20 queries up, 9 down) and -1.0 [-3.0, +0.0] Recall@10 against the same
hybrid without synthetic queries: on this pool the small model's queries add little once a stemmed BM25 leg is
there. (Earlier defaults, chosen the same way on train sets only: 0.761 / 0.938 and 0.743 / 0.916; see "Shipped
default profile".) Latency here is not representative: every leg was retrieved in full
(1,000 chunks and 5,000 query vectors per query).
""",
    "scifact-rules": """
Reading. The issue-3 bar against the chunks-only baseline is met: the shipped default +6.8 [+4.1, +9.6] nDCG@10
and +5.2 [+1.9, +8.7] Recall@10 over dense, the profile tuned on train +7.1 [+4.5, +9.7] and +4.6 [+1.4, +7.7], and
the default beats (d) by +9.0 and (e) by +15.8. But the honest question has a plain answer: the rules generator's
queries add nothing on SciFact. The lift comes from the BM25 legs and from tuning: the hybrid without synthetic
queries, tuned the same way on the same 809 train claims, scores about the same (0.722; the tuned profile 0.719,
-0.3 [-1.6, +1.0]; the default 0.716, -0.5 [-2.0, +0.9]); both profiles keep the query vectors only as a separate
leg beside the chunk vectors. Why: SciFact's queries are expert claims; the rules generator writes template
questions around the title and noun phrases of the abstract ("What is known about <title>?", "What about
<phrase>?") plus one keyword query. They hold only the abstract's own words (nothing a user would add), so BM25
and the chunk vector already see them, and their cosine to a short claim is inflated by short-text
similarity and the shared template words: alone they rank worse than the chunks (0.574 vs 0.648), and a
max(chunk, best query) merge lets a wrong abstract's template question outrank the right abstract's chunk. A
weighted sum with the query vectors as their own leg (the default and the tuned profile) stops that, but does not
make the queries useful. The all-legs profile (RRF, max merge) is worse still (0.646): BM25 over the template queries matches their boilerplate. What should
help, as the pool run shows for real model output (+6.3 from max(chunk, best query) over dense): abstractive,
claim-style queries from an LLM (few-shot from the train claims); the local model's runs on the 1,000-document
subset below are the test of that. Latency columns are per query on a shared machine; see "Search latency".
""",
    "scifact1k-qwen15b": """
Reading. The issue-3 goal is met with the embedded local model on 1,000 documents: the shipped default profile
beats chunks-only dense by +5.6 [+2.8, +8.4] nDCG@10 and +5.4 [+2.2, +8.8] Recall@10, and beats (d) the LlamaIndex
QuestionsAnswered recipe (+5.4 [+2.7, +8.2]) and (e) the LangChain MultiVector recipe (+8.5 [+5.5, +11.6]) on the
same generated queries. The issue-8 goal is not met: the hybrid without synthetic queries scores about the same
(0.785 / 0.910 vs 0.788 / 0.912; +0.3 [-1.4, +1.9], 43 queries up, 31 down), and tuned on the same 328 train
claims it is a little higher on nDCG@10 (0.799; the default is -1.2 [-2.7, +0.2] below it, +0.8 [-1.0, +2.6] on
Recall@10). What the model's queries add to dense retrieval
(max(chunk, best query) is +6.3 over dense on the pool run) is the same thing the stemmed BM25 leg adds: the
questions and claims restate the abstract's own terms (the claims often copy a sentence), so they rescue the same
claims that exact-term matching already rescues. Tuning could not find a combination that uses them better: on the
328 train claims the profile tuned here gains 0.003 nDCG@10 over the default (0.843 -> 0.846), within noise, and
the hybrid tuned the same way reaches 0.842 without them. Wanted for a real gain: queries with words the abstract
does not contain (few-shot in the users' claim style from the train split), measured on this same subset; about
2.4 hours of generation here, not done. What does lift this subset is real data: see scifact1k-qwen15b-real.
""",
    "scifact1k-qwen15b-d2qminus": """
Reading. Doc2Query-- filtering does not help here: dropping the 30% of each batch's queries least similar to their
own abstract (1,779 dropped, besides 590 near-duplicates and over-long ones) lowers the default from 0.788 to 0.779
nDCG@10 (now -0.6 [-2.3, +1.1] under the hybrid without synthetic queries) and the synthetic vectors alone from
0.721 to 0.683. It supports the reading of the unfiltered run: the queries least like their abstract are the ones
that carry words the abstract lacks, and they are the useful ones; the near-copies kept by the filter add nothing
that BM25 does not. (Doc2Query-- filtered for a sparse model whose expansion terms can drift off topic; a dense
child vector that drifts costs less than it does there.)
""",
    "sample_kb-qwen15b": """
Reading. With the local model's queries (hr_policy prompt, 5 questions and 2 paraphrases per heading), sample_kb
still cannot separate systems at the document level: dense alone has Recall@10 1.000 and nDCG@10 0.951; every
system but (c), (e) and (i) lies within 1 point of it, and all intervals include zero (default -0.2 [-3.0, +2.6]). The
synthetic vectors alone rank worse than the chunks (0.883), and the MultiVector recipe loses 11 points because its
k counts child vectors. The shipped default was tuned on this train half jointly with SciFact (see "Shipped default
profile" below); for a test that can tell systems apart, see handbook-rules (the same questions over the whole
246-page handbook; generating its 2,359 chunks with the local model would take about 3.5 hours here).
""",
    "scifact1k-qwen15b-real": """
Reading. Real data blended in: after tuning, each of the 328 covered train claims is stored as a real query of
each of its relevant abstracts (351 vectors; 2 train claims are word for word test claims and were skipped). The
shipped default rises from 0.788 to 0.889 nDCG@10 (+10.1 [+7.7, +12.7], 62 claims up, 2 down; table "Real
queries and synthetic queries, blended": +15.8 on the 193 test claims whose abstracts now hold a real query,
-0.1 on the other 107) and is 9.0 [+6.2, +11.9] points above the tuned hybrid, which reads no
query. Read it with care: SciFact writes several claims per cited abstract (196 of the 300 test claims cite an
abstract that some train claim also cites, often the same finding reworded or negated), so a knowledge base's
query log will overlap its future questions less. What it shows is the blend working: real questions attached to
their chunks are found by the vector and the lexical legs alike, and the synthetic queries do not get in their way.
""",
    "scifact1k-none-real": """
Reading. The same blend with no synthetic query at all (`--generator none`): 0.892 / 0.939, against 0.889 / 0.950
with the model's queries as well, so on top of the real claims the model's queries add -0.3 [-1.8, +1.2] nDCG@10
and +1.1 [-0.8, +3.1] Recall@10: nothing measurable overall. Split by coverage it is two opposite effects: on the
107 test claims whose abstracts hold no real query the model's queries add +3.1 nDCG@10, and on the 193 whose
abstracts do they cost -2.1 (a synthetic query of another abstract outranks the right abstract's real one).
With this 1.5B generator, real queries are worth far more than synthetic ones wherever they exist, and synthetic
queries earn their place on the chunks no real query has reached. A kind weight that puts real queries above
synthetic ones does not fix the loss on train (benchmarks/studies/real_weight: +0.3 [-0.2, +0.8] at 1.5, within
noise), so the default keeps all kinds at 1.
""",
    "sample_kb-qwen15b-real": """
Reading. sample_kb is at the ceiling (Recall@10 1.000 for every system but (c) and (e)): the train half's
questions as real queries move the default from 0.949 to 0.956 nDCG@10 (+0.6 [-0.9, +2.5]).
""",
    "sample_kb-none-real": """
Reading. Without synthetic queries the blend scores 0.955; the model's queries add +0.1 [-2.8, +3.0] on top of the
real ones. No measurable difference either way on this set.
""",
    "sample_kb-rules": """
Reading. sample_kb is too easy at the document level to separate systems: 20 documents, and dense alone already
has Recall@10 1.000 and nDCG@10 0.951, so every difference is within noise (rag_augment default +0.9 [-2.2, +4.0],
tuned +1.4 [-0.7, +3.6] over dense; tuned vs the tuned hybrid +0.4 [-1.5, +2.3]). The tuned profile (train
nDCG@10 0.975 -> 0.992 on 94 queries) is written to rag_augment/profiles/sample_kb.json. As on SciFact, the
all-legs profile loses (-3.4): BM25 over the rules
generator's template queries ("rules for X", "X guidelines") matches boilerplate shared by many chunks. For a test
that can separate systems, see `handbook-rules` (the same labelled queries over the whole 246-page handbook).
""",
    "xquad-rules": """
Reading (a smoke test: 240 paragraphs, crowd questions that copy the paragraph's words; BM25 alone has R@1 0.936).
The rules generator's query vectors hurt here: alone they lose 18.8 points to dense (template questions whose
cosines outrank the right paragraph's own vector). The shipped default beats dense by +2.3 [+1.4, +3.3] and is
level with BM25 alone (nDCG@10 -0.1 [-0.7, +0.5], Recall@10 +0.5 [+0.2, +0.9]) and with the hybrid without
synthetic queries (-0.3 [-0.9, +0.3], +0.1 [-0.2, +0.4]): on a set where BM25 wins, it is as good as the best leg
within noise (the previous default was 0.5 under BM25). There is no train split to tune on; the rows "profile
scifact" and "profile sample_kb" show how the profiles tuned elsewhere carry over.
""",
}


def _command_of(name: str, table: dict[str, list[str]], runs: str) -> str:
    if name == "pool-qwen15b":
        return "python -m benchmarks.run_benchmarks pool"
    return f"rag-augment eval {' '.join(table[name])} --name {name} --out {runs}/{name}"


def _needs(name: str, table: dict[str, list[str]]) -> str:
    if name == "pool-qwen15b":
        return f"{shown(CACHE / 'scifact_pool_qwen15b.jsonl')} and the pool experiment in the shared folder"
    args = table[name]
    return args[args.index("--cache") + 1] if "--cache" in args else "nothing but the data set"


def _replace_section(body: str, results_md: Path) -> None:
    """Replace only this file's Retrieval quality section; other sections stay as others wrote them."""
    text = results_md.read_text() if results_md.exists() else "# Results\n"
    block = (f"{SECTION}\n\n<!-- generated by benchmarks/run_benchmarks.py: edit the intro there -->\n\n"
             f"{INTRO}\n{body}")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    results_md.write_text(text)


INTRO = """Every run below scores the same index with several systems (same chunks, same embedder, same
generated queries from one cache; see rag_augment/eval/systems.py for exactly what each system does). Metrics are
on distinct documents; lifts are paired bootstrap 95% intervals (5,000 resamples, seed 0) in points x100;
latency is per query on the machine named, embedding included, measured at the eval depth; a system's legs are
timed one at a time and added (the runs below predate 2026-11-28, when the product path began searching its legs
at once: "Search latency" below measures both ways).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_benchmarks",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help=f"pool and/or {', '.join(RUN_NAMES)}")
    ap.add_argument("--results-only", action="store_true",
                    help="only rewrite RESULTS.md (and the README block) from the committed per-query files")
    ap.add_argument("--runs-only", action="store_true",
                    help="make the runs and their per-query files, leave RESULTS.md and README.md alone")
    ap.add_argument("--per-query-dir", type=Path, default=PER_QUERY_DIR,
                    help="where each run's per-query file goes and the tables are read from "
                         "(default: benchmarks/results/per_query)")
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/, experiments/ and kb/ (default: ../shared beside the repository)")
    ap.add_argument("--runs-dir", type=Path, default=RUNS, help="run folders (default: benchmarks/runs)")
    ap.add_argument("--results", type=Path, default=RESULTS_MD,
                    help="the RESULTS.md whose Retrieval quality section is rewritten (default: benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.runs if n not in ("pool", "pool-qwen15b", *RUN_NAMES)]
    if unknown:
        ap.error(f"unknown run {unknown[0]!r}")
    # Paths given here are read from the caller's folder; the runs then work from the repository root, so that
    # each run records its command with repository-relative paths that reproduce it in any clone.
    shared, runs, results_md = shown(args.shared), shown(args.runs_dir), args.results.resolve()
    os.chdir(REPO_ROOT)
    per_query_dir = args.per_query_dir.resolve()
    for name in [] if args.results_only else args.runs:
        if name in ("pool", "pool-qwen15b"):
            result = run_pool(shared, runs)
        else:
            result, _ = command.execute(_parse(name, shared, runs), progress=log_progress)
        path = write_per_query(result, per_query_dir / f"{result['run']['name']}.json.gz")
        print(f"{shown(path)}: {path.stat().st_size // 1024} KiB", file=sys.stderr)
    if args.runs_only:
        return 0
    print("RESULTS.md: " + ", ".join(write_results(shared, runs, results_md)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
