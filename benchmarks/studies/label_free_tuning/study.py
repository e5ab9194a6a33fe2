"""Fusion tuned per index without labels (issue 16, parts 2 and 3), measured on every labelled set the harness has.

Three steps; the first two are heavy (run them under `flock /tmp/heavy.lock`), the third only reads the committed
per-query results:

    python -m benchmarks.studies.label_free_tuning.study legs sample_kb-rules xquad-rules ...   # index + legs
    python -m benchmarks.studies.label_free_tuning.study analyse                               # tune, score
    python -m benchmarks.studies.label_free_tuning.study table                                 # RESULT.md table

`legs` indexes each set as `python -m benchmarks.run_benchmarks <set>` does (same data, chunking, generator or
replayed cache, filters), writes the held-out probe queries of rag_augment.tuning.label_free (200 sampled chunks,
seed 0, never indexed) and retrieves every leg once for the probes and for the set's test and train queries (work folder
benchmarks/runs/study-label-free/<set>/, gitignored). `analyse` then works offline on those legs:

- part 3: a candidate default chosen on the TRAIN splits of every set that has one, so that its worst margin
  against the best rival there (the best single leg or the plain hybrid, whichever is higher on that set) is as
  high as possible, not its mean;
- part 2: on each set, the label-free profile: coordinate ascent on the probes only, then each correction of
  corrections.py here. Which correction to ship is decided on the train splits (worst case, then
  mean), never on a test split; test queries are only scored;
- every system's per-query nDCG@10 and Recall@10 on each split go to results/<set>-<split>.json.gz (committed).

`table` computes every figure of RESULT.md's tables from those files (paired bootstrap, 5,000 resamples, seed 0).
"""
from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.paths import CACHE, REPO_ROOT, RUNS, SCIFACT, SHARED, SUBSETS, load_named_profile, profile_names
from benchmarks.studies.label_free_tuning import corrections
from rag_augment import metrics as M
from rag_augment.eval.systems import EVAL_DEPTH, hybrid_profile, single_leg, truncate
from rag_augment.eval.tune import TuneSet, load_tune_set, save_tune_set
from rag_augment.fusion import LEG_NAMES, FusionProfile, fuse
from rag_augment.profiles import load_profile
from rag_augment.tuning.ascent import ascend, profile_key

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = RUNS / "study-label-free"
RESULT_MD = HERE / "RESULT.md"
SEED = 0
N_CHUNKS = 200


@dataclass(frozen=True)
class SetSpec:
    dataset: str
    generator: str                 # "rules" or a replayed cache file
    chunk_size: int = 256
    docs: str | None = None        # search this folder instead (handbook)
    pool: str | None = None        # JSON with docs and queries (SciFact subset)
    train: str | None = None
    test: str = "test"


KB_CACHE = str(CACHE / "sample_kb_qwen15b_hr_policy.jsonl")
SCIFACT_CACHE = str(CACHE / "scifact_test1000_qwen15b.jsonl")
SETS: dict[str, SetSpec] = {  # as benchmarks/run_benchmarks.py runs them
    "sample_kb-rules": SetSpec("sample_kb", "rules", train="train"),
    "xquad-rules": SetSpec(str(SHARED / "datasets" / "xquad_en"), "rules", chunk_size=2048),
    "handbook-rules": SetSpec("sample_kb", "rules", docs=str(SHARED / "kb" / "handbook_18f" / "pages"), train="train"),
    "sample_kb-qwen15b": SetSpec("sample_kb", KB_CACHE, train="train"),
    "scifact1k-qwen15b": SetSpec(str(SCIFACT), SCIFACT_CACHE, chunk_size=2048,
                                 pool=str(SUBSETS / "scifact_test_1000.json"), train="train"),
    "scifact1k-random-rules": SetSpec(str(SCIFACT), "rules", chunk_size=2048,
                                      pool=str(SUBSETS / "scifact_test_random_1000.json"), train="train"),
    # no train split; laid out by `python -m benchmarks.data_prep.get_beir_subsets` (not committed)
    "dbpedia5k-rules": SetSpec(str(RUNS / "datasets" / "dbpedia_5k"), "rules"),
    "msmarco5k-rules": SetSpec(str(RUNS / "datasets" / "msmarco_5k"), "rules"),
}
CORRECTIONS = ("none", "shrink", "gate", "nosynth", "worst")
MODES = ("plain", "masked")


