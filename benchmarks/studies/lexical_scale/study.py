"""Should a lexical leg that matched only common words count for less? Train queries only.

Min-max (the shipped default's normalisation) maps every leg's best hit to 1, however weak: a paraphrased question
whose only shared words are common ones ("does the government pay for my commute" matches court leave on
"government") still gets a full-weight lexical vote. Here each lexical leg's BM25 scores are divided by the query's
ideal score (the sum of its terms' idf in that leg's index, an unknown term counting as the rarest; the score of an
average-length document holding each term once), and the legs are fused without per-query rescaling ("none":
cosines and scaled BM25 as they are), so weak lexical evidence weighs little. The fusion is tuned both ways on
SciFact-subset train (328 claims) and sample_kb train (94 questions), jointly and per set, with and without
synthetic queries; the saved train legs come from `python -m benchmarks.run_benchmarks scifact1k-qwen15b
sample_kb-qwen15b`.

    python -m benchmarks.studies.lexical_scale.study [--runs-dir benchmarks/runs]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.paths import RUNS, SCIFACT, load_named_profile, profile_names
from rag_augment import fusion
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.datasets import load_dataset
from rag_augment.eval.harness import TRAIN_LEGS_FILE
from rag_augment.eval.systems import EVAL_DEPTH, QueryLegs, hybrid_profile
from rag_augment.eval.tune import TuneSet, evaluate, load_tune_set, tune_profile
from rag_augment.profiles import load_profile

LEG_INDEX = {"chunk_lexical": "chunks", "query_lexical": "queries", "doc2query_lexical": "doc2query"}


def ideal_score(bm25):
    """tokens -> the sum of their idf (bm25s' Lucene idf) in this index."""
    model = bm25.model
    df = np.diff(np.asarray(model.scores["indptr"]))  # column pointers: documents per token
    n, vocab = model.scores["num_docs"], model.vocab_dict
    return lambda tokens: sum(math.log(1 + (n - (df[vocab[t]] if t in vocab else 0) + 0.5)
                                       / ((df[vocab[t]] if t in vocab else 0) + 0.5)) for t in tokens)


def scaled(run: Path, dataset: str | Path) -> tuple[TuneSet, TuneSet]:
    """The run's train legs as saved, and with each lexical leg divided by the query's ideal score."""
    ts = load_tune_set(run / TRAIN_LEGS_FILE)
    ds = load_dataset(dataset)
    index = AugmentIndex(run / "index", collection="eval", cache_path=run / "study-unused-cache.jsonl")
    _ = index.retriever  # the property loads the lexical index
    lex = index.lexical
    ideal = {leg: ideal_score(lex._legs[name]) for leg, name in LEG_INDEX.items()}
    legs = {}
    for q, ql in ts.legs.items():
        tokens = lex.tokenize(ds.queries[q])
        new = dict(ql.legs)
        for leg, f in ideal.items():
            if leg in new:
                z = f(tokens) or 1.0
                new[leg] = [(p, s / z) for p, s in new[leg]]
        legs[q] = QueryLegs(legs=new, child_rank=ql.child_rank)
    return ts, TuneSet(ts.name, legs, ts.qrels, ts.chunk_doc)


def per_set(result) -> str:
    return ", ".join(f"{k} {v['tuned']['nDCG@10']:.4f}" for k, v in result.per_set.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.lexical_scale.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--runs-dir", type=Path, default=RUNS,
                    help="holds the scifact1k-qwen15b and sample_kb-qwen15b run folders (default: benchmarks/runs)")
    ap.add_argument("--dataset", type=Path, default=SCIFACT,
                    help="the SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    args = ap.parse_args(argv)
    runs = [(args.runs_dir / "scifact1k-qwen15b", args.dataset), (args.runs_dir / "sample_kb-qwen15b", "sample_kb")]
    for run, _ in runs:
        if not (run / TRAIN_LEGS_FILE).exists():
            raise SystemExit(f"{run}: no saved train legs; run `python -m benchmarks.run_benchmarks {run.name}` first")
    fusion.NORMALIZERS["none"] = lambda scores: (0.0, 1.0)  # this study only: scores as they are, clipped
    pairs = [scaled(r, d) for r, d in runs]
    shipped = [load_profile("default")] + [load_named_profile(n) for n in profile_names() if n != "default"]
    print("Train nDCG@10, coordinate ascent from every shipped profile (and the same with normalize none), the "
          "tuned hybrid among the starts.\n")
    print("| train sets | lexical scores | tuned hybrid (no synthetic) | tuned rag_augment | its normalisation |")
    print("|---|---|---|---|---|")
    for label, pick in (("both", slice(None)), ("SciFact", slice(0, 1)), ("sample_kb", slice(1, 2))):
        for name, i, starts in (("raw BM25", 0, shipped),
                                ("/ ideal score", 1, [replace(p, normalize="none") for p in shipped] + shipped)):
            sets = [p[i] for p in pairs[pick]]
            hyb = tune_profile(sets, hybrid_profile(), "h", EVAL_DEPTH, synthetic=False,
                               also_from=[replace(hybrid_profile(), method="weighted", normalize="none")] if i else [])
            full = tune_profile(sets, starts[0], "x", EVAL_DEPTH, also_from=starts[1:] + [hyb.profile])
            print(f"| {label} | {name} | {hyb.score:.4f} ({per_set(hyb)}) | {full.score:.4f} ({per_set(full)}) | "
                  f"{full.profile.method} {full.profile.normalize} |", flush=True)
    default = load_profile("default")
    print("\nThe shipped default's weights as they are:")
    for name, i in (("raw BM25, min-max", 0), ("/ ideal score, none", 1)):
        p = default if i == 0 else replace(default, normalize="none")
        scores = [(pr[i].name, evaluate(p, pr[i].legs, pr[i].qrels, pr[i].chunk_doc)["nDCG@10"]) for pr in pairs]
        print(f"- {name}: " + ", ".join(f"{n} {v:.4f}" for n, v in scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
