"""What generators may write (issue 15, findings 1, 6 and 8): the quality gate's catalogue of lines that are not
queries, PII kept out of generated queries and out of the generation cache, and the rules generator's queries for
chunks full of personal data."""
from __future__ import annotations

import json

import pytest
from faults_openai_server import FaultServer

from rag_augment.filters import pii_found
from rag_augment.generators.base import Completion, GenerationResult, LLMQueryGenerator
from rag_augment.generators.quality import gate, line_reason
from rag_augment.generators.rules import RulesGenerator
from rag_augment.types import Chunk

SOURCE = ("Annual leave requests go through https://portal.agency.example/leave two weeks ahead. "
          "Questions go to leave-desk@agency.example. Commit 3f2a9c1e7b tracks the form.")


# ---- the gate's catalogue ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line, reason", [
    ("0xDEADBEEF", "hex_blob"),
    ("0123456789abcdef 42", "hex_blob"),
    ("12345 678 / 90", "no_letters"),
    ("--- *** ---", "no_letters"),
    ('{"tool_call": null}', "json_fragment"),
    ('["What is leave?", "How?"]', "json_fragment"),
    ("null", "json_fragment"),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit", "lorem_ipsum"),
    ("I'm sorry, but I can't help with that request", "refusal"),
    ("As an AI language model I will not write questions", "refusal"),
    ("<|im_end|> What is leave?", "template_token"),
    ("[INST] write questions [/INST]", "template_token"),
    ("token ZXhhbXBsZS1ibG9iLXRoYXQtaXMtbG9uZzEyMw==", "blob"),
    ("leave leave leave leave leave leave", "repetition"),
    ("Is https://evil.example/login the leave portal?", "foreign_url"),
    ("Should I write to boss@evil.example about leave?", "foreign_email"),
    ("Use key sk-live-abcdefghijklmnop1234 for the portal?", "secret"),
    ("Is AKIAABCDEFGHIJKLMNOP the access key?", "secret"),
    ("Pay with card 4111 1111 1111 1111?", "pii"),
    ("Send it to DE89 3704 0044 0532 0130 00?", "pii"),
    ("Call (555) 123-4567 about leave?", "pii"),
    ("What is this? " * 100, "too_long"),
])
def test_lines_that_are_not_queries(line, reason):
    assert line_reason(line, SOURCE) == reason


@pytest.mark.parametrize("line", [
    "How do I request annual leave?",
    "Where is https://portal.agency.example/leave?",     # a URL the passage holds
    "What does commit 3f2a9c1e7b change?",              # a hash the passage holds
    "annual leave two weeks notice",
    "¿Cómo solicito vacaciones anuales?",
    "年假怎么申请",
    "What is the 2024 leave policy for GS-13 staff?",
])
def test_plausible_queries_pass(line):
    assert line_reason(line, SOURCE) is None


def test_the_gate_keeps_good_lines_and_scrubs_leaks_from_the_raw_answer():
    raw = "Q: How do I request annual leave?\nQ: Card 4111 1111 1111 1111 ok?\nQ: 0xDEADBEEF"
    res = GenerationResult(chunk_id="c", queries=[("How do I request annual leave?", "question"),
                                                  ("Card 4111 1111 1111 1111 ok?", "question"),
                                                  ("0xDEADBEEF", "question")], raw=raw)
    out = gate(res, SOURCE)
    assert out.error == "" and out.queries == [("How do I request annual leave?", "question")]
    assert "4111" not in out.raw and "0xDEADBEEF" in out.raw  # leaks scrubbed, plain garbage kept for review
    assert {"gate_dropped_pii", "gate_dropped_hex_blob"} <= set(out.notes)


@pytest.mark.parametrize("notes, queries, why", [
    (["empty"], [], "soft failure: empty answer"),
    (["refusal"], [], "soft failure: refusal"),
    (["unparseable"], [], "soft failure: no usable query in the answer"),
    ([], [("0xDEADBEEF", "question"), ('{"a": 1}', "question")],
     "soft failure: no usable query (dropped: hex_blob x1, json_fragment x1)"),
])
def test_nothing_usable_is_a_soft_failure(notes, queries, why):
    out = gate(GenerationResult(chunk_id="c", queries=queries, notes=notes), SOURCE)
    assert out.error == why and out.queries == []


