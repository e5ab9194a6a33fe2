"""The blended SciFact runs again, under the guard and with synthetic queries stepping aside (issue 32, done-when:
"with real queries present, the synthetic queries cost nothing").

The two indexes of benchmarks/RESULTS.md, "Real queries and synthetic queries, blended", built exactly as
benchmarks/run_benchmarks.py builds scifact1k-qwen15b-real and scifact1k-none-real (the same `rag-augment eval`
arguments, parsed by the same code; the model's queries replayed from the committed cache; the train claims blended
in as real queries after the near-duplicate drop). Each of the 300 test claims is then searched through the product
path (LegSearch + fuse, as the harness scores its "rag_augment" system) under three versions of the shipped default:
before the guard (real_floor 0), as shipped (the guard), and with step_aside on. No tuning: nothing is chosen here.

    python -m benchmarks.lifecycle.blend              # builds both indexes (about 2 min on 2 cores), writes
                                                      # results/blend/scifact1k.json.gz and table.md
    python -m benchmarks.lifecycle.blend --render-only

The per-query file holds nDCG@10 and R@10 per index, profile and claim, and which claims' abstract holds a real query;
table.md is rendered from it (tests/results/test_lifecycle.py checks the committed table equals a fresh rendering, and
that the "before the guard" column reproduces the committed per-query files of the two eval runs).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lifecycle.files import read_json_gz, write_json_gz
from benchmarks.paths import RUNS, SHARED, command_line, shown

RESULTS = Path(__file__).resolve().parent / "results" / "blend"
FILE, TABLE = "scifact1k.json.gz", "table.md"
WITH, WITHOUT = "scifact1k-qwen15b-real", "scifact1k-none-real"   # the model's queries + real ones / real ones only
PROFILES = ("before the guard", "guard (shipped)", "guard + step aside")
METRICS = ("nDCG@10", "R@10")


def profiles() -> dict[str, Any]:
    from rag_augment.profiles import load_profile

    shipped = load_profile("default")
    return {"before the guard": replace(shipped, real_floor=0.0, step_aside=False),
            "guard (shipped)": shipped, "guard + step aside": replace(shipped, step_aside=True)}


def doc_replay(cache: Path, work: Path):
    """The committed replay cache, copied (indexing appends to its cache; the committed file stays as it is), that
    also answers a chunk whose hash moved since the cache was made by the one cached chunk of the same document:
    one abstract (41493639) has had its text normalised since (zero-width characters are stripped now), so the
    plain replay refuses it. Its queries are the model's for that abstract, as in the committed run."""
    from rag_augment.cache import read_records
    from rag_augment.errors import GenerationError
    from rag_augment.eval.replay import ReplayGenerator
    from rag_augment.generators.base import GenerationResult

    copy = work / cache.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache, copy)

    class DocReplay(ReplayGenerator):
        moved: list[str] = []

        def generate_batch(self, chunks):
            by_doc: dict[str, list[dict]] = {}
            for rec in read_records(self.cache_path)[0]:
                by_doc.setdefault(rec["chunk_id"].split("#")[0], []).append(rec)
            out = []
            for c in chunks:
                found = by_doc.get(c.chunk_id.split("#")[0], [])
                if len(found) != 1:
                    raise GenerationError(f"replay: {c.chunk_id} is not in {self.cache_path}")
                rec = found[0]
                self.moved.append(f"{rec['chunk_id']} -> {c.chunk_id}")
                queries = rec["queries"] if isinstance(rec["queries"], list) else json.loads(rec["queries"])
                out.append(GenerationResult(c.chunk_id, [(q, k) for q, k in queries], rec.get("raw", ""),
                                            rec.get("seconds", 0.0)))
            return out

    return DocReplay(copy), copy


def build(name: str, work: Path) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """One of the two eval runs' indexes, as run_benchmarks builds it, with no real query attached yet: (index,
    data set, eval spec, generator, index info)."""
    from benchmarks.run_benchmarks import _parse
    from rag_augment.chunking import chunk_documents
    from rag_augment.embedding import SentenceTransformerEmbedder
    from rag_augment.eval.command import _dataset, _generator, _spec
    from rag_augment.eval.harness import build_index, clear_human_queries

    args = _parse(name, shown(SHARED), shown(RUNS))
    ds, spec = _dataset(args), _spec(args, name)
    shutil.rmtree(work / name, ignore_errors=True)  # a fresh index every time, as the eval run builds it
    generator, cache = (doc_replay(Path(args.cache), work / name) if args.cache
                        else (_generator(args, ds), work / name / "generations.jsonl"))
    chunks = chunk_documents(ds.documents, spec.chunking)
    index, info = build_index(ds, chunks, generator, work / name / "index", spec, SentenceTransformerEmbedder(),
                              cache)
    clear_human_queries(index)
    info["argv"] = args.argv
    return index, ds, spec, generator, info