# ---------------------------------------------------------------- step 1: index and legs (heavy)

def load_set(spec: SetSpec):
    from rag_augment.eval import datasets as D

    ds = D.load_dataset(spec.dataset, docs_folder=spec.docs)
    if spec.pool:
        pool = json.loads(Path(spec.pool).read_text())
        ds = D.restrict(ds, pool["docs"], pool["queries"], {"pool": spec.pool})
    return ds


def make_generator(spec: SetSpec):
    if spec.generator == "rules":
        from rag_augment.generators.rules import RulesGenerator
        return RulesGenerator()
    from rag_augment.eval.replay import ReplayGenerator
    return ReplayGenerator(spec.generator)


def progress(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=20, ascii=True)


def cmd_legs(names: Sequence[str]) -> None:
    from rag_augment.chunking import ChunkingConfig, chunk_documents
    from rag_augment.eval.harness import EvalSpec, build_index, check_leakage, clear_human_queries
    from rag_augment.tuning import label_free as A

    for name in names:
        spec, work = SETS[name], WORK / name
        t0 = time.time()
        ds, gen = load_set(spec), make_generator(spec)
        chunking = ChunkingConfig(spec.chunk_size, 32)
        test_q = ds.split_queries(spec.test)
        chunks = chunk_documents(ds.documents, chunking)
        check_leakage(gen, chunks, test_q,
                      {d.doc_id: f"{d.title}\n{d.text}" for d in ds.documents})
        cache = Path(spec.generator) if spec.generator != "rules" else work / "generations.jsonl"
        made = RUNS / name / "index"  # the same index, made by `python -m benchmarks.run_benchmarks NAME`
        if made.exists() and not (work / "index").exists():
            shutil.copytree(made, work / "index")
        index, info = build_index(ds, chunks, gen, work / "index", EvalSpec(name=name, chunking=chunking),
                                  cache_path=cache, progress=progress)
        info["human_queries_cleared"] = clear_human_queries(index)
        chunk_doc = A.chunk_docs(index)
        probes, how = A.sample_probes(index, None, N_CHUNKS, SEED)
        (work / "probes.json").write_text(json.dumps({"how": how, "probes": [asdict(p) for p in probes]}, indent=1))
        corpus = A._corpus(index)
        for mode in A.PROBE_MODES:
            ts = A.probe_tune_set(index, probes, mode, EVAL_DEPTH, progress, chunk_doc, corpus)
            save_tune_set(ts, work / f"probes-{mode}.json.gz")
        for split in filter(None, (spec.test, spec.train)):
            if (work / f"{split}.json.gz").exists():  # the index and these queries did not change
                continue
            qrels = ds.split(split)
            legs = A.retrieve_legs(index, {q: ds.queries[q] for q in sorted(qrels)}, EVAL_DEPTH, progress=progress)
            save_tune_set(TuneSet(f"{name}:{split}", legs, qrels, chunk_doc), work / f"{split}.json.gz")
        info.update(seconds=round(time.time() - t0, 1), load_avg=os.getloadavg(), probes=how,
                    documents=len(ds.documents))
        (work / "info.json").write_text(json.dumps(info, indent=1, default=str))
        print(f"{name}: {info['chunks']} chunks, {info['query_vectors']} query vectors, {len(probes)} probes, "
              f"{info['seconds']} s", flush=True)


# ---------------------------------------------------------------- step 2: tune and score (offline)

def scores(profile: FusionProfile, ts: TuneSet) -> dict[str, np.ndarray]:
    rankings = {}
    for qid in ts.qrels:
        ranked, _ = fuse(truncate(ts.legs[qid], profile), profile, 10)
        rankings[qid] = M.to_documents([p for p, _ in ranked], ts.chunk_doc)[0]
    per_q = M.score_run(rankings, ts.qrels, curve_ks=())
    return {m: per_q[m] for m in ("nDCG@10", "R@10")}


def rival_score(ts: TuneSet) -> tuple[str, float]:
    """The best of every single leg and the plain hybrid on this set (mean nDCG@10)."""
    options = {leg: single_leg(leg) for leg in LEG_NAMES}
    options["hybrid"] = hybrid_profile()
    means = {k: float(scores(p, ts)["nDCG@10"].mean()) for k, p in options.items()}
    best = max(means, key=means.get)
    return best, means[best]


