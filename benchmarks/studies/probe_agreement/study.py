"""Which probe recipe predicts the held-out effect of a change (issue 31, item 3)?

`tune`'s self-check installs a change when it wins on probes cut from the index's own chunks. That is only worth
something if a gain on the probes means a gain for users. This study reads the label-free tuning study's committed
per-query files (benchmarks/studies/label_free_tuning/results/<set>-<split>.json.gz: mean nDCG@10 of ~38 systems
on the plain and the masked probes, per-query nDCG@10 of the same systems on the labelled test and train queries,
and the gate's probe intervals) and asks, for every (set, change) pair, whether the sign of the probe gain equals
the sign of the gain on the labelled split. Nothing is retrieved again; no file is written except RESULT.md.

    python -m benchmarks.studies.probe_agreement.study table      # renders RESULT.md's tables from the files

A change is a system of those files (the default, the hybrid, each leg alone, every label-free variant
lf-<probes>-<start>:<correction>) against the profile it would replace: the shipped default
(rag_augment/profiles/default.json, called "robust" in the files) or the tuner's start profile
(rag_augment/profiles/tune-start.json, called "default" in the files). Systems whose profile equals another's on
the same set count once (so a variant that kept its start profile, or two variants that found the same profile,
are not counted twice), and a system whose profile equals the replaced one is no change and is left out.

Recipes: the probe gain on plain probes, on masked probes, and "both" (the mean of the two: the shipped
`probe_mode="both"` tunes on the mean of the two probe sets' means, rag_augment.eval.tune, and the two sets hold
the same probes); "min" (the smaller of the two, which the study's `worst` correction asks to be positive) is
shown beside them but cannot be shipped as a probe mode. The recipe is chosen on the TRAIN splits only (five
sets); test splits are reported beside it.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment import metrics as M

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "label_free_tuning" / "results"
RESULT_MD = HERE / "RESULT.md"
MARKERS = ("<!-- tables:start -->", "<!-- tables:end -->")
SETS = ("sample_kb-rules", "handbook-rules", "sample_kb-qwen15b", "scifact1k-qwen15b", "scifact1k-random-rules",
        "xquad-rules", "dbpedia5k-rules", "msmarco5k-rules")  # the first five have a train split
BASELINES = {"shipped default": "robust", "tune-start": "default"}  # name here -> key in the files
RECIPES = ("plain", "masked", "both", "min", "never")  # "never": a reference that says every change loses
SHIPPABLE = ("plain", "masked", "both")  # probe_mode values rag_augment.tuning.label_free.tune_index accepts
METRIC = "nDCG@10"
BOOT_N, SEED = 5000, 0
EPS = 1e-9


# ---------------------------------------------------------------- reading

def read(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


@cache
def records(source: Path = SOURCE) -> dict[tuple[str, str], dict]:
    """(set, split) -> the label-free study's record (the base files only: no -qpp-, no -real-)."""
    out = {}
    for name in SETS:
        for split in ("train", "test"):
            path = source / f"{name}-{split}.json.gz"
            if path.exists():
                out[(name, split)] = read(path)
    return out


def profile_key(profile: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in profile.items() if k not in ("name", "notes")}, sort_keys=True)


# ---------------------------------------------------------------- the pairs and the agreement

def sign(x: float) -> int:
    return 0 if abs(x) < EPS else (1 if x > 0 else -1)


def probe_gain(probe: Mapping[str, Mapping[str, float]], change: str, base: str, recipe: str) -> float:
    plain = probe["plain"][change] - probe["plain"][base]
    masked = probe["masked"][change] - probe["masked"][base]
    return {"plain": plain, "masked": masked, "both": (plain + masked) / 2, "min": min(plain, masked),
            "never": -1.0}[recipe]


@dataclass(frozen=True)
class Pair:
    set: str
    split: str
    base: str            # the key in the files of the profile the change would replace
    change: str          # the first system (sorted) with this profile on this set
    probe: dict[str, float]  # recipe -> probe gain (nDCG@10, 0-1)
    delta: float         # split gain, change minus base, mean nDCG@10 over the split's queries
    lo: float
    hi: float

    @property
    def beyond(self) -> bool:
        """The split gain's interval leaves out 0."""
        return self.lo > 0 or self.hi < 0


