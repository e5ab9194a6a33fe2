"""Where the benchmarks' files live, resolved from this file rather than the working folder, so that every
default holds in a fresh clone whatever folder a script is started from.

The shared data sets and experiments live outside the repository, in `../shared` beside it (its README says how
to get them); every script that reads them takes `--shared` (or a data set path) to point elsewhere.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "benchmarks"
SHARED = REPO_ROOT.parent / "shared"
SCIFACT = SHARED / "datasets" / "scifact"
CACHE = BENCHMARKS / "cache"                       # committed generation caches (PROVENANCE.md)
RESULTS = BENCHMARKS / "results"                   # committed outputs that RESULTS.md cites
SUBSETS = BENCHMARKS / "data_prep" / "subsets"     # committed document/query subsets
RUNS = BENCHMARKS / "runs"                         # run folders and study work folders (gitignored)
PROFILES = BENCHMARKS / "profiles"                 # fusion profiles tuned on benchmark sets: study starts, not shipped


def shown(path: str | Path) -> str:
    """A path as results and provenance record it: relative to the repository root when it lies in the
    repository or beside it (`benchmarks/cache/x.jsonl`, `../shared/datasets/scifact`), so that recorded
    commands name no folder of this machine; absolute otherwise. Links are kept as named (`../shared` may be a
    link to a data folder elsewhere)."""
    absolute = Path(os.path.abspath(path))
    relative = Path(os.path.relpath(absolute, REPO_ROOT))
    return relative.as_posix() if relative.parts[:2] != ("..", "..") else absolute.as_posix()


def profile_names() -> list[str]:
    """The package's shipped profiles and the benchmark sets' tuned ones (PROFILES), sorted by name."""
    from rag_augment.profiles import available
    return sorted(set(available()) | {p.stem for p in PROFILES.glob("*.json")})


def load_named_profile(name: str):
    """A profile of profile_names() by name (a benchmark set's tuned profile, else a shipped one)."""
    from rag_augment.profiles import load_profile
    path = PROFILES / f"{name}.json"
    return load_profile(str(path) if path.exists() else name)


def command_line(module: str, argv: list[str]) -> str:
    """The command that reproduces a run, as RESULTS.md records it (`python -m <module> <args>`)."""
    return " ".join(["python -m", module, *(shlex.quote(a) for a in argv)])