def covered_by(qrels: dict[str, dict[str, int]], documents: set[str]) -> list[str]:
    """The queries with a relevant document that holds a real query."""
    return sorted(q for q, rels in qrels.items() if any(g > 0 and d in documents for d, g in rels.items()))


def score(index: Any, queries: dict[str, str], qrels: dict[str, dict[str, int]], versions: dict[str, Any]
          ) -> dict[str, dict[str, list[float]]]:
    """nDCG@10 and R@10 per version of the profile and query (in `queries` order), through the product path. A
    version is a profile, or a function (LegSearch, text, embedding) -> (legs, profile to fuse them with)."""
    from rag_augment import metrics as M
    from rag_augment.eval.harness import chunk_docs
    from rag_augment.eval.systems import MAX_K
    from rag_augment.fusion import fuse

    chunk_doc, legs = chunk_docs(index), index.retriever.legs
    # one at a time, as users send them (a batch can round differently, and the committed runs embedded so)
    embedded = {qid: index.embedder.embed([text])[0] for qid, text in queries.items()}
    scores: dict[str, dict[str, list[float]]] = {}
    for label, prof in versions.items():
        rankings = {}
        for qid, text in queries.items():
            got_legs, fuse_with = (prof(legs, text, embedded[qid]) if callable(prof)
                                   else (legs.search(text, embedded[qid], prof).legs, prof))
            ranked, _ = fuse(got_legs, fuse_with, MAX_K)
            rankings[qid] = M.to_documents([p for p, _ in ranked], chunk_doc)[0]
        got = M.score_run(rankings, {q: qrels[q] for q in queries})
        scores[label] = {m: [round(float(v), 6) for v in got[m]] for m in METRICS}
    return scores


def build_and_score(name: str, work: Path, log=print) -> dict[str, Any]:
    from rag_augment.eval.harness import attach_train_queries

    t0 = time.perf_counter()
    index, ds, spec, generator, info = build(name, work)
    qrels = ds.split(spec.split)
    queries = {q: ds.queries[q] for q in sorted(qrels)}
    real = attach_train_queries(ds, index, spec.train_split or "train", queries.values())
    covered = covered_by(qrels, set(real.pop("documents")))
    scores = score(index, queries, qrels, profiles())
    log(f"{name}: {len(queries)} queries, {len(covered)} covered, {time.perf_counter() - t0:.0f}s")
    return {"command_args": info["argv"], "query_vectors": info["query_vectors"],
            "replayed_by_document": list(getattr(generator, "moved", [])),
            "real_from_train": {k: v for k, v in real.items() if k != "near_duplicates_dropped"},
            "covered_queries": covered, "query_ids": sorted(qrels), "scores": scores}


def write(folder: Path, record: dict[str, Any]) -> None:
    write_json_gz(folder / FILE, record)


def read(folder: Path = RESULTS) -> dict[str, Any]:
    return read_json_gz(folder / FILE)


def _cell(a: np.ndarray, b: np.ndarray, n: int) -> str:
    from rag_augment import metrics as M

    if not len(a):
        return "-"
    mean, lo, hi = M.paired_bootstrap(a, b, n=n, seed=0)
    wins, losses, _ = M.wins_losses(a, b)
    return f"{100 * mean:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] ({wins}/{losses})"


COMMITTED_VERSION = "guard (shipped)"  # the default the committed eval runs were made under (since 2026-12-06)


def reproduced(record: dict[str, Any]) -> dict[str, list[str]]:
    """Per run: the claims whose nDCG@10 or R@10 under the shipped default differs from the committed eval run's
    "rag_augment" system (benchmarks/results/per_query/<run>.json.gz)."""
    from benchmarks.run_benchmarks import PER_QUERY_DIR
    from rag_augment.eval.report import read_per_query

    out = {}
    for name in (WITH, WITHOUT):
        committed = read_per_query(PER_QUERY_DIR / f"{name}.json.gz")
        system = next(s for s in committed["systems"] if s["key"] == "rag_augment")
        ours = record["runs"][name]
        assert ours["query_ids"] == committed["query_ids"]
        out[name] = sorted({q for m in METRICS for q, a, b in zip(ours["query_ids"],
                                                                  ours["scores"][COMMITTED_VERSION][m],
                                                                  system["per_query"][m]) if abs(a - b) > 1e-6})
    return out


