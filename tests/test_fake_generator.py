"""The fake generator used by indexing tests: canned text through the real parser, failures, call records."""
import pytest

from rag_augment.errors import GenerationError
from rag_augment.generators.base import QueryGenerator
from rag_augment.generators.fake import FakeGenerator
from rag_augment.types import KEYWORD, QUESTION, Chunk


def chunk(cid, title="T"):
    return Chunk(chunk_id=cid, doc_id="d", text="text", content_hash="h", title=title)


def test_canned_text_is_parsed_and_calls_are_recorded():
    gen = FakeGenerator({"a": "Here are 2 questions:\n1. Q: What is A?\n2. Q: What is A?\nK: a facts"})
    assert isinstance(gen, QueryGenerator)
    results = gen.generate_batch([chunk("a"), chunk("b", title="Bee")])
    assert results[0].queries == [("What is A?", QUESTION), ("a facts", KEYWORD)]
    assert "duplicate" in results[0].notes
    assert results[1].queries[0] == ("What does Bee say?", QUESTION)  # not in the dict: the default response
    gen.generate_batch([chunk("c")])
    assert gen.calls == ["a", "b", "c"] and gen.batches == [["a", "b"], ["c"]]


def test_callable_responses_failures_and_crashes():
    gen = FakeGenerator(lambda c: f"Q: about {c.chunk_id}?", fail_on={"bad"}, raise_on={"boom"})
    ok, bad = gen.generate_batch([chunk("x"), chunk("bad")])
    assert ok.queries == [("about x?", QUESTION)] and ok.error == ""
    assert bad.queries == [] and "simulated failure" in bad.error
    with pytest.raises(GenerationError, match="boom"):
        gen.generate_batch([chunk("y"), chunk("boom")])
    assert gen.calls == ["x", "bad", "y", "boom"]


def test_identity_extra_changes_the_identity():
    assert FakeGenerator().identity()["generator"] == "fake"
    assert FakeGenerator(identity_extra={"params": {"v": 2}}).identity()["params"] == {"v": 2}