def test_a_back_end_error_passes_through_with_its_raw_scrubbed():
    res = GenerationResult(chunk_id="c", queries=[], raw="mail boss@evil.example", error="HTTP 500")
    out = gate(res, SOURCE)
    assert out.error == "HTTP 500" and "evil" not in out.raw


class EchoBackend:
    """A chat back end that answers with a fixed text (no server needed for the generator's wiring)."""
    model_id, model_hash = "echo", ""

    def __init__(self, text: str):
        self.text = text

    def complete_batch(self, conversations, params):
        return [Completion(text=self.text) for _ in conversations]


def test_every_llm_back_end_passes_the_gate():
    gen = LLMQueryGenerator(EchoBackend("Lorem ipsum dolor sit amet\n0xDEADBEEF"))
    [res] = gen.generate_batch([Chunk(chunk_id="c", doc_id="d", text="Leave rules.", content_hash="h")])
    assert res.error.startswith("soft failure") and res.queries == []


# ---- PII: kept out of queries and out of generations.jsonl -----------------------------------------------

PII_CHUNK = ("Contact Jane Doe at jane.doe@agency.example or (555) 123-4567 about travel card refunds. "
             "Refunds go to DE89 3704 0044 0532 0130 00 or card 4111 1111 1111 1111 within ten days.")


def test_the_rules_generator_keeps_personal_data_out_of_queries():
    chunk = Chunk(chunk_id="c", doc_id="d", text=PII_CHUNK, content_hash="h", title="Refunds jane@agency.example",
                  seeds=("Email jane.doe@agency.example",))
    [res] = RulesGenerator(n_questions=8, n_keywords=3).generate_batch([chunk])
    assert res.queries
    for text, _ in res.queries + [(res.raw, "raw")]:
        for fragment in ("jane.doe", "agency.example", "555", "4111", "3704", "DE89"):
            assert fragment not in text, (fragment, text)  # before: 'jane.doe agency.example' as a keyword query
        assert pii_found(text) is None


def test_generations_jsonl_never_holds_what_the_filters_keep_out(tmp_path):
    """An endpoint that copies personal data from the passage into its answers: the PII filter keeps it out of
    Chroma, and now the gate keeps it out of the cache too (raw answer included)."""
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder
    from rag_augment.generators.openai import openai_generator

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text(f"# Refunds\n\n{PII_CHUNK}\n")
    answer = ("Q: How do I get a travel card refund?\nQ: Should I email jane.doe@agency.example?\n"
              "Q: Is 4111 1111 1111 1111 the card?\nQ: Do refunds go to DE89 3704 0044 0532 0130 00?\n"
              "Q: Can I call (555) 123-4567?")
    index = AugmentIndex(tmp_path / "home", embedder=HashEmbedder())
    with FaultServer(answer=answer) as srv:
        report = index.index_path(docs, openai_generator("m", base_url=srv.url, api_key_env="RAG_NO_KEY_SET"))
    assert report.generation_errors == []
    cache = (tmp_path / "home" / "generations.jsonl").read_text()
    [rec] = [json.loads(line) for line in cache.splitlines()]
    assert rec["queries"] == [["How do I get a travel card refund?", "question"]]
    for fragment in ("jane.doe", "4111", "3704", "555"):
        assert fragment not in cache


def test_an_answer_written_as_json_is_read_not_dropped():
    answer = '{"questions": ["How do I request annual leave?", "When is the leave deadline?"], "tool_call": null}'
    gen = LLMQueryGenerator(EchoBackend(answer))
    [res] = gen.generate_batch([Chunk(chunk_id="c", doc_id="d", text="Leave rules.", content_hash="h")])
    assert res.error == "" and [t for t, _ in res.queries] == ["How do I request annual leave?",
                                                               "When is the leave deadline?"]
