"""Does a prompt in the users' style write more useful queries? An A/B on SciFact TRAIN claims only (never test).

Dev set: 100 of the 328 train claims whose relevant abstracts all lie in the 1,000-document subset
(benchmarks/data_prep/subsets/scifact_test_1000.json), drawn with a seed; the other train claims are the only
source of style examples. Documents: the dev claims' relevant abstracts plus seeded distractors from the subset,
200 in all.

- Arm A: the shared experiment's prompt; its generations for every subset abstract are already in
  benchmarks/cache/scifact_test1000_qwen15b.jsonl, so nothing is generated.
- Arm B: the same model, sampling parameters, abstract cut and output format, but the claims are asked for in
  the users' style: five train claims (not dev) are shown as examples, and the claims must state the finding in
  a reader's words rather than copy the abstract. Generated here into
  benchmarks/cache/scifact_study_fewshot_qwen15b.jsonl (resumable: only missing abstracts are generated).

Both arms index the whole 1,000-document subset (200 documents alone put dense retrieval at the ceiling) and differ
only in the 200 study documents' queries; the eval harness scores them on the 100 dev claims with the shipped
default and every offline system (no tuning: the profile is the same for both).

    python -m benchmarks.studies.prompt_style.study [--parallel 16] [--generate-only]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

from benchmarks.data_prep.generate_scifact_subset import generate_into  # arm A's parameters, same loop
from benchmarks.data_prep.import_pool_generations import CHUNKING, IDENTITY
from benchmarks.paths import CACHE, RUNS, SCIFACT, SUBSETS, shown
from rag_augment.cache import GenerationCache
from rag_augment.chunking import chunk_documents
from rag_augment.eval.datasets import EvalDataset, load_dataset, restrict
from rag_augment.generators.base import identity_key
from rag_augment.hashing import stable_json_hash

MODULE = "benchmarks.studies.prompt_style.study"
SUBSET = SUBSETS / "scifact_test_1000.json"
CACHE_A = CACHE / "scifact_test1000_qwen15b.jsonl"
CACHE_B = CACHE / "scifact_study_fewshot_qwen15b.jsonl"
N_DEV, N_DOCS, N_EXAMPLES, SEED = 100, 200, 5, 0

INSTRUCTION_B = ("Write 3 different questions a researcher might search for that this abstract answers, then 3 "
                 "short one-sentence scientific claims that this abstract supports or contradicts, written like "
                 "the example claims below: one finding each, stated plainly in a reader's own words (other terms "
                 "than the abstract's where they exist), not copied from the abstract. Format: Q: ... (x3) C: ... "
                 "(x3)\nExample claims:\n")


def study_sets(ds: EvalDataset, subset: dict) -> tuple[list[str], list[str], list[str]]:
    """(dev claim ids, example claim texts, document ids): deterministic from SEED."""
    covered = sorted(q for q in subset["queries"] if q in ds.split("train"))
    rng = random.Random(SEED)
    dev = sorted(rng.sample(covered, N_DEV))
    dev_texts = {ds.queries[q].strip().lower() for q in dev}
    others = [q for q in covered if q not in set(dev) and ds.queries[q].strip().lower() not in dev_texts]
    examples = [ds.queries[q] for q in rng.sample(others, N_EXAMPLES)]
    relevant = sorted({d for q in dev for d, g in ds.split("train")[q].items() if g > 0})
    rest = sorted(set(subset["docs"]) - set(relevant))
    docs = sorted(set(relevant) | set(rng.sample(rest, N_DOCS - len(relevant))))
    return dev, examples, docs


def identity_b(examples: list[str]) -> dict:
    prompt = {**IDENTITY["prompt"], "user": "<title>\n<the first 200 words of the abstract>\n" + INSTRUCTION_B
              + "\n".join(f"- {e}" for e in examples)}
    return {**IDENTITY, "prompt_version": "scifact-fewshot-claims-2026-11-27", "prompt": prompt,
            "prompt_hash": stable_json_hash(prompt), "examples": examples,
            # part of the cache key of CACHE_B's entries: the script's path when they were generated, kept as is
            "source": "eval/prompt_study_scifact.py (2026-11-27)"}


def messages_b(title: str, abstract: str, examples: list[str]) -> list[dict[str, str]]:
    words = " ".join(abstract.split()[:200])
    user = f"{title}\n{words}\n{INSTRUCTION_B}" + "\n".join(f"- {e}" for e in examples)
    return [{"role": "system", "content": IDENTITY["prompt"]["system"]}, {"role": "user", "content": user}]


def generate_b(ds_folded: EvalDataset, docs: list[str], examples: list[str], parallel: int, scifact: Path,
               cache_b: Path) -> dict:
    ident = identity_b(examples)
    cache = GenerationCache(cache_b)
    raw = {d.doc_id: d for d in load_dataset(scifact, title_in_text=False).documents}
    chunks = chunk_documents([d for d in ds_folded.documents if d.doc_id in set(docs)], CHUNKING)
    todo = [c for c in chunks if cache.get(ident, c) is None]
    print(f"arm B: {len(chunks)} abstracts, {len(todo)} to generate -> {shown(cache_b)}", flush=True)
    if todo:
        from rag_augment.generators.llama_cpp import LlamaCppBackend
        backend = LlamaCppBackend(n_ctx=1024, parallel=parallel, kv_unified=False)  # 1,024 tokens per stream
        generate_into(cache, ident, todo, lambda c: messages_b(raw[c.doc_id].title, raw[c.doc_id].text, examples),
                      backend, parallel)
    return ident


def mixed_cache(study_docs: set[str], arm_ident: dict, arm_cache: Path, arm: str, cache_a: Path, runs: Path
                ) -> Path:
    """An arm over the whole subset: its generations for the study documents, A's for the rest, under one
    identity that says so (a gitignored, rebuilt file in `runs`: the committed caches stay as generated)."""
    ident = {**arm_ident, "mixed": f"{shown(cache_a)} for documents outside the study"}
    key = identity_key(ident)
    path = runs / f"study-{arm}" / "mixed.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for source, keep in ((arm_cache, lambda doc: doc in study_docs), (cache_a, lambda doc: doc not in study_docs)):
            with open(source, encoding="utf-8") as lines:
                for line in lines:
                    rec = json.loads(line)
                    if keep(rec["chunk_id"].split("#")[0]):
                        out.write(json.dumps({**rec, "identity_key": key, "identity": ident}) + "\n")
    return path


def copied_share(cache: Path, abstracts: dict[str, str]) -> float:
    """How much of what the model calls a claim is the abstract's own vocabulary (1.0 = every word copied)."""
    pairs = []
    with open(cache, encoding="utf-8") as lines:
        for line in lines:
            rec = json.loads(line)
            doc = rec["chunk_id"].split("#")[0]
            pairs += [(text, doc) for text, kind in rec["queries"] if kind == "claim" and doc in abstracts]
    return share_in(pairs, abstracts)


