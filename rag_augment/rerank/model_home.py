"""Where a trained reranker lives in the index home, what it records about itself, and whether it is stale.

    <home>/reranker-<collection>/        the model (sentence-transformers CrossEncoder folder) and reranker.json
    <home>/reranker-<collection>.work/   a training run in progress: its training set and last checkpoint

human_queries.txt lists a short hash of every real or feedback query the model trained on, so that tuning its
weight on labelled queries can leave those out (a model scored on its own training queries earns too much weight).

reranker.json holds the provenance (which queries trained it and who wrote them, counts, seed, the base model's
sha256, budget and time) and a fingerprint of the index it was trained on. Re-indexing changes the chunks or the
query vectors, hence the fingerprint: the model still loads but is reported stale until it is trained again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_augment.errors import ConfigError
from rag_augment.hashing import file_sha256, norm_text, sha1_hex

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

log = logging.getLogger(__name__)
META_FILE = "reranker.json"
HUMAN_QUERIES_FILE = "human_queries.txt"
HUMAN_SOURCES = ("real", "feedback")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def model_dir(index: AugmentIndex, kind: str = "reranker") -> Path:
    return index.files.model(kind)


def work_dir(index: AugmentIndex, kind: str = "reranker") -> Path:
    return index.files.model_work(kind)


def index_fingerprint(index: AugmentIndex) -> dict[str, Any]:
    """What the training data depended on: every chunk (id and content hash) and every query vector id."""
    h = hashlib.sha256()
    states = index.store.chunk_states()
    for cid in sorted(states):
        h.update(f"c\x00{cid}\x00{states[cid].get('content_hash', '')}\n".encode())
    qids = sorted(q for ids, _, _ in index.store.iter_all("queries", include=()) for q in ids)
    for qid in qids:
        h.update(f"q\x00{qid}\n".encode())
    return {"sha256": h.hexdigest(), "chunks": len(states), "queries": len(qids)}


def base_model_sha256(folder: str | Path) -> str:
    """sha256 of the base model's weights file (the first of WEIGHT_FILES found), or of its config when none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"base model {folder}: not a folder")
    for name in WEIGHT_FILES + ("config.json",):
        path = folder / name
        if path.is_file():
            return file_sha256(str(path))
    raise ConfigError(f"base model {folder}: no {' or '.join(WEIGHT_FILES)} in the folder")


def query_key(text: str) -> str:
    """A query's key, blind to case and spacing; a hash, so no query text is copied into the model folder."""
    return sha1_hex(norm_text(text), 16)


def write_human_queries(folder: Path, texts: list[str]) -> int:
    keys = sorted({query_key(t) for t in texts})
    (folder / HUMAN_QUERIES_FILE).write_text("".join(k + "\n" for k in keys), encoding="utf-8")
    return len(keys)


def read_human_queries(folder: Path) -> set[str]:
    path = folder / HUMAN_QUERIES_FILE
    return set(path.read_text(encoding="utf-8").split()) if path.exists() else set()


def read_meta(folder: Path) -> dict[str, Any] | None:
    path = folder / META_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reranker {path}: unreadable ({type(exc).__name__}); train again or delete the "
                          "folder") from None
    if not isinstance(data, dict):
        raise ConfigError(f"reranker {path}: not a JSON object; train again or delete the folder")
    return data


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    tmp = folder / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / META_FILE)


def install(built: Path, target: Path) -> None:
    """Swap a finished model folder in: the old one is moved aside first, so a reader sees old or new."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    built.rename(target)
    if old.exists():
        shutil.rmtree(old)


def status(index: AugmentIndex, kind: str = "reranker") -> dict[str, Any]:
    """Whether a model is stored, its provenance, and whether the index changed since it was trained."""
    folder = model_dir(index, kind)
    meta = read_meta(folder)
    if meta is None:
        return {"trained": False, "path": str(folder)}
    now = index_fingerprint(index)
    then = meta.get("index_fingerprint", {})
    stale = now["sha256"] != then.get("sha256")
    out = {"trained": True, "path": str(folder), "stale": stale, **meta}
    if stale:
        out["stale_reason"] = (f"the index changed since training ({then.get('chunks', '?')} chunks and "
                               f"{then.get('queries', '?')} query vectors then, {now['chunks']} and "
                               f"{now['queries']} now): run `rag-augment train` again")
    return out