def robust_default(sets: Sequence[TuneSet], starts: Sequence[FusionProfile], min_gain: float = 0.001,
                   max_passes: int = 4) -> tuple[FusionProfile, dict[str, Any]]:
    """Coordinate ascent (rag_augment.tuning.ascent) on the worst margin against each set's best rival
    (best single leg or plain hybrid), ties broken by the mean margin."""
    rivals = {ts.name: rival_score(ts) for ts in sets}
    seen: dict[str, tuple[float, float, dict[str, float]]] = {}

    def objective(p: FusionProfile) -> float:
        key = profile_key(p)
        if key not in seen:
            margins = {ts.name: float(scores(p, ts)["nDCG@10"].mean()) - rivals[ts.name][1] for ts in sets}
            seen[key] = (min(margins.values()), float(np.mean(list(margins.values()))), margins)
        worst, mean, _ = seen[key]
        return worst + 0.1 * mean

    best, best_score = None, -np.inf
    for first in starts:
        p = replace(first, depth={**first.depth, "query_lexical": EVAL_DEPTH["query_lexical"]})
        p, score = ascend(p, objective, EVAL_DEPTH, min_gain=min_gain, max_passes=max_passes)
        print(f"  robust ascent from {first.name}: objective {score:+.4f}", flush=True)
        if score > best_score:
            best, best_score = p, score
    worst, mean, margins = seen[profile_key(best)]
    names = ", ".join(f"{ts.name} ({len(ts.qrels)} queries)" for ts in sets)
    best = replace(best, name="robust-default", notes=f"worst-case margin over the best single leg or the plain "
                   f"hybrid, tuned on {names}: worst {worst:+.4f}, mean {mean:+.4f}")
    return best, {"rivals": {k: {"rival": r, "nDCG@10": round(v, 4)} for k, (r, v) in rivals.items()},
                  "margins": {k: round(v, 4) for k, v in margins.items()}, "worst": worst, "mean": mean,
                  "profiles_tried": len(seen)}


def label_free(probes: Sequence[TuneSet], start: FusionProfile, name: str) -> dict[str, Any]:
    """The profile each correction picks from the probes alone."""
    from rag_augment.tuning import label_free as A

    tuned = functools.cache(lambda: A.ascend(probes, start, EVAL_DEPTH, name))
    out = {}
    for c in CORRECTIONS:
        choice = corrections.CORRECTIONS[c](probes, start, tuned, EVAL_DEPTH, SEED)
        out[c] = {"profile": replace(choice.profile, name=f"{name}:{c}"), "detail": choice.detail}
    return out