def _boot(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    return M.paired_bootstrap(np.asarray(a, float), np.asarray(b, float), n=BOOT_N, seed=SEED)


def pairs(record: Mapping[str, Any], base: str) -> list[Pair]:
    """Every distinct change against `base` on this record's split (systems without probe scores left out)."""
    probe, systems, profiles = record["probe_nDCG@10"], record["systems"], record["profiles"]
    base_key = profile_key(profiles[base])
    seen: set[str] = {base_key}
    out = []
    for name in sorted(probe["plain"]):
        key = profile_key(profiles[name])
        if key in seen or name not in probe["masked"]:
            continue
        seen.add(key)
        d, lo, hi = _boot(systems[name][METRIC], systems[base][METRIC])
        out.append(Pair(record["set"], record["split"], base, name,
                        {r: probe_gain(probe, name, base, r) for r in RECIPES}, d, lo, hi))
    return out


def agreement(ps: Sequence[Pair], recipe: str, strict: bool = False) -> tuple[float, int]:
    """Share of pairs whose probe gain has the sign of the split gain (strict: only pairs whose split gain is
    beyond its interval); and how many pairs were counted."""
    counted = [p for p in ps if p.beyond] if strict else list(ps)
    if not counted:
        return float("nan"), 0
    return float(np.mean([sign(p.probe[recipe]) == sign(p.delta) for p in counted])), len(counted)


@cache
def all_pairs(source: Path = SOURCE) -> tuple[Pair, ...]:
    return tuple(p for (_, _), r in records(source).items() for base in BASELINES.values() for p in pairs(r, base))


def select(ps: Sequence[Pair], split: str, base: str, sets: Sequence[str] | None = None) -> list[Pair]:
    return [p for p in ps if p.split == split and p.base == base and (sets is None or p.set in sets)]


def train_sets(source: Path = SOURCE) -> list[str]:
    return [s for s in SETS if (s, "train") in records(source)]


def choose(ps: Sequence[Pair], recipes: Sequence[str] = SHIPPABLE) -> str:
    """The recipe to ship, from TRAIN pairs only: the highest agreement against the shipped default, ties broken
    by the strict agreement, then by the agreement against the tune-start profile."""
    def score(r: str) -> tuple[float, ...]:
        ship, start = BASELINES["shipped default"], BASELINES["tune-start"]
        return (agreement(select(ps, "train", ship), r)[0], agreement(select(ps, "train", ship), r, True)[0],
                agreement(select(ps, "train", start), r)[0])
    return max(recipes, key=score)


# ---------------------------------------------------------------- tables

def _pct(x: tuple[float, int]) -> str:
    return "-" if x[1] == 0 else f"{100 * x[0]:.0f}% ({x[1]})"


def _ci(d: float, lo: float, hi: float) -> str:
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def summary_table(ps: Sequence[Pair], trains: Sequence[str]) -> str:
    rows = ["| replaced profile | recipe | train: all changes | train: beyond interval | test, same 5 sets: all | "
            "test, same 5 sets: beyond interval | test, 8 sets: all | test, 8 sets: beyond interval |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, base in BASELINES.items():
        tr, te5, te = select(ps, "train", base), select(ps, "test", base, trains), select(ps, "test", base)
        for r in RECIPES:
            rows.append(f"| {label} | {r} | {_pct(agreement(tr, r))} | {_pct(agreement(tr, r, True))} | "
                        f"{_pct(agreement(te5, r))} | {_pct(agreement(te5, r, True))} | {_pct(agreement(te, r))} | "
                        f"{_pct(agreement(te, r, True))} |")
    return "\n".join(rows)


def tuned_on_probes(p: Pair) -> bool:
    """A label-free variant: tuned on these very probes, so its probe gain is measured in sample."""
    return p.change.startswith("lf-")


def kind_table(ps: Sequence[Pair], trains: Sequence[str]) -> str:
    """Agreement apart for the changes tuned on these probes (lf-*) and the fixed ones (legs, hybrid, defaults)."""
    rows = ["| replaced profile | recipe | fixed profiles: train | fixed: test, 8 sets | tuned on the probes: train | "
            "tuned: test, 8 sets |", "|---|---|---:|---:|---:|---:|"]
    for label, base in BASELINES.items():
        tr, te = select(ps, "train", base), select(ps, "test", base)
        for r in RECIPES:
            cells = [_pct(agreement([p for p in group if tuned_on_probes(p) == tuned], r))
                     for tuned in (False, True) for group in (tr, te)]
            rows.append(f"| {label} | {r} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def per_set_table(ps: Sequence[Pair], base: str) -> str:
    rows = ["| set | changes | " + " | ".join(f"{r}: train / test" for r in RECIPES) + " |",
            "|---|---:|" + "---:|" * len(RECIPES)]
    for s in SETS:
        tr, te = select(ps, "train", base, [s]), select(ps, "test", base, [s])
        if not te:
            continue
        cells = []
        for r in RECIPES:
            a = agreement(tr, r)[0] if tr else None
            cells.append(f"{'-' if a is None else f'{100 * a:.0f}%'} / {100 * agreement(te, r)[0]:.0f}%")
        rows.append(f"| {s} | {len(te)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def leg_table(ps: Sequence[Pair], base: str, split: str = "test") -> str:
    """The probe gains and split gains of the single legs and the plain hybrid: where the recipes part."""
    rows = [f"| set | change | plain | masked | both | {split} gain [95% CI] |", "|---|---|---:|---:|---:|---:|"]
    for p in select(ps, split, base):
        if p.change.startswith("leg:") or p.change == "hybrid":
            rows.append(f"| {p.set} | {p.change} | " + " | ".join(f"{100 * p.probe[r]:+.1f}" for r in SHIPPABLE)
                        + f" | {_ci(p.delta, p.lo, p.hi)} |")
    return "\n".join(rows)


def gate_rows(source: Path = SOURCE) -> list[dict[str, Any]]:
    """Each gate-style decision of the label-free study (`gate`: install the tuned profile only if its probe gain
    over the start profile has an interval above 0; `worst`: the same on every probe set), per set, with the
    installed system's gain over the profile it replaced on each split."""
    out = []
    for s in SETS:
        recs = {split: r for (name, split), r in records(source).items() if name == s}
        if not recs:
            continue
        any_r = recs["test"]
        for key in sorted(any_r["corrections"]):
            detail = any_r["corrections"][key]
            correction = key.split(":")[1]
            if correction not in ("gate", "worst"):
                continue
            mode, start = key.split(":")[0].split("-")[1:]
            ivs = ([detail["tuned_vs_start"]] if correction == "gate" else list(detail["vs_start"].values()))
            lo = min(iv["lo"] for iv in ivs)
            row = {"set": s, "system": key, "mode": mode, "replaced": start, "probe_lo": lo,
                   "probe": ivs if correction == "gate" else detail["vs_start"], "installed": bool(detail["passed"])}
            for split, r in recs.items():
                sysm = r["systems"]
                row[split] = _boot(sysm[key][METRIC], sysm[start][METRIC])
            out.append(row)
    return out


NAME_OF = {v: k for k, v in BASELINES.items()}


def installed_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["| set | installed change | probe gain over the replaced profile [95% CI] | replaced | "
            "train gain [95% CI] | test gain [95% CI] | test interval wholly below 0 |",
            "|---|---|---:|---|---:|---:|---|"]
    body = []
    for r in rows:
        if not r["installed"]:
            continue
        probe = r["probe"]
        shown = (_ci(probe[0]["delta"], probe[0]["lo"], probe[0]["hi"]) if isinstance(probe, list) else
                 "; ".join(f"{k.split('-')[1]} {_ci(v['delta'], v['lo'], v['hi'])}" for k, v in sorted(probe.items())))
        train = _ci(*r["train"]) if "train" in r else "-"
        flag = "**yes**" if r["test"][2] < 0 else "no"
        body.append(f"| {r['set']} | {r['system']} | {shown} | {NAME_OF[r['replaced']]} | {train} | "
                    f"{_ci(*r['test'])} | {flag} |")
    return "\n".join(head + body)


def installed_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    inst = [r for r in rows if r["installed"]]
    below = [r for r in inst if r["test"][2] < 0]
    neg = [r for r in inst if r["test"][0] < 0]
    per_set = {s: sum(r["installed"] for r in rows if r["set"] == s) for s in SETS if any(r["set"] == s for r in rows)}
    counts = ", ".join(f"{s} {n}" for s, n in per_set.items())
    return (f"{len(rows)} gate-style decisions ({len(per_set)} sets x 3 probe recipes x 2 start profiles x "
            f"2 corrections, gate and worst); {len(inst)} install their change (per set: {counts}). Of those, "
            f"{len(neg)} lose on the test split (point estimate below 0) and {len(below)} lose beyond the interval "
            f"(upper end below 0)" + (": " + ", ".join(f"{r['set']} {r['system']}" for r in below) if below else "")
            + ".")


def installed_by_recipe(rows: Sequence[Mapping[str, Any]]) -> str:
    out = ["| probe recipe of the decision | decisions | installed | test gain < 0 | test interval wholly below 0 | "
           "train interval wholly below 0 (of installed on the 5 train sets) |", "|---|---:|---:|---:|---:|---:|"]
    for mode in ("plain", "masked", "both"):
        mine = [r for r in rows if r["mode"] == mode]
        inst = [r for r in mine if r["installed"]]
        tr = [r for r in inst if "train" in r]
        out.append(f"| {mode} | {len(mine)} | {len(inst)} | {sum(r['test'][0] < 0 for r in inst)} | "
                   f"{sum(r['test'][2] < 0 for r in inst)} | {sum(r['train'][2] < 0 for r in tr)} of {len(tr)} |")
    return "\n".join(out)


def shipped_candidate_table(source: Path = SOURCE, system: str = "lf-masked-default:shrink",
                            base: str = BASELINES["shipped default"]) -> str:
    """What `tune` ships (masked probes, ascent from tune-start, synthetic legs halved) against what the shipped
    self-check compares it with (the profile the index uses now: the shipped default)."""
    rows = ["| set | masked probe gain | plain probe gain | train gain [95% CI] | test gain [95% CI] | "
            "sign of masked probe gain = sign of test gain |", "|---|---:|---:|---:|---:|---|"]
    for s in SETS:
        recs = {split: r for (name, split), r in records(source).items() if name == s}
        if not recs:
            continue
        probe = recs["test"]["probe_nDCG@10"]
        pm, pp = (probe_gain(probe, system, base, m) for m in ("masked", "plain"))
        g = {split: _boot(r["systems"][system][METRIC], r["systems"][base][METRIC]) for split, r in recs.items()}
        rows.append(f"| {s} | {100 * pm:+.1f} | {100 * pp:+.1f} | {_ci(*g['train']) if 'train' in g else '-'} | "
                    f"{_ci(*g['test'])} | {'yes' if sign(pm) == sign(g['test'][0]) else 'no'} |")
    return "\n".join(rows)


def selfcheck_table(folder: Path = HERE / "results") -> str:
    """The shipped tune and self-check, end to end (results/selfcheck-<set>.json.gz, `study selfcheck`)."""
    rows = ["| set | probe recipe (tuning) | held-out probes | self-check on held-out plain / masked / both probes, "
            "gain [95% CI] | installed by the shipped check (masked) | train gain [95% CI] | test gain [95% CI] | "
            "installed and test interval wholly below 0 |", "|---|---|---:|---|---|---:|---:|---|"]
    for path in sorted(folder.glob("selfcheck-*.json.gz")):
        r = read(path)
        for mode in CHECK_MODES:
            m = r["modes"].get(mode)
            if m is None:
                continue
            checks = " / ".join(_ci(m["checks"][c]["delta"], m["checks"][c]["lo"], m["checks"][c]["hi"])
                                for c in CHECK_MODES)
            installed = bool(m["shipped_check"] and m["shipped_check"]["passed"])
            g = {k: _boot(v["change"], v["current"]) for k, v in m["splits"].items()}
            rows.append(f"| {r['set']} | {mode} | {r['held_out_probes']} | {checks} | {'yes' if installed else 'no'} | "
                        f"{_ci(*g['train']) if 'train' in g else '-'} | {_ci(*g['test'])} | "
                        f"{'**yes**' if installed and g['test'][2] < 0 else 'no'} |")
    return "\n".join(rows) if len(rows) > 2 else "(no set run yet)"


def render(source: Path = SOURCE) -> str:
    ps = all_pairs(source)
    trains = train_sets(source)
    chosen = choose(ps)
    ship = BASELINES["shipped default"]
    n_train = {b: len(select(ps, "train", v)) for b, v in BASELINES.items()}
    n_test = {b: len(select(ps, "test", v)) for b, v in BASELINES.items()}
    gates = gate_rows(source)
    parts = [
        "### Agreement: sign of the probe gain = sign of the split gain",
        "",
        f"Share of (set, change) pairs, with the number of pairs in brackets: {n_train['shipped default']} train "
        f"pairs against the shipped default and {n_train['tune-start']} against tune-start on {len(trains)} sets; "
        f"{n_test['shipped default']} and {n_test['tune-start']} test pairs on {len(SETS)} sets. \"Beyond "
        f"interval\" counts only the changes whose split gain has a paired bootstrap 95% interval that leaves out "
        f"0 ({BOOT_N:,} resamples, seed {SEED}).",
        "",
        summary_table(ps, trains),
        "",
        "\"never\" is a reference, not a recipe: it says every change loses (its agreement is the share of "
        "changes that lose on the split).",
        "",
        f"**Chosen on the train splits** (highest agreement against the shipped default among the shippable "
        f"probe modes {', '.join(SHIPPABLE)}; ties by the strict agreement, then by the agreement against "
        f"tune-start): **{chosen}**.",
        "",
        "### Changes tuned on the probes and fixed ones",
        "",
        "The label-free variants (lf-*) were tuned on these very probes, so their probe gain is measured in sample; "
        "the fixed profiles (each leg alone, the plain hybrid, the default or tune-start, the shrunk default) were "
        "not.",
        "",
        kind_table(ps, trains),
        "",
        "### Per set, against the shipped default (train / test; sets without a train split show -)",
        "",
        per_set_table(ps, ship),
        "",
        "### Per set, against tune-start (train / test)",
        "",
        per_set_table(ps, BASELINES["tune-start"]),
        "",
        "### Where the recipes part: each leg alone and the plain hybrid against the shipped default, test splits",
        "",
        "Probe gains and test gain in nDCG@10 points x100.",
        "",
        leg_table(ps, ship),
        "",
        "### Installed changes: the study's gate-style decisions and what they did on the labelled splits",
        "",
        installed_summary(gates),
        "",
        installed_by_recipe(gates),
        "",
        installed_table(gates),
        "",
        "### What `tune` ships against what its self-check compares it with (sign only)",
        "",
        "`lf-masked-default:shrink` (masked probes, ascent from tune-start, synthetic legs halved) against the "
        "shipped default; gains in nDCG@10 points x100. The files hold only each system's mean on the probes, so "
        "no interval on the probe gain can be computed here.",
        "",
        shipped_candidate_table(source),
        "",
        "### The shipped `tune` and its self-check, end to end",
        "",
        "`rag_augment.tuning.label_free.tune_index` run on the study's index of each set (synthetic evidence; no "
        "real query stored), once per probe recipe; the chosen profile against the shipped default on the "
        "held-out half of the probes (chunks the choice was not made on), under each recipe (paired bootstrap, "
        "2,000 resamples, as the self-check computes it), and on the labelled splits (5,000 resamples). The "
        "shipped check installs when the masked held-out interval's lower end is above 0.",
        "",
        selfcheck_table(),
    ]
    return "\n".join(parts)


def write(text: str, path: Path = RESULT_MD) -> None:
    body = path.read_text()
    start, end = MARKERS
    body = body[:body.index(start) + len(start)] + "\n" + text + "\n" + body[body.index(end):]
    path.write_text(body)


def committed_tables(path: Path = RESULT_MD) -> str:
    body = path.read_text()
    start, end = MARKERS
    return body[body.index(start) + len(start):body.index(end)].strip("\n")


# ---------------------------------------------------------------- the shipped self-check, end to end (heavy)

CHECK_MODES = ("plain", "masked", "both")


def cmd_selfcheck(names: Sequence[str]) -> None:
    """`tune` as it ships (rag_augment.tuning.label_free.tune_index: probes from half of the sampled chunks, ascent
    from tune-start, synthetic legs halved) for each probe recipe, its self-check against the shipped default on
    the other half's probes under each recipe, and the chosen profile's gain over the shipped default on the
    labelled splits. Needs the label-free study's legs (benchmarks/runs/study-label-free/<set>/, made here when
    missing). Writes results/selfcheck-<set>.json.gz."""
    from benchmarks.studies.label_free_tuning import study as LF
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.eval.systems import EVAL_DEPTH
    from rag_augment.profiles import load_profile
    from rag_augment.tuning import label_free as A
    from rag_augment.tuning.self_check import split_by_chunk, verdict

    current = load_profile(None)
    for name in names:
        if LF.load_legs(name) is None:
            LF.cmd_legs([name])
        d = LF.load_legs(name)
        work = LF.WORK / name
        index = AugmentIndex(work / "index", collection="eval", cache_path=work / "unused-cache.jsonl")
        chunk_doc = A.chunk_docs(index)
        probes, _ = A.sample_probes(index, None, A.DEFAULT_CHUNKS, SEED)
        _, held_out = split_by_chunk(probes, lambda p: p.chunk_id, SEED)
        corpus = A._corpus(index)
        held = {m: A.probe_tune_set(index, held_out, m, EVAL_DEPTH, None, chunk_doc, corpus) for m in A.PROBE_MODES}
        out: dict[str, Any] = {"set": name, "held_out_probes": len(held_out), "modes": {}}
        for mode in CHECK_MODES:
            report = A.tune_index(index, probe_mode=mode, seed=SEED, current=current)
            chosen = report.profile
            checks = {}
            for m in CHECK_MODES:
                sets = [held[x] for x in (A.PROBE_MODES if m == "both" else (m,))]
                checks[m] = verdict(A.per_query(chosen, sets), A.per_query(current, sets), f"held-out {m}",
                                    SEED).to_dict()
            splits = {}
            for split in ("train", "test"):
                if split in d:
                    a = LF.scores(chosen, d[split])[METRIC]
                    b = LF.scores(current, d[split])[METRIC]
                    splits[split] = {"change": a.round(6).tolist(), "current": b.round(6).tolist()}
            out["modes"][mode] = {"profile": json.loads(chosen.to_json()), "shipped_check": report.check.to_dict()
                                  if report.check else None, "checks": checks, "splits": splits}
            print(f"{name} {mode}: " + ", ".join(f"{m} lo {c['lo']:+.4f}" for m, c in checks.items()), flush=True)
        path = HERE / "results" / f"selfcheck-{name}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            json.dump(out, f, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.probe_agreement.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=("table", "selfcheck"))
    ap.add_argument("sets", nargs="*", help="selfcheck: the label-free study's sets to run")
    ap.add_argument("--print", action="store_true", help="print the tables instead of writing RESULT.md")
    args = ap.parse_args(argv)
    if args.step == "selfcheck":
        cmd_selfcheck(args.sets or list(SETS[:5]))
        return 0
    text = render()
    if args.print or not RESULT_MD.exists():
        print(text)
    else:
        write(text)
        print(f"wrote {RESULT_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