def share_in(pairs: list[tuple[str, str]], abstracts: dict[str, str]) -> float:
    """Share of the words of 4+ letters of each (text, doc) that occur in that document's text."""
    found = total = 0
    for text, doc in pairs:
        words = {w.strip(".,;:()") for w in abstracts[doc].replace("-", " ").split()}
        tokens = [w.strip(".,;:()") for w in text.lower().replace("-", " ").split()]
        tokens = [w for w in tokens if len(w) >= 4]
        found += sum(w in words for w in tokens)
        total += len(tokens)
    return found / total if total else 0.0


def dev_dataset(folded: EvalDataset, dev: list[str], subset: dict) -> EvalDataset:
    """The whole 1,000-document subset (200 documents alone put dense at the ceiling), scored on the dev claims:
    the arms differ only in the 200 study documents' queries."""
    ds = restrict(folded, subset["docs"], dev, {"study": f"{MODULE}: 100 train claims as dev"})
    ds.qrels = {"dev": ds.split("train")}
    return ds


def score_arms(ds: EvalDataset, caches: dict[str, Path], command: str, runs: Path) -> tuple[dict, dict]:
    """Run the eval harness on each arm's cache, each in runs/study-<arm>: (arm -> system -> metrics,
    arm -> per-query metrics)."""
    from rag_augment.eval.harness import EvalSpec, run_eval
    from rag_augment.eval.replay import ReplayGenerator
    from rag_augment.eval.report import write_run

    rows, per_query = {}, {}
    for arm, cache in caches.items():
        out = runs / f"study-{arm}"
        spec = EvalSpec(name=f"study-{arm}", split="dev", chunking=CHUNKING, command=command)
        result = run_eval(ds, ReplayGenerator(cache), out, spec, cache_path=cache)
        write_run(result, out)
        rows[arm] = {s["key"]: s["metrics"] for s in result["systems"]}
        per_query[arm] = result["per_query"]
    return rows, per_query


