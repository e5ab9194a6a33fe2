"""Re-key the committed generation caches for chunks whose text held zero-width characters.

Since issue 29 (commit 1059908) reading a document strips zero-width spaces and joiners, so a chunk of a page that
held them has another text hash today, and a replay no longer finds its generation (the handbook's
18f/history-and-values.md and getting-started/classes/benefits.md; SciFact abstracts 1383826 and 41493639). The text
the model saw differs from today's only by those invisible characters, so each such record is appended again under
today's hash (its `chunk_hash` and `chunk_id`), with `rekeyed_from` naming the hash it was made for. Nothing is
removed or generated; running it again appends nothing.

    python -m benchmarks.data_prep.rekey_zero_width [--shared ../shared]
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from benchmarks.paths import CACHE, SHARED, shown
from rag_augment import chunking
from rag_augment.cache import generation_hash
from rag_augment.chunking import ChunkingConfig, chunk_documents
from rag_augment.eval.datasets import load_dataset
from rag_augment.text import ZERO_WIDTH
from rag_augment.types import Chunk, Document

# every chunking the caches were made with (run_benchmarks.py, data_prep): the default, --chunk-size 2048, the pool's
CONFIGS = (ChunkingConfig(), ChunkingConfig(chunk_size=2048), ChunkingConfig(2048, 32))
WHY = "zero-width characters stripped from chunk text since commit 1059908; the generation is the same"


def _documents(shared: Path, keep_zero_width: bool) -> list[Document]:
    strip = chunking.strip_zero_width
    if keep_zero_width:  # read as the caches' documents were read, before the stripping
        chunking.strip_zero_width = lambda text: text  # type: ignore[assignment]
    try:
        docs, _ = chunking.load_documents(shared / "kb" / "handbook_18f" / "pages")
        docs += load_dataset(shared / "datasets" / "scifact").documents
    finally:
        chunking.strip_zero_width = strip
    return docs


def _had_zero_width(docs: list[Document]) -> set[str]:
    return {d.doc_id for d in docs if any(c in d.text or c in d.title for c in ZERO_WIDTH)}


def rekey_map(shared: Path) -> dict[str, Chunk]:
    """generation hash of a chunk as the caches saw it -> the same chunk as it is read today."""
    before = _documents(shared, keep_zero_width=True)
    affected = _had_zero_width(before)
    now = [d for d in _documents(shared, keep_zero_width=False) if d.doc_id in affected]
    before = [d for d in before if d.doc_id in affected]
    out: dict[str, Chunk] = {}
    for cfg in CONFIGS:
        old, new = chunk_documents(before, cfg), chunk_documents(now, cfg)
        by_doc: dict[str, list[Chunk]] = {}
        for c in new:
            by_doc.setdefault(c.doc_id, []).append(c)
        for doc in affected:
            was = [c for c in old if c.doc_id == doc]
            if len(was) == len(by_doc.get(doc, [])):  # same split: chunk i then is chunk i now
                out.update({generation_hash(a): b for a, b in zip(was, by_doc[doc])})
    return out


def _parsed(lines: list[str]) -> Iterator[dict]:
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn line: the cache's reader skips it too
        if isinstance(rec, dict):
            yield rec


def rekeyed(lines: list[str], mapping: dict[str, Chunk]) -> Iterator[dict]:
    records = list(_parsed(lines))
    have = {(r.get("identity_key"), r.get("chunk_hash")) for r in records}
    for r in records:
        chunk = mapping.get(r.get("chunk_hash", ""))
        if chunk is None:
            continue
        key = (r["identity_key"], generation_hash(chunk))
        if key not in have:
            have.add(key)
            yield {**r, "chunk_hash": key[1], "chunk_id": chunk.chunk_id,
                   "rekeyed_from": {"chunk_hash": r["chunk_hash"], "chunk_id": r.get("chunk_id"), "why": WHY}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    mapping = rekey_map(args.shared)
    for path in sorted(args.cache.glob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        new = list(rekeyed(text.splitlines(), mapping))
        if new:
            with path.open("a", encoding="utf-8") as f:
                if text and not text.endswith("\n"):
                    f.write("\n")
                f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new))
        print(f"{shown(path)}: {len(new)} records re-keyed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
