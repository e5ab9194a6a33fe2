"""The generation cache against corrupt and torn files (issue 15, finding 3): a bad line is skipped, counted and
logged, never a traceback; a torn tail never swallows the next record appended."""
from __future__ import annotations

import json
import logging

import pytest

from rag_augment.cache import GenerationCache, generation_hash, read_records
from rag_augment.errors import InputError
from rag_augment.generators.base import GenerationResult, identity_key
from rag_augment.types import Chunk

IDENTITY = {"generator": "test", "model": "m", "params": {}}


def chunk(i: int) -> Chunk:
    return Chunk(chunk_id=f"c{i}", doc_id="d", text=f"text {i}", content_hash=f"h{i}")


def result(i: int) -> GenerationResult:
    return GenerationResult(chunk_id=f"c{i}", queries=[(f"what is text {i}?", "question")], raw=f"Q: what is {i}?")


def line(i: int) -> bytes:
    rec = {"identity_key": identity_key(IDENTITY), "chunk_hash": generation_hash(chunk(i)), "chunk_id": f"c{i}",
           "identity": IDENTITY, "queries": [[f"what is text {i}?", "question"]], "raw": "", "notes": []}
    return (json.dumps(rec) + "\n").encode()


CORRUPT_LINES = {
    "non_utf8": b'{"identity_key": "\xff\xfe"}\n',
    "json_list": b"[1,2]\n",
    "json_null": b"null\n",
    "json_number": b"42\n",
    "not_json": b"Lorem ipsum\n",
    "missing_keys": b'{"identity_key": "x"}\n',
    "queries_not_list": b'{"identity_key": "k", "chunk_hash": "h", "queries": "Q: x"}\n',
    "query_not_pair": b'{"identity_key": "k", "chunk_hash": "h", "queries": [[1, 2]]}\n',
    "torn": b'{"identity_key": "k", "chunk_ha\n',
}


@pytest.mark.parametrize("bad", list(CORRUPT_LINES.values()), ids=list(CORRUPT_LINES))
def test_a_corrupt_line_is_skipped_counted_and_logged(tmp_path, caplog, bad):
    path = tmp_path / "generations.jsonl"
    path.write_bytes(line(1) + bad + line(2))
    with caplog.at_level(logging.WARNING, logger="rag_augment.cache"):
        cache = GenerationCache(path)
    assert len(cache) == 2 and cache.skipped_lines == 1
    assert cache.get(IDENTITY, chunk(1)).queries == [("what is text 1?", "question")]
    assert cache.get(IDENTITY, chunk(2)) is not None
    assert any("skipped 1 unreadable line(s) (line 2)" in r.getMessage() for r in caplog.records)


def test_wrongly_typed_optional_fields_fall_back_to_defaults(tmp_path):
    rec = json.loads(line(1))
    rec.update(raw=["not", "text"], seconds="slow", notes="empty", prompt_tokens=True)
    path = tmp_path / "generations.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    got = GenerationCache(path).get(IDENTITY, chunk(1))
    assert (got.raw, got.seconds, got.notes, got.prompt_tokens) == ("", 0.0, [], 0)


def test_a_torn_tail_does_not_swallow_the_next_record(tmp_path):
    path = tmp_path / "generations.jsonl"
    path.write_bytes(line(1) + line(2)[:30])  # killed mid-write: no newline at the end
    cache = GenerationCache(path)
    assert cache.skipped_lines == 1
    cache.put_many(IDENTITY, [(chunk(3), result(3))])
    reread = GenerationCache(path)
    assert reread.get(IDENTITY, chunk(3)) is not None  # before the fix it was glued onto the torn line
    assert reread.skipped_lines == 1 and len(reread) == 2
    assert path.read_bytes().endswith(b"\n")


def test_a_complete_last_line_without_newline_is_kept_and_not_glued(tmp_path):
    path = tmp_path / "generations.jsonl"
    path.write_bytes(line(1).rstrip(b"\n"))
    cache = GenerationCache(path)
    assert len(cache) == 1 and cache.skipped_lines == 0
    cache.put_many(IDENTITY, [(chunk(2), result(2))])
    assert len(GenerationCache(path)) == 2


def test_errored_results_are_not_cached(tmp_path):
    path = tmp_path / "generations.jsonl"
    cache = GenerationCache(path)
    failed = GenerationResult(chunk_id="c1", queries=[], error="soft failure: empty answer")
    cache.put_many(IDENTITY, [(chunk(1), failed), (chunk(2), result(2))])
    assert [r["chunk_id"] for r in read_records(path)[0]] == ["c2"]


def test_records_of_one_identity(tmp_path):
    path = tmp_path / "generations.jsonl"
    cache = GenerationCache(path)
    cache.put_many(IDENTITY, [(chunk(1), result(1))])
    cache.put_many({**IDENTITY, "model": "other"}, [(chunk(2), result(2))])
    assert [r["chunk_id"] for r in cache.records(IDENTITY)] == ["c1"]


def test_an_unreadable_cache_is_a_one_line_error(tmp_path):
    (tmp_path / "generations.jsonl").mkdir()  # a folder where the file should be
    with pytest.raises(InputError, match="generations.jsonl: cannot read the generation cache"):
        GenerationCache(tmp_path / "generations.jsonl")


def test_every_command_survives_a_corrupt_cache(tmp_path):
    """The issue's symptom: one bad line made `stats`, `query` and `index` die. Through the real index."""
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder
    from rag_augment.generators.rules import RulesGenerator

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Leave\n\nYou must request annual leave two weeks ahead in the portal.\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "generations.jsonl").write_bytes(b"\xff\xfe\n[1,2]\nnull\n")
    index = AugmentIndex(home, embedder=HashEmbedder())
    assert index.cache.skipped_lines == 3
    report = index.index_path(docs, RulesGenerator())
    assert report.generation_errors == [] and report.queries_kept > 0
    assert index.stats()["chunks"] == 1 and index.query("annual leave")
    assert len(GenerationCache(home / "generations.jsonl")) == 1
