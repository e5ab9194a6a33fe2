"""Stable short hashes and text keys used for ids, cache keys and matching the same query twice."""
import hashlib
import json
from typing import Any


def norm_text(text: str) -> str:
    """The key two queries share when they differ only in case and spacing."""
    return " ".join(text.lower().split())


def sha1_hex(text: str, n: int = 40) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def stable_json_hash(obj: Any, n: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of key order."""
    return sha1_hex(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str), n)


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()
