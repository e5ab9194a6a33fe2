"""`index --estimate`: chunks, tokens, time and money before a run, with no generation and nothing written."""
import json

import pytest

from rag_augment.cache import GenerationCache, generation_hash
from rag_augment.chunking import ChunkingConfig, chunk_documents, load_documents
from rag_augment.cli import main
from rag_augment.errors import ConfigError
from rag_augment.estimate import KNOWN_PRICES, TOKENS_PER_QUERY, estimate_run
from rag_augment.generators.base import GenerationResult, LLMQueryGenerator
from rag_augment.generators.prompts import PromptConfig, build_messages
from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import FakeChatBackend


def chunks_of(kb):
    docs, _ = load_documents(kb)
    return docs, chunk_documents(docs, ChunkingConfig())


def llm(model="gpt-4o-mini"):
    backend = FakeChatBackend("Q: what is it?", model_id=model)
    return LLMQueryGenerator(backend, prompt=PromptConfig(n_questions=3, n_paraphrases=0),
                             generator_name="openai"), backend


def chars_tokens(chunk, prompt):
    return sum(len(m["content"]) for m in build_messages(chunk, prompt)) // 4 + 8 * 2


def test_arithmetic_without_history_and_known_prices(kb, tmp_path):
    docs, chunks = chunks_of(kb)
    gen, backend = llm()
    cache = GenerationCache(tmp_path / "gen.jsonl")
    est = estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, cache)
    assert est.chunks_to_generate == len(chunks) and est.chunks_cached == 0 and est.chunks_to_embed == len(chunks)
    assert est.prompt_tokens == sum(chars_tokens(c, gen.prompt) for c in chunks)
    assert est.output_tokens == len(chunks) * 3 * TOKENS_PER_QUERY
    price_in, price_out = KNOWN_PRICES["gpt-4o-mini"]
    assert est.cost_usd == pytest.approx((est.prompt_tokens * price_in + est.output_tokens * price_out) / 1e6)
    assert est.seconds is None  # a remote endpoint's speed is not known before a run
    assert backend.calls == [] and not (tmp_path / "gen.jsonl").exists()


def test_history_in_the_cache_decides_output_and_time(kb, tmp_path):
    docs, chunks = chunks_of(kb)
    gen, backend = llm("some-private-model")
    cache = GenerationCache(tmp_path / "gen.jsonl")
    done, todo = chunks[:4], chunks[4:]
    cache.put_many(gen.identity(), [(c, GenerationResult(c.chunk_id, [("q?", "question")], seconds=2.0 + i,
                                                         completion_tokens=40 + 10 * i)) for i, c in enumerate(done)])
    before = (tmp_path / "gen.jsonl").read_bytes()
    est = estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, cache, prices=(1.0, 2.0))
    assert est.chunks_cached == 4 and est.chunks_to_generate == len(chunks)
    assert est.output_tokens == round(55 * len(todo))                # mean of 40, 50, 60, 70
    assert est.seconds == pytest.approx(3.5 * len(todo))            # mean of 2, 3, 4, 5 s
    assert est.cost_usd == pytest.approx((est.prompt_tokens * 1.0 + est.output_tokens * 2.0) / 1e6)
    assert est.prompt_tokens == sum(chars_tokens(c, gen.prompt) for c in todo)
    assert backend.calls == [] and (tmp_path / "gen.jsonl").read_bytes() == before
    assert {generation_hash(c) for c in done} <= {r["chunk_hash"] for r in cache.records(gen.identity())}


def test_unknown_price_is_said_not_guessed(kb, tmp_path):
    docs, chunks = chunks_of(kb)
    gen, _ = llm("my-vllm-model")
    est = estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, GenerationCache(tmp_path / "g.jsonl"))
    assert est.cost_usd is None and any("--price-in" in b for b in est.basis)
    with pytest.raises(ConfigError, match="prices must be >= 0"):
        estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, GenerationCache(tmp_path / "g.jsonl"),
                     prices=(-1.0, 1.0))


def test_already_indexed_chunks_are_not_counted_again(make_index, kb):
    index = make_index()
    rules = RulesGenerator()
    index.index_path(kb, rules)
    est = index.estimate(kb, rules)
    assert est.chunks_unchanged == est.chunks_total and est.chunks_to_generate == 0 and est.chunks_to_embed == 0
    (kb / "tools" / "zoom.md").unlink()
    assert index.estimate(kb, rules).chunks_to_delete > 0


def test_cli_estimate_on_a_new_home_creates_nothing(kb, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-estimate-only-never-sent")
    home = tmp_path / "home"
    assert main(["index", str(kb), "--home", str(home), "--generator", "openai", "--model", "gpt-4o-mini",
                 "--estimate", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["chunks_to_generate"] == est["chunks_total"] > 0 and est["cost_usd"] > 0
    assert not home.exists()
    assert main(["index", str(kb), "--home", str(home), "--generator", "rules", "--estimate",
                 "--price-in", "1"]) == 2
    assert "--price-in and --price-out go together" in capsys.readouterr().err


def test_index_report_holds_estimate_and_actual_tokens(make_index, kb):
    gen, backend = llm("x")
    index = make_index()
    report = index.index_path(kb, gen)
    assert report.estimate["chunks_to_generate"] == report.chunks_generated == len(backend.prompts)
    assert report.estimate["prompt_tokens"] > 0 and report.chunks_done == report.chunks_generated


def test_local_calibration_generates_a_spread_sample_and_scales_it(kb, tmp_path, monkeypatch):
    """The local model is timed on a few chunks generated as the run would (prompt, sampling, one batch), after a
    one-token warm-up; time and output scale from that sample. Nothing is parsed into the cache."""
    import rag_augment.estimate as E
    from rag_augment.generators.base import Completion

    docs, chunks = chunks_of(kb)
    clock = [100.0]
    monkeypatch.setattr(E.time, "perf_counter", lambda: clock[0])

    def reply(conv):
        clock[0] += 1.5  # each generated chunk costs 1.5 s of the fake clock
        return Completion(text="Q: a?\nQ: b?", completion_tokens=30)

    backend = FakeChatBackend(reply, model_id="tiny.gguf")
    gen = LLMQueryGenerator(backend, prompt=PromptConfig(n_questions=5, n_paraphrases=0), generator_name="local")
    cache = GenerationCache(tmp_path / "gen.jsonl")
    est = estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, cache)
    warm, sample = backend.calls
    assert warm[1].max_tokens == 1 and len(warm[0]) == 1
    assert sample[1] == gen.params and len(sample[0]) == E.CALIBRATION_CHUNKS < len(chunks)
    asked = [conv[-1]["content"] for conv in sample[0]]
    assert asked[0] == build_messages(chunks[0], gen.prompt)[-1]["content"]      # first and last chunk: spread
    assert asked[-1] == build_messages(chunks[-1], gen.prompt)[-1]["content"]
    assert est.seconds == pytest.approx(1.5 * len(chunks))
    assert est.output_tokens == 30 * len(chunks) and est.cost_usd is None
    assert not (tmp_path / "gen.jsonl").exists()
    assert len(backend.calls) == 2
    est = estimate_run(chunks, {}, {d.doc_id for d in docs}, gen, cache, calibrate=False)
    assert est.seconds is None and est.output_tokens == len(chunks) * 5 * TOKENS_PER_QUERY
    assert len(backend.calls) == 2
