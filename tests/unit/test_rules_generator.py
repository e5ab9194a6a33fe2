"""The rules generator: deterministic, batch-independent, non-empty on real chunks."""

import pytest
from support import TEST_DATA

from rag_augment.chunking import chunk_documents, load_documents
from rag_augment.errors import ConfigError
from rag_augment.generators.base import QueryGenerator
from rag_augment.generators.parsing import parse_queries
from rag_augment.generators.rules import RulesGenerator
from rag_augment.types import GENERATED_KINDS, KEYWORD, PARAPHRASE, QUESTION, Chunk

HANDBOOK = TEST_DATA / "handbook_18f"


@pytest.fixture(scope="module")
def real_chunks():
    docs, _ = load_documents(HANDBOOK)
    return chunk_documents(docs)


def chunk(text, seeds=(), title="", chunk_id="d#1"):
    return Chunk(chunk_id=chunk_id, doc_id="d", text=text, content_hash="h", title=title, seeds=seeds)


def test_implements_the_protocol_and_identity():
    gen = RulesGenerator(n_questions=3, n_paraphrases=1)
    assert isinstance(gen, QueryGenerator)
    assert gen.identity() == {"generator": "rules", "model": "rules", "model_hash": "", "prompt_version": "rules-v2",
                              "params": {"n_questions": 3, "n_paraphrases": 1, "n_keywords": 1}}


@pytest.mark.parametrize("kwargs", [{"n_questions": -1}, {"n_paraphrases": 1.5},
                                    {"n_questions": 0, "n_paraphrases": 0, "n_keywords": 0}])
def test_bad_settings_raise(kwargs):
    with pytest.raises(ConfigError, match="rules"):
        RulesGenerator(**kwargs)


def test_deterministic_and_non_empty_on_real_chunks(real_chunks):
    first = RulesGenerator().generate_batch(real_chunks)
    second = RulesGenerator().generate_batch(real_chunks)
    assert [(r.chunk_id, r.queries, r.raw) for r in first] == [(r.chunk_id, r.queries, r.raw) for r in second]
    assert [r.chunk_id for r in first] == [c.chunk_id for c in real_chunks]
    for c, r in zip(real_chunks, first):
        kinds = [k for _, k in r.queries]
        assert r.error == "" and QUESTION in kinds and KEYWORD in kinds, c.chunk_id
        assert set(kinds) <= set(GENERATED_KINDS)
        assert kinds.count(QUESTION) <= 5 and kinds.count(KEYWORD) <= 1
        assert kinds.count(PARAPHRASE) <= 2 * len(c.seeds)
        assert (PARAPHRASE in kinds) == bool(c.seeds)
        texts = [t.lower() for t, _ in r.queries]
        assert len(set(texts)) == len(texts)
        assert not {s.lower() for s in c.seeds} & set(texts)  # a seed is known already: never echoed


def test_results_do_not_depend_on_the_batch(real_chunks):
    gen = RulesGenerator()
    together = gen.generate_batch(real_chunks)
    alone = [gen.generate_batch([c])[0] for c in reversed(real_chunks)][::-1]
    assert [r.queries for r in together] == [r.queries for r in alone]


def test_raw_round_trips_through_the_parser(real_chunks):
    for r in RulesGenerator().generate_batch(real_chunks):
        assert parse_queries(r.raw).queries == r.queries


def test_headings_become_questions_and_paraphrases():
    c = chunk("You earn four hours of sick leave every pay period. You must tell your supervisor before you take "
              "it. To request sick leave, submit it in HR Links.", seeds=("Leave", "Sick leave"), title="Leave")
    queries = RulesGenerator().generate_batch([c])[0].queries
    questions = [t for t, k in queries if k == QUESTION]
    assert questions[:2] == ["What is the policy on sick leave?", "How does sick leave work?"]
    assert "Do I need to tell my supervisor before I take it?" in questions
    assert "How do I request sick leave?" in questions
    paraphrases = [t for t, k in queries if k == PARAPHRASE]
    assert len(paraphrases) == 4 and all("leave" in p.lower() for p in paraphrases)
    assert any("sick leave" in p for p in paraphrases[:2])  # the most specific heading first


def test_question_headings_get_reworded():
    c = chunk("Ask #admins-docker for access to the TTS-wide account.", seeds=("How do I get access to Docker Hub?",))
    paraphrases = [t for t, k in RulesGenerator().generate_batch([c])[0].queries if k == PARAPHRASE]
    assert paraphrases == ["What is the process to get access to Docker Hub?", "steps to get access to Docker Hub"]


def test_abstract_without_headings_uses_title_and_sentences():
    c = chunk("Alterations of the architecture of cerebral white matter in the developing human brain can affect "
              "cortical development. Diffusion tensor imaging measured white matter anisotropy in 17 preterm "
              "infants. White matter anisotropy increased with gestational age.",
              title="Microstructural development of human newborn cerebral white matter")
    queries = RulesGenerator().generate_batch([c])[0].queries
    assert sum(k == QUESTION for _, k in queries) >= 3
    keyword = next(t for t, k in queries if k == KEYWORD)
    assert "white" in keyword and "matter" in keyword
    assert not any(k == PARAPHRASE for _, k in queries)


def test_counts_follow_the_settings():
    c = chunk("Staff get transit benefits. You can claim them monthly. Parking is not covered.", seeds=("Transit",))
    kinds = [k for _, k in RulesGenerator(n_questions=2, n_paraphrases=3, n_keywords=0)
             .generate_batch([c])[0].queries]
    assert kinds.count(QUESTION) == 2 and kinds.count(PARAPHRASE) == 3 and KEYWORD not in kinds
    only_keywords = RulesGenerator(n_questions=0, n_paraphrases=0, n_keywords=2).generate_batch([c])[0].queries
    assert [k for _, k in only_keywords] == [KEYWORD, KEYWORD]


def test_empty_chunk_gives_an_empty_note_not_an_error():
    r = RulesGenerator().generate_batch([chunk("--- ...")])[0]
    assert r.queries == [] and r.notes == ["empty"] and r.error == ""


def test_many_chunks_in_one_batch_keep_order_and_queries(real_chunks):
    """A large batch (what indexing a corpus sends) gives each copy of a chunk the queries of the original, in
    order. Its speed is measured in benchmarks/perf/bench_rules_generator.py, not asserted here."""
    many = [Chunk(chunk_id=f"{c.chunk_id}/{i}", doc_id=c.doc_id, text=c.text, content_hash=c.content_hash,
                  title=c.title, seeds=c.seeds) for i in range(20) for c in real_chunks]
    want = [r.queries for r in RulesGenerator().generate_batch(real_chunks)]
    results = RulesGenerator().generate_batch(many)
    assert [r.chunk_id for r in results] == [c.chunk_id for c in many]
    assert [r.queries for r in results] == want * 20