def print_arms(rows: dict, per_query: dict, base: str) -> None:
    """The side-by-side table, then each arm minus `base` (paired bootstrap) for the systems that read queries."""
    from rag_augment.metrics import paired_bootstrap

    print("| system | " + " | ".join(f"{a} nDCG@10 / R@10" for a in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for key in rows[base]:
        cells = [f"{rows[a][key]['nDCG@10']:.3f} / {rows[a][key]['R@10']:.3f}" for a in rows]
        print(f"| {key} | " + " | ".join(cells) + " |")
    for arm in rows:
        if arm == base:
            continue
        print(f"\n{arm} - {base}, paired bootstrap (5,000 resamples, seed 0), points x100:")
        for key in ("rag_augment", "synthetic", "bm25_doc2query", "qa_extractor"):
            cells = []
            for m in ("nDCG@10", "R@10"):
                a, b = np.asarray(per_query[base][key][m]), np.asarray(per_query[arm][key][m])
                d, lo, hi = paired_bootstrap(b, a, n=5000, seed=0)
                cells.append(f"{m} {100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            print(f"- {key}: " + "; ".join(cells))


def print_copied(folded: EvalDataset, ds: EvalDataset, dev: list[str], docs: list[str],
                 caches: dict[str, Path]) -> None:
    print("\nShare of the claims' words (4+ letters) that occur in their own abstract, the 200 study documents:")
    text = {d.doc_id: d.text.lower() for d in folded.documents if d.doc_id in set(docs)}
    for arm, path in caches.items():
        print(f"- {arm}: {copied_share(path, text):.3f}")
    real = [(ds.queries[q], d) for q in dev for d in ds.split("dev")[q] if d in text]
    print(f"- the 100 dev claims themselves (real users), against their relevant abstracts: "
          f"{share_in(real, text):.3f}")


def add_path_args(ap: argparse.ArgumentParser) -> None:
    """The inputs and work folder this study shares with the ones built on it (avoid_copy)."""
    ap.add_argument("--dataset", type=Path, default=SCIFACT,
                    help="the SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    ap.add_argument("--subset", type=Path, default=SUBSET, help="the 1,000-document subset (data_prep/subsets)")
    ap.add_argument("--cache-a", type=Path, default=CACHE_A, help="arm A's generations (the experiment's prompt)")
    ap.add_argument("--cache-b", type=Path, default=CACHE_B, help="arm B's generations (generated if missing)")
    ap.add_argument("--runs-dir", type=Path, default=RUNS, help="work folders study-<arm> (default: benchmarks/runs)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--generate-only", action="store_true")
    add_path_args(ap)
    args = ap.parse_args(argv)
    folded = load_dataset(args.dataset)
    subset = json.loads(args.subset.read_text())
    dev, examples, docs = study_sets(folded, subset)
    generate_b(folded, docs, examples, args.parallel, args.dataset, args.cache_b)
    if args.generate_only:
        return 0
    ds = dev_dataset(folded, dev, subset)
    mixed = mixed_cache(set(docs), identity_b(examples), args.cache_b, "B-fewshot-claims", args.cache_a,
                        args.runs_dir)
    rows, per_query = score_arms(ds, {"A-experiment-prompt": args.cache_a, "B-fewshot-claims": mixed},
                                 f"python -m {MODULE}", args.runs_dir)
    print_arms(rows, per_query, "A-experiment-prompt")
    print_copied(folded, ds, dev, docs, {"A-experiment-prompt": args.cache_a, "B-fewshot-claims": args.cache_b})
    return 0


if __name__ == "__main__":
    sys.exit(main())