def table(record: dict[str, Any]) -> str:
    runs, n = record["runs"], record["bootstrap"]
    qids = runs[WITH]["query_ids"]
    assert qids == runs[WITHOUT]["query_ids"] and runs[WITH]["covered_queries"] == runs[WITHOUT]["covered_queries"]
    covered = set(runs[WITH]["covered_queries"])
    subsets = {"all": np.ones(len(qids), bool), "abstract holds a real query": np.array([q in covered for q in qids]),
               "abstract holds none": np.array([q not in covered for q in qids])}
    lines = ["# The model's queries on top of real ones: SciFact, blended", "",
             f"<!-- generated by python -m benchmarks.lifecycle.blend from {FILE} -->", "",
             f"Run {record['date']} on {record['machine']}, {record['seconds']:.0f} s; command `{record['command']}`. "
             f"Indexes built as benchmarks/run_benchmarks.py builds {WITH} (the model's queries, replayed, plus the "
             f"train claims as real queries) and {WITHOUT} (the train claims only): "
             f"{runs[WITH]['query_vectors']} and {runs[WITHOUT]['query_vectors']} query vectors; "
             f"{len(qids)} test claims, {len(covered)} of them with an abstract that holds a real query. Each claim "
             "searched through the product path under three versions of the shipped default (nothing tuned here).",
             "", "Check against the committed eval runs (benchmarks/results/per_query), "
             f"\"{COMMITTED_VERSION}\" rows: " +
             "; ".join(f"{name} identical on {len(qids) - len(diff)} of {len(qids)} claims"
                       + (f" (differs on {', '.join(diff)})" if diff else "")
                       for name, diff in reproduced(record).items()) +
             ". " + (f"One abstract's text has been normalised since the model's cache was made "
                     f"({', '.join(runs[WITH]['replayed_by_document'])}: its queries replayed by document), which "
                     "moves the index's BM25 statistics a little." if runs[WITH]["replayed_by_document"] else ""),
             "", f"nDCG@10 and R@10, {WITH} minus {WITHOUT}, points (x100), paired bootstrap 95% intervals "
             f"({n:,} resamples, seed 0), (wins/losses):", ""]
    for metric in METRICS:
        lines += [f"| {metric}: profile | {WITH} / {WITHOUT}, all | " + " | ".join(subsets) + " |",
                  "|---|---:|" + "---:|" * len(subsets)]
        for label in PROFILES:
            a = np.array(runs[WITH]["scores"][label][metric])
            b = np.array(runs[WITHOUT]["scores"][label][metric])
            cells = [_cell(a[m], b[m], n) + f", {int(m.sum())} claims" for m in subsets.values()]
            lines.append(f"| {label} | {a.mean():.3f} / {b.mean():.3f} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"What each version changes on each index (points x100, paired, all {len(qids)} claims):", "",
              "| index | guard - before | guard + step aside - guard |", "|---|---:|---:|"]
    for name in (WITH, WITHOUT):
        s = runs[name]["scores"]
        pair = [(s["guard (shipped)"], s["before the guard"]), (s["guard + step aside"], s["guard (shipped)"])]
        lines.append(f"| {name} | " + " | ".join(_cell(np.array(x["nDCG@10"]), np.array(y["nDCG@10"]), n)
                                                 for x, y in pair) + " |")
    return "\n".join(lines) + "\n"


def arguments(prog: str, description: str, argv: list[str]) -> argparse.Namespace:
    """The command line of this script and of the studies built on its indexes."""
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--work", type=Path, default=RUNS / "lifecycle-blend")
    p.add_argument("--bootstrap", type=int, default=5000)
    return p.parse_args(argv)


def stamped(record: dict[str, Any], prog: str, argv: list[str], started: float) -> dict[str, Any]:
    """The record with the command, machine, date and seconds it took."""
    from rag_augment.eval.harness import machine_info

    m = machine_info()
    return {**record, "command": command_line(prog, argv), "machine": f"{m['cpu']} ({m['nproc']} cores)",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = arguments("benchmarks.lifecycle.blend", __doc__.split("\n")[0], argv)
    if not args.render_only:
        t0 = time.perf_counter()
        runs = {name: build_and_score(name, args.work) for name in (WITH, WITHOUT)}
        write(RESULTS, stamped({"runs": runs, "bootstrap": args.bootstrap,
                                "profiles": {k: asdict(v) for k, v in profiles().items()}},
                               "benchmarks.lifecycle.blend", argv, t0))
    (RESULTS / TABLE).write_text(table(read()), encoding="utf-8")
    print(f"wrote {shown(RESULTS / TABLE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
