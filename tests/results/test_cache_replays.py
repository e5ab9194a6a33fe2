"""The committed generation caches cover their data sets as today's chunking reads them: a change to how text is
read (e.g. stripping invisible characters) changes chunk hashes, and a replay run would stop with a missing chunk."""
import json
from pathlib import Path

import pytest
from support import REPO

from rag_augment.cache import generation_hash
from rag_augment.chunking import ChunkingConfig, chunk_documents, load_documents
from rag_augment.eval.datasets import load_dataset, restrict

SHARED = REPO.parent / "shared"
CACHE = REPO / "benchmarks" / "cache"
SUBSETS = REPO / "benchmarks" / "data_prep" / "subsets"


def _hashes(name: str) -> set[str]:
    return {json.loads(line)["chunk_hash"] for line in (CACHE / name).read_text().splitlines() if line.strip()}


def _missing(chunks, name: str) -> list[str]:
    have = _hashes(name)
    return [c.chunk_id for c in chunks if generation_hash(c) not in have]


@pytest.mark.skipif(not (SHARED / "kb" / "handbook_18f").is_dir(), reason="../shared/kb is not beside this clone")
def test_the_handbook_cache_covers_every_chunk_of_the_handbook():
    docs, _ = load_documents(SHARED / "kb" / "handbook_18f" / "pages")
    assert _missing(chunk_documents(docs, ChunkingConfig()), "handbook_qwen05b_hr_policy.jsonl") == []


@pytest.mark.skipif(not (SHARED / "datasets" / "scifact").is_dir(), reason="../shared/datasets is not here")
@pytest.mark.parametrize("subset, caches", [
    ("scifact_test_1000.json", ["scifact_test1000_qwen15b.jsonl", "scifact_test1000_qwen05b.jsonl"]),
    ("scifact_test_random_1000.json", ["scifact_random1000_qwen05b.jsonl"]),
])
def test_the_scifact_caches_cover_their_subsets(subset: str, caches: list[str]):
    pool = json.loads((SUBSETS / subset).read_text())
    ds = restrict(load_dataset(SHARED / "datasets" / "scifact"), pool["docs"], pool["queries"])
    chunks = chunk_documents(ds.documents, ChunkingConfig(chunk_size=2048))
    for name in caches:
        assert _missing(chunks, name) == [], name


def test_sample_kb_caches_cover_sample_kb():
    docs, _ = load_documents(REPO / "sample_kb" / "docs")
    chunks = chunk_documents(docs, ChunkingConfig())
    for name in ("sample_kb_qwen05b_hr_policy.jsonl", "sample_kb_qwen15b_hr_policy.jsonl"):
        assert _missing(chunks, name) == [], name


def test_a_rekeyed_record_names_what_it_was_made_for():
    for path in sorted(Path(CACHE).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line) if '"rekeyed_from"' in line else None
            if rec:
                assert rec["rekeyed_from"]["chunk_hash"] != rec["chunk_hash"] and rec["rekeyed_from"]["why"]