def dump(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(record, f, sort_keys=True, default=str)


def load_legs(name: str) -> dict[str, Any] | None:
    work, spec = WORK / name, SETS[name]
    if not (work / "probes-masked.json.gz").exists():
        return None
    return {**{f"probes-{m}": load_tune_set(work / f"probes-{m}.json.gz") for m in MODES},
            **{split: load_tune_set(work / f"{split}.json.gz") for split in filter(None, (spec.test, spec.train))},
            "info": json.loads((work / "info.json").read_text())}


def cmd_analyse(names: Sequence[str]) -> None:
    """Part 3 on the train splits of every set whose legs exist, then part 2 on `names`."""
    from rag_augment.tuning import label_free as A

    loaded = {n: d for n in SETS if (d := load_legs(n)) is not None}
    missing = [n for n in names if n not in loaded]
    if missing:
        print(f"no legs for {missing}; run `study legs {' '.join(missing)}` first", file=sys.stderr)
    default = load_profile(None)
    trains = [d[SETS[n].train] for n, d in loaded.items() if SETS[n].train]
    print(f"part 3: robust default on {len(trains)} train sets", flush=True)
    starts = [default, hybrid_profile()] + [load_named_profile(n) for n in profile_names() if n != "default"]
    robust, robust_info = robust_default(trains, starts)
    dump(RESULTS / "robust_default.json.gz", {"profile": asdict(robust), **robust_info})
    (HERE / "robust-default.json").write_text(robust.to_json() + "\n")
    loaded = {n: d for n, d in loaded.items() if n in names}
    for name, d in loaded.items():
        t0 = time.time()
        spec = SETS[name]
        profiles: dict[str, FusionProfile] = {"default": default, "hybrid": hybrid_profile(), "robust": robust,
                                              "default-shrunk": A.scale_synthetic(default, 0.5)}
        profiles.update({f"leg:{leg}": single_leg(leg) for leg in LEG_NAMES})
        detail = {}
        for mode in ("plain", "masked", "both"):
            probe_sets = [d[f"probes-{m}"] for m in (MODES if mode == "both" else (mode,))]
            for start_key, start in (("default", default), ("robust", robust)):
                for c, got in label_free(probe_sets, start, f"lf-{mode}-{start_key}").items():
                    profiles[f"lf-{mode}-{start_key}:{c}"] = got["profile"]
                    detail[f"lf-{mode}-{start_key}:{c}"] = got["detail"]
        probe_means = {m: {k: float(scores(p, d[f"probes-{m}"])["nDCG@10"].mean()) for k, p in profiles.items()}
                       for m in MODES}
        for split in filter(None, (spec.test, spec.train)):
            ts = d[split]
            per = {k: {m: v.round(6).tolist() for m, v in scores(p, ts).items()} for k, p in profiles.items()}
            dump(RESULTS / f"{name}-{split}.json.gz",
                 {"set": name, "split": split, "query_ids": sorted(ts.qrels), "systems": per,
                  "profiles": {k: asdict(p) for k, p in profiles.items()}, "probe_nDCG@10": probe_means,
                  "corrections": detail, "index": d["info"], "robust_default": robust_info})
        print(f"{name}: analysed in {time.time() - t0:.0f} s", flush=True)


def cmd_controls(names: Sequence[str]) -> None:
    """Fixed profiles added to the analysed results as controls (scoring only, no tuning): the shipped default
    with its synthetic legs halved, i.e. the shrink correction without any tuning. Is the per-index tuning doing
    anything beyond that?"""
    from rag_augment.tuning import label_free as A

    controls = {"default-shrunk": A.scale_synthetic(load_profile(None), 0.5)}
    for name in names:
        d = load_legs(name)
        for split in filter(None, (SETS[name].test, SETS[name].train)):
            path = RESULTS / f"{name}-{split}.json.gz"
            if d is None or not path.exists():
                continue
            record = read(path)
            for key, prof in controls.items():
                record["systems"][key] = {m: v.round(6).tolist() for m, v in scores(prof, d[split]).items()}
                record["profiles"][key] = asdict(prof)
            dump(path, record)
        print(f"{name}: controls added", flush=True)


REAL_COUNTS = (25, 50, 0)  # train queries stored as real ones (0: all of them)


def cmd_real(names: Sequence[str], shipped: str) -> None:
    """Real evidence, simulated: a seeded sample of the train queries stored as real queries of their relevant
    documents (as `eval --real-from-train` does, near-duplicates of test queries dropped) in a copy of the index;
    the real-query path of rag_augment.tuning.label_free chooses among the profile tuned on them (cross-validated),
    the
    label-free choice (`shipped`) and the shipped default; the test split is scored on the blended index."""
    import random

    from rag_augment.augment_index import AugmentIndex
    from rag_augment.eval.harness import attach_train_queries
    from rag_augment.tuning import label_free as A

    for name in names:
        spec = SETS[name]
        main_path = RESULTS / f"{name}-{spec.test}.json.gz"
        if not spec.train or not main_path.exists():
            print(f"{name}: no train split or no analysed results; skipped", file=sys.stderr)
            continue
        ds = load_set(spec)
        test_q = ds.split_queries(spec.test)
        stored = read(main_path)["profiles"]
        fixed = {k: FusionProfile.from_dict(stored[k]) for k in ("default", "hybrid", "robust", shipped)}
        train = sorted(ds.split(spec.train))
        for n in REAL_COUNTS:
            picked = train if n == 0 or n >= len(train) else sorted(random.Random(SEED).sample(train, n))
            t0 = time.time()
            work = WORK / name / f"real-{len(picked)}"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(WORK / name / "index", work / "index")
            index = AugmentIndex(work / "index", collection="eval", cache_path=work / "unused-cache.jsonl")
            part = replace(ds, qrels={**ds.qrels, spec.train: {q: ds.qrels[spec.train][q] for q in picked}})
            attached = attach_train_queries(part, index, spec.train, test_q.values())
            attached.pop("documents", None)
            chunk_doc = A.chunk_docs(index)
            humans = A.human_queries(index)
            judged = sum(h.judged for h in humans)
            folds = A.fold_tune_sets(index, humans, min(A.DEFAULT_FOLDS, judged), SEED, EVAL_DEPTH, chunk_doc)
            chosen, evidence, _ = A.real_choice(folds, fixed["default"], fixed[shipped], EVAL_DEPTH, "real", SEED)
            ts = TuneSet(f"{name}:{spec.test}", A.retrieve_legs(index, test_q, EVAL_DEPTH), ds.split(spec.test),
                         chunk_doc)
            profiles = {"real-choice": chosen, "real-tuned": FusionProfile.from_dict(evidence["tuned_profile"]),
                        "label-free": fixed[shipped], "default": fixed["default"], "hybrid": fixed["hybrid"],
                        "robust": fixed["robust"], **{f"leg:{leg}": single_leg(leg) for leg in LEG_NAMES}}
            per = {k: {m: v.round(6).tolist() for m, v in scores(p, ts).items()} for k, p in profiles.items()}
            dump(RESULTS / f"{name}-real{len(picked)}-{spec.test}.json.gz",
                 {"set": name, "split": spec.test, "real_train_queries": len(picked), "judged_real": judged,
                  "attached": attached, "query_ids": sorted(ts.qrels), "systems": per,
                  "profiles": {k: asdict(p) for k, p in profiles.items()}, "evidence": evidence,
                  "label_free_key": shipped})
            shutil.rmtree(work, ignore_errors=True)
            print(f"{name}: {len(picked)} train queries as real ({judged} judged), picked {evidence['picked']}, "
                  f"{time.time() - t0:.0f} s", flush=True)


def real_table(split: str = "test") -> str:
    rows = ["| set | train queries stored as real (judged) | picked (cross-validated nDCG@10: tuned / label-free / "
            "default) | best-mean rule would pick (its test nDCG@10) | real choice | label-free | shipped default | "
            "plain hybrid | best single leg | real choice - label-free, nDCG@10 [95% CI] | "
            "real choice - hybrid [95% CI] |",
            "|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|"]
    system_of = {"tuned": "real-tuned", "synthetic": "label-free", "start": "default"}
    paths = RESULTS.glob(f"*-real*-{split}.json.gz")
    for r in sorted((read(p) for p in paths), key=lambda r: (r["set"], r["real_train_queries"])):
        s, ev = r["systems"], r["evidence"]
        leg = best_leg(s)
        sc = ev["scores"]
        alt = ev.get("best_mean", ev["picked"])
        rows.append(f"| {r['set']} | {r['real_train_queries']} ({r['judged_real']}) | {ev['picked']} "
                    f"({sc['cv_tuned']:.3f} / {sc['synthetic_choice']:.3f} / {sc['start']:.3f}) | "
                    f"{alt} ({np.mean(s[system_of[alt]]['nDCG@10']):.3f}) | "
                    + " | ".join(f"{np.mean(s[k]['nDCG@10']):.3f}" for k in ("real-choice", "label-free", "default",
                                                                            "hybrid"))
                    + f" | {leg[4:]} {np.mean(s[leg]['nDCG@10']):.3f} | "
                    f"{_ci(s['real-choice']['nDCG@10'], s['label-free']['nDCG@10'])} | "
                    f"{_ci(s['real-choice']['nDCG@10'], s['hybrid']['nDCG@10'])} |")
    return "\n".join(rows) if len(rows) > 2 else ""


QPP_GAMMAS = (0.5, 1.0)


def _spread(ranked: list[tuple[str, float]], k: int = 10) -> float:
    """How much a leg's best hit stands out from its k-th: (s1 - sk) / |s1| (0 for an empty or flat leg)."""
    if len(ranked) < 2 or ranked[0][1] == 0:
        return 0.0
    return (ranked[0][1] - ranked[min(k, len(ranked)) - 1][1]) / abs(ranked[0][1])


def qpp_scores(profile: FusionProfile, ts: TuneSet, gamma: float, medians: Mapping[str, float]
               ) -> dict[str, np.ndarray]:
    """Per-query leg weights from score-distribution signals (query performance prediction): each leg's weight
    times (its spread on this query / its median spread on the probes) ** gamma. Weighted fusion only."""
    rankings = {}
    for qid in ts.qrels:
        legs = truncate(ts.legs[qid], profile)
        w = {leg: wt * (max(_spread(legs.get(leg, [])), 1e-6) / medians[leg]) ** gamma if medians.get(leg) else wt
             for leg, wt in profile.weights.items()}
        ranked, _ = fuse(legs, replace(profile, weights=w), 10)
        rankings[qid] = M.to_documents([p for p, _ in ranked], ts.chunk_doc)[0]
    per_q = M.score_run(rankings, ts.qrels, curve_ks=())
    return {m: per_q[m] for m in ("nDCG@10", "R@10")}


def cmd_qpp(names: Sequence[str], shipped: str) -> None:
    """Does per-query leg weighting help? Medians from the probes only; judged on the train splits."""
    for name in names:
        d, path = load_legs(name), RESULTS / f"{name}-test.json.gz"
        if d is None or not path.exists():
            continue
        stored = read(path)["profiles"]
        probes = d["probes-plain"].legs
        medians = {leg: float(np.median([_spread(q.legs.get(leg, [])) for q in probes.values()])) for leg in LEG_NAMES}
        for split in filter(None, (SETS[name].test, SETS[name].train)):
            per = {}
            for key in ("default", "robust", shipped):
                prof = FusionProfile.from_dict(stored[key])
                if prof.method != "weighted":
                    continue
                for g in (0.0, *QPP_GAMMAS):
                    per[f"{key}@qpp{g}"] = {m: v.round(6).tolist() for m, v in
                                            qpp_scores(prof, d[split], g, medians).items()}
            dump(RESULTS / f"{name}-qpp-{split}.json.gz", {"set": name, "split": split, "medians": medians,
                                                           "query_ids": sorted(d[split].qrels), "systems": per})
        print(f"{name}: qpp done", flush=True)


def qpp_table(split: str) -> str:
    data = {n: read(p)["systems"] for n in SETS if (p := RESULTS / f"{n}-qpp-{split}.json.gz").exists()}
    if not data:
        return ""
    keys = sorted({k.split("@")[0] for s in data.values() for k in s})
    rows = ["| profile | gamma | " + " | ".join(data) + " |", "|---|---:|" + "---:|" * len(data)]
    for key in keys:
        for g in (0.0, *QPP_GAMMAS):
            k = f"{key}@qpp{g}"
            rows.append(f"| {key} | {g} | " + " | ".join(
                (f"{np.mean(s[k]['nDCG@10']):.3f}" + ("" if g == 0 else
                 f" ({_ci(s[k]['nDCG@10'], s[f'{key}@qpp0.0']['nDCG@10'])})")) if k in s else "-"
                for s in data.values()) + " |")
    return "\n".join(rows)


# ---------------------------------------------------------------- step 3: tables from the committed results

def read(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _ci(a, b) -> str:
    d, lo, hi = M.paired_bootstrap(np.asarray(a), np.asarray(b), n=5000, seed=0)
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def best_leg(systems: Mapping[str, Mapping[str, list]], metric: str = "nDCG@10") -> str:
    legs = [k for k in systems if k.startswith("leg:")]
    return max(legs, key=lambda k: np.mean(systems[k][metric]))


def table(split: str, shipped: str) -> str:
    """One row per set: the label-free profile (`shipped`: its system key) against the best single leg (chosen
    on that split itself: the strictest rival), the plain hybrid, the shipped default and the robust default."""
    rows = [f"| set ({split}) | queries | best single leg | plain hybrid | shipped default | robust default | "
            "label-free | label-free - best leg, nDCG@10 [95% CI] | label-free - hybrid, nDCG@10 [95% CI] | "
            "label-free - best leg / hybrid, R@10 |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    means = {k: [] for k in ("leg", "hybrid", "default", "robust", "lf")}
    for name in SETS:
        path = RESULTS / f"{name}-{split}.json.gz"
        if not path.exists():
            continue
        s = read(path)["systems"]
        leg = best_leg(s)

        def cell(k: str, s=s) -> str:
            return f"{np.mean(s[k]['nDCG@10']):.3f} / {np.mean(s[k]['R@10']):.3f}"
        lf = s[shipped]
        rows.append(f"| {name} | {len(lf['nDCG@10'])} | {leg[4:]} {cell(leg)} | {cell('hybrid')} | {cell('default')} | "
                    f"{cell('robust')} | {cell(shipped)} | {_ci(lf['nDCG@10'], s[leg]['nDCG@10'])} | "
                    f"{_ci(lf['nDCG@10'], s['hybrid']['nDCG@10'])} | {_ci(lf['R@10'], s[leg]['R@10'])} / "
                    f"{_ci(lf['R@10'], s['hybrid']['R@10'])} |")
        for k, key in (("leg", leg), ("hybrid", "hybrid"), ("default", "default"), ("robust", "robust"),
                       ("lf", shipped)):
            means[k].append(np.mean(s[key]["nDCG@10"]))
    if len(rows) > 2:
        m = {k: f"{np.mean(v):.3f}" for k, v in means.items()}
        rows.append(f"| mean of sets (nDCG@10) | | {m['leg']} | {m['hybrid']} | {m['default']} | {m['robust']} | "
                    f"{m['lf']} | | | |")
    return "\n".join(rows)


def corrections_table(split: str) -> str:
    """Each label-free variant's nDCG@10 margin over the set's best rival (best single leg or plain hybrid)."""
    keys = [f"lf-{m}-{s}:{c}" for m in ("plain", "masked", "both") for s in ("default", "robust")
            for c in CORRECTIONS] + ["default", "default-shrunk", "robust", "hybrid"]
    data = {n: read(RESULTS / f"{n}-{split}.json.gz")["systems"] for n in SETS
            if (RESULTS / f"{n}-{split}.json.gz").exists()}
    if not data:
        return ""
    rows = ["| system | " + " | ".join(data) + " | worst | mean |", "|---|" + "---:|" * (len(data) + 2)]
    for k in keys:
        margins = []
        for s in data.values():
            rival = max(np.mean(s[leg]["nDCG@10"]) for leg in list(s) if leg.startswith("leg:") or leg == "hybrid")
            margins.append(100 * (np.mean(s[k]["nDCG@10"]) - rival) if k in s else np.nan)
        rows.append(f"| {k} | " + " | ".join(f"{x:+.1f}" for x in margins) + f" | {np.min(margins):+.1f} | "
                    f"{np.mean(margins):+.1f} |")
    return "\n".join(rows)


def done_when(keys: Sequence[str], split: str = "test") -> str:
    """Issue 16's bar for each system: on no set below the best single leg or the plain hybrid by more than the
    interval (the upper end of the paired 95% interval of its lift is >= 0), and a mean nDCG@10 over the sets
    above both means."""
    data = {n: read(RESULTS / f"{n}-{split}.json.gz")["systems"] for n in SETS
            if (RESULTS / f"{n}-{split}.json.gz").exists()}
    rows = ["| system | sets below the best single leg beyond the interval | below the plain hybrid beyond the "
            "interval | mean nDCG@10 (best single leg / plain hybrid) | met |", "|---|---|---|---:|---|"]
    for key in keys:
        below_leg, below_hybrid, means, legs, hybrids = [], [], [], [], []
        for name, s in data.items():
            leg = best_leg(s)
            for ref, out in ((leg, below_leg), ("hybrid", below_hybrid)):
                _, _, hi = M.paired_bootstrap(np.asarray(s[key]["nDCG@10"]), np.asarray(s[ref]["nDCG@10"]),
                                              n=5000, seed=0)
                if hi < 0:
                    out.append(name)
            means.append(np.mean(s[key]["nDCG@10"]))
            legs.append(np.mean(s[leg]["nDCG@10"]))
            hybrids.append(np.mean(s["hybrid"]["nDCG@10"]))
        m, ml, mh = np.mean(means), np.mean(legs), np.mean(hybrids)
        met = not below_leg and not below_hybrid and m > ml and m > mh
        rows.append(f"| {key} | {', '.join(below_leg) or 'none'} | {', '.join(below_hybrid) or 'none'} | "
                    f"{m:.3f} ({ml:.3f} / {mh:.3f}) | {'yes' if met else 'no'} |")
    return f"{len(data)} test splits.\n\n" + "\n".join(rows)


def part3_table(split: str = "test") -> str:
    """The robust default candidate against the shipped default, the best single leg and the plain hybrid."""
    rb = read(RESULTS / "robust_default.json.gz")
    prof = rb["profile"]
    w = ", ".join(f"{k} {v:g}" for k, v in sorted(prof["weights"].items()) if k != "dense" and v > 0)
    head = (f"Candidate (`robust-default.json`): {prof['method']} ({prof['normalize']}), dense pair "
            f"{prof['dense_pair']}, weights {w}; on its five train splits its worst margin over the best rival is "
            f"{100 * rb['worst']:+.1f} points (mean {100 * rb['mean']:+.1f}; {rb['profiles_tried']} profiles tried).")
    rows = [head, "", "| set (test) | shipped default | robust candidate | robust - shipped, nDCG@10 [95% CI] | "
            "robust - best single leg [95% CI] | robust - hybrid [95% CI] | robust - shipped, R@10 [95% CI] |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name in SETS:
        path = RESULTS / f"{name}-{split}.json.gz"
        if not path.exists():
            continue
        s = read(path)["systems"]
        leg = best_leg(s)
        rows.append(f"| {name} | {np.mean(s['default']['nDCG@10']):.3f} | {np.mean(s['robust']['nDCG@10']):.3f} | "
                    f"{_ci(s['robust']['nDCG@10'], s['default']['nDCG@10'])} | "
                    f"{_ci(s['robust']['nDCG@10'], s[leg]['nDCG@10'])} | "
                    f"{_ci(s['robust']['nDCG@10'], s['hybrid']['nDCG@10'])} | "
                    f"{_ci(s['robust']['R@10'], s['default']['R@10'])} |")
    return "\n".join(rows)


def probe_table() -> str:
    """Each single leg and the plain hybrid on the probes (plain, masked) and on the test queries."""
    keys = [f"leg:{leg}" for leg in LEG_NAMES] + ["hybrid", "default"]
    rows = ["| set | queries | " + " | ".join(k.replace("leg:", "") for k in keys) + " |",
            "|---|---|" + "---:|" * len(keys)]
    for name in SETS:
        path = RESULTS / f"{name}-test.json.gz"
        if not path.exists():
            continue
        r = read(path)
        for mode in MODES:
            rows.append(f"| {name} | probes, {mode} | " + " | ".join(f"{r['probe_nDCG@10'][mode][k]:.3f}"
                                                                  for k in keys) + " |")
        rows.append(f"| {name} | test | " + " | ".join(f"{np.mean(r['systems'][k]['nDCG@10']):.3f}"
                                                     for k in keys) + " |")
    return "\n".join(rows)


def cmd_table(shipped: str) -> str:
    parts = ["### What the probes see: nDCG@10 of each leg alone on the probes and on the test queries", "",
             probe_table(), "",
             "### Which correction: nDCG@10 margin (points x100) over each set's best rival, train splits",
             "", "The rival is the best single leg or the plain hybrid, whichever scores higher on that split.", "",
             corrections_table("train"), "",
             "### The same on the test splits (reported, not used to choose)", "", corrections_table("test"), "",
             "### Issue 16's bar on the test splits", "",
             done_when([shipped, "lf-masked-robust:gate", "lf-masked-robust:shrink", "lf-both-default:worst",
                        "lf-plain-default:none", "robust", "default", "default-shrunk", "hybrid"]), "",
             f"### Label-free profile (`{shipped}`) on the test splits", "",
             "nDCG@10 / Recall@10; intervals are paired bootstrap 95% (5,000 resamples, seed 0), points x100.", "",
             table("test", shipped), "",
             "### Part 3: a default robust when it cannot tune (worst case over the train splits)", "",
             part3_table(), "",
             "### Real queries taking over: train queries stored as real, test split on the blended index", "",
             real_table(), "",
             "### Per-query leg weights from score spreads (query performance prediction), train splits", "",
             "nDCG@10 and, in brackets, the change against the same profile without them (gamma 0).", "",
             qpp_table("train"), ""]
    text = "\n".join(parts)
    if RESULT_MD.exists():
        body = RESULT_MD.read_text()
        start, end = "<!-- tables:start -->", "<!-- tables:end -->"
        if start in body and end in body:
            body = body[:body.index(start) + len(start)] + "\n" + text + body[body.index(end):]
            RESULT_MD.write_text(body)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.label_free_tuning.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=("legs", "analyse", "controls", "real", "qpp", "table"))
    ap.add_argument("sets", nargs="*", help=f"default: all of {list(SETS)}")
    ap.add_argument("--shipped", default="lf-masked-default:shrink", help="the label-free variant the table reports")
    args = ap.parse_args(argv)
    names = args.sets or list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        ap.error(f"unknown sets {unknown}; choose from {list(SETS)}")
    os.chdir(REPO_ROOT)
    if args.step == "legs":
        cmd_legs(names)
    elif args.step == "analyse":
        cmd_analyse(names)
    elif args.step == "controls":
        cmd_controls(names)
    elif args.step == "real":
        cmd_real(names, args.shipped)
    elif args.step == "qpp":
        cmd_qpp(names, args.shipped)
    else:
        print(cmd_table(args.shipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
