"""The index home: the names of the files an index keeps in its folder (IndexHome), and the one way they are
written (atomic_write). No other module spells a file name of the home.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag_augment.errors import ConfigError
from rag_augment.fusion import FusionProfile

PROFILE_FORMAT = 1


def atomic_write(path: Path, text: str) -> None:
    """Write through a uniquely named temp file in the same folder, then rename: readers see old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class IndexHome:
    """The files of one collection's index in its home folder."""
    path: Path
    collection: str

    @property
    def chroma(self) -> Path:  # the embedded Chroma database (unless a Chroma server is used)
        return self.path / "chroma"

    @property
    def settings(self) -> Path:  # embedding model, collection, Chroma URL (checked on open)
        return self.path / "settings.json"

    @property
    def state(self) -> Path:  # the write version and whether the lexical index is stale
        return self.path / f"state-{self.collection}.json"

    @property
    def lexical(self) -> Path:  # the BM25 indexes (chunks, doc2query, synthetic queries)
        return self.path / f"lexical-{self.collection}"

    @property
    def generations(self) -> Path:  # the generation cache (append-only, shared by the home's collections)
        return self.path / "generations.jsonl"

    @property
    def reviews(self) -> Path:  # people's review decisions
        return self.path / f"reviews-{self.collection}.jsonl"

    @property
    def write_lock(self) -> Path:  # one writer at a time
        return self.path / f"write-{self.collection}.lock"

    @property
    def profile(self) -> Path:  # this index's own fusion profile, with the evidence it was chosen on (`tune`)
        return self.path / f"profile-{self.collection}.json"

    @property
    def feedback(self) -> Path:  # failed queries and their rounds
        return self.path / "feedback.sqlite"

    def model(self, kind: str) -> Path:  # a trained model (the reranker), installed
        return self.path / f"{kind}-{self.collection}"

    def model_work(self, kind: str) -> Path:  # a training run's checkpoints and mined data
        return self.path / f"{kind}-{self.collection}.work"


def index_profile_path(home: str | Path, collection: str) -> Path:
    return IndexHome(Path(home), collection).profile


def save_index_profile(index, profile: FusionProfile, evidence: Any = None
                       ) -> Path:
    """Write the index's own profile, with the evidence it was chosen on, into the index home (atomically)."""
    if hasattr(evidence, "to_dict"):  # a TuneReport: its evidence without the profile itself
        evidence = {k: v for k, v in evidence.to_dict().items() if k != "profile"}
    path = index_profile_path(index.home, index.store.name)
    record = {"format": PROFILE_FORMAT, "profile": asdict(profile), "evidence": dict(evidence or {}),
              "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write(path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_index_profile_record(index_or_home, collection: str | None = None) -> dict[str, Any] | None:
    """The saved record (profile and evidence), or None when this index has none. A damaged file is a
    ConfigError naming it (delete it, or run `rag-augment tune` again)."""
    if collection is None:
        home, collection = index_or_home.home, index_or_home.store.name
    else:
        home = index_or_home
    path = index_profile_path(home, collection)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["profile"] = FusionProfile.from_dict(record["profile"])
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
        raise ConfigError(f"index profile {path}: unreadable ({type(exc).__name__}: {exc}); delete it or run "
                          "`rag-augment tune` again") from None
    return record


def load_index_profile(index_or_home, collection: str | None = None) -> FusionProfile | None:
    record = load_index_profile_record(index_or_home, collection)
    return record["profile"] if record else None
