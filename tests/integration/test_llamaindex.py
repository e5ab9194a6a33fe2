"""LlamaIndex adapters with real llama-index-core objects and real Chroma: a VectorStoreIndex on ChromaVectorStore
is augmented, then the postprocessor and the retriever run sync and async. Fast tests embed with HashEmbedder and
write queries with a scripted generator (exact, so a miss of the base retriever is certain); the integration test
runs the packaged MiniLM and the rules generator over sample_kb."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import chromadb
import pytest
from support import REPO

pytest.importorskip("llama_index.vector_stores.chroma", reason="needs the llamaindex extra")
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.evaluation import RetrieverEvaluator
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import (
    MetadataMode,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.errors import ConfigError, InputError
from rag_augment.filters import FilterConfig
from rag_augment.generators.base import GenerationResult
from rag_augment.integrations.llamaindex import (
    EXPLAIN_KEY,
    ChatBackendLLM,
    QueryAugmentPostprocessor,
    RagAugmentEmbedding,
    RagAugmentRetriever,
    augment_nodes,
    augment_vector_store_index,
    node_from_store,
    nodes_to_chunks,
    read_index_nodes,
)
from rag_augment.testing import FakeChatBackend, SlowEmbedder
from rag_augment.types import QUESTION

ROOT = REPO
METRICS = ["hit_rate", "mrr", "precision", "recall", "ap", "ndcg"]
TEXTS = {
    "n-travel": "Travel reimbursement claims for my trips go through the travel system within five days.",
    "n-bike": "Staff who cycle to the office receive a monthly stipend for bicycle maintenance.",
    "n-leave": "Annual leave accrues at four hours each pay period during the first three years.",
    "n-laptop": "Laptops are issued by the IT desk on the first day; return them when you leave.",
}
SCRIPT = {  # node id -> the synthetic queries the scripted generator writes for it
    "n-bike": ["reimbursement for my commute", "cycling allowance"],
    "n-leave": ["how much vacation do new employees earn"],
    "n-laptop": ["when do I get my computer"],
}


# The scripted queries share no word with their nodes on purpose; the shared-word filter would drop them.
SCRIPTED = FilterConfig(off_topic=False)


class ScriptedGenerator:
    def identity(self):
        return {"generator": "scripted", "model": "none", "prompt_version": "t1"}

    def generate_batch(self, chunks):
        return [GenerationResult(chunk_id=c.chunk_id, queries=[(q, QUESTION) for q in SCRIPT.get(c.chunk_id, [])])
                for c in chunks]


def app_nodes() -> list[TextNode]:
    return [TextNode(id_=nid, text=text, metadata={"file_name": nid[2:] + ".txt", "team": "hr"},
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-" + nid[2:])})
            for nid, text in TEXTS.items()]


@pytest.fixture
def app(tmp_path):
    embedder = SlowEmbedder()  # its delay is switched on after indexing
    collection = chromadb.PersistentClient(path=str(tmp_path / "app")).get_or_create_collection("app")
    index = VectorStoreIndex(app_nodes(), embed_model=RagAugmentEmbedding(embedder),
                             storage_context=StorageContext.from_defaults(
                                 vector_store=ChromaVectorStore(chroma_collection=collection)))
    augment = AugmentIndex(tmp_path / "ra", collection="app", embedder=embedder)
    report = augment_vector_store_index(index, augment, ScriptedGenerator(), filters=SCRIPTED)
    assert report.chunks_total == 4 and report.queries_kept == 4
    return index, augment, embedder


# The fixture's hash embedder makes the dense legs noise; a profile that weighs them less than the shipped
# default keeps these tests' premise (the scripted queries decide the first stage).
LEXICAL_LED = "tune-start"


def explain(n: NodeWithScore) -> dict:
    return n.node.metadata[EXPLAIN_KEY]


# ---------------------------------------------------------------- augmenting the app's nodes

def test_augment_keeps_node_ids_and_doc_ids(app):
    index, augment, _ = app
    stored = augment.store.get_chunks(list(TEXTS))
    assert set(stored) == set(TEXTS)
    assert {v["metadata"]["doc_id"] for v in stored.values()} == {"doc-" + n[2:] for n in TEXTS}
    assert {q.parent_id for q in augment.store.queries_of(list(TEXTS))} == set(SCRIPT)


def test_read_index_nodes_from_chroma_and_docstore(app, tmp_path):
    index, _, embedder = app
    assert index.docstore.docs == {}  # ChromaVectorStore keeps the nodes, the docstore stays empty
    assert sorted(n.node_id for n in read_index_nodes(index)) == sorted(TEXTS)
    plain = VectorStoreIndex(app_nodes(), embed_model=RagAugmentEmbedding(embedder))  # SimpleVectorStore
    assert sorted(n.node_id for n in read_index_nodes(plain)) == sorted(TEXTS)


def test_reaugmenting_is_incremental_and_replaces_a_documents_old_nodes(app):
    _, augment, _ = app
    nodes = app_nodes()
    again = augment_nodes(nodes, augment, ScriptedGenerator(), filters=SCRIPTED)
    assert again.chunks_unchanged == 4 and again.chunks_generated == 0
    edited = TextNode(id_="n-bike-v2", text="Cyclists get a yearly stipend.", relationships=nodes[1].relationships)
    augment_nodes([edited], augment, ScriptedGenerator(), filters=SCRIPTED)
    assert "n-bike" not in augment.store.get_chunks(["n-bike"])  # the doc's stale node left, with its queries
    assert augment.store.queries_of(["n-bike"]) == []
    with pytest.raises(InputError):
        augment_nodes([nodes[0], nodes[0]], augment, ScriptedGenerator())


def test_markdown_nodes_are_cleaned_but_restored_verbatim():
    raw = "---\ntitle: Leave policy\n---\n\n# Leave\n\n{% include x.html %}See [the form](https://x.example/f).\n"
    first = TextNode(id_="a", text=raw, start_char_idx=0, metadata={"file_name": "leave.md"},
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="d")})
    second = TextNode(id_="b", text="## Sick leave\nAsk your lead.", start_char_idx=200,
                      metadata={"file_name": "leave.md"}, relationships=first.relationships)
    a, b = nodes_to_chunks([second, first])
    assert (a.chunk_id, b.chunk_id) == ("b", "a")
    assert "title:" not in b.text and "{%" not in b.text and "https" not in b.text and "the form" in b.text
    assert a.title == b.title == "Leave policy"  # the front matter title, shared with the document's later nodes
    assert a.seeds == ("Sick leave",)
    back = node_from_store("a", b.text, {**b.metadata, "doc_id": "d"})
    assert back.get_content(MetadataMode.NONE) == raw and back.metadata == first.metadata and back.ref_doc_id == "d"


# ---------------------------------------------------------------- the postprocessor

def test_postprocessor_adds_the_node_the_base_retriever_missed(app):
    index, augment, _ = app
    query = QueryBundle("reimbursement for my commute")
    base = index.as_retriever(similarity_top_k=1).retrieve(query)
    assert [n.node.node_id for n in base] == ["n-travel"]  # lexically close, but the wrong answer
    out = QueryAugmentPostprocessor(index=augment, top_n=2).postprocess_nodes(base, query)
    by_id = {n.node.node_id: n for n in out}
    assert set(by_id) == {"n-bike", "n-travel"}
    bike = by_id["n-bike"]
    assert explain(bike)["added"] and not explain(by_id["n-travel"])["added"]
    assert [m["text"] for m in explain(bike)["matched_queries"]][0] == "reimbursement for my commute"
    assert "base" in explain(by_id["n-travel"])["legs"] and "base" not in explain(bike)["legs"]
    # the added node is the app's node: same id, text, metadata and source document
    assert bike.node.get_content(MetadataMode.NONE) == TEXTS["n-bike"] and bike.node.ref_doc_id == "doc-bike"
    assert {k: v for k, v in bike.node.metadata.items() if k != EXPLAIN_KEY} == {"file_name": "bike.txt",
                                                                                  "team": "hr"}
    for mode in (MetadataMode.LLM, MetadataMode.EMBED):
        assert EXPLAIN_KEY not in bike.node.get_content(mode) and "bike.txt" in bike.node.get_content(mode)
    assert EXPLAIN_KEY not in base[0].node.metadata  # the base retriever's node object is not modified
    only = QueryAugmentPostprocessor(index=augment, top_n=2, add_missing=False).postprocess_nodes(base, query)
    assert [n.node.node_id for n in only] == ["n-travel"]


def test_postprocessor_boosts_a_base_node_with_matching_queries(app):
    index, augment, _ = app
    query = QueryBundle("when do I get my computer")
    base = index.as_retriever(similarity_top_k=4).retrieve(query)
    out = QueryAugmentPostprocessor(index=augment, top_n=4).postprocess_nodes(base, query)
    assert out[0].node.node_id == "n-laptop" and not explain(out[0])["added"]
    assert len(out) == 4 and len({n.node.node_id for n in out}) == 4
    assert all(n.score >= m.score for n, m in zip(out, out[1:]))


def test_postprocessor_sync_and_async_agree_and_repeated_ids_count_once(app):
    index, augment, _ = app
    query = QueryBundle("cycling allowance")
    base = index.as_retriever(similarity_top_k=3).retrieve(query)
    pp = QueryAugmentPostprocessor(index=augment, top_n=3)
    sync = pp.postprocess_nodes(base + base, query)
    asyn = asyncio.run(pp.apostprocess_nodes(base + base, query))
    assert [(n.node.node_id, n.score) for n in sync] == [(n.node.node_id, n.score) for n in asyn]
    assert len({n.node.node_id for n in sync}) == len(sync) == 3
    assert pp.postprocess_nodes(base, query_str="  ") == base[:3]
    with pytest.raises(ValueError):
        pp.postprocess_nodes(base)


def test_postprocessor_is_a_serialisable_llamaindex_component(app):
    _, augment, _ = app
    pp = QueryAugmentPostprocessor(index=augment, top_n=3, profile="default")
    assert pp.class_name() == "QueryAugmentPostprocessor"
    d = pp.to_dict()
    assert d["top_n"] == 3 and d["profile_name"] == "default" and d["class_name"] == "QueryAugmentPostprocessor"
    assert all(QueryAugmentPostprocessor.model_fields[n].description
               for n in ("top_n", "base_weight", "add_missing", "reuse_query_embedding", "explain_key",
                         "profile_name"))


def test_reused_query_embedding_must_come_from_the_same_model(app):
    index, augment, _ = app
    pp = QueryAugmentPostprocessor(index=augment, reuse_query_embedding=True)
    query = QueryBundle("cycling allowance")
    base = index.as_retriever(similarity_top_k=2).retrieve(query)
    assert query.embedding is not None  # the vector retriever left it in the bundle
    assert pp.postprocess_nodes(base, query)[0].node.node_id == "n-bike"
    with pytest.raises(ConfigError):
        pp.postprocess_nodes(base, QueryBundle("cycling allowance", embedding=[0.1] * 7))


# ---------------------------------------------------------------- the retriever

def test_retriever_returns_app_nodes_sync_and_async(app):
    _, augment, _ = app
    retriever = RagAugmentRetriever(augment, similarity_top_k=2)
    sync = retriever.retrieve("how much vacation do new employees earn")
    asyn = asyncio.run(retriever.aretrieve("how much vacation do new employees earn"))
    assert [n.node.node_id for n in sync] == [n.node.node_id for n in asyn]
    assert sync[0].node.node_id == "n-leave" and sync[0].node.ref_doc_id == "doc-leave"
    assert sync[0].node.get_content(MetadataMode.NONE) == TEXTS["n-leave"]
    assert explain(sync[0])["matched_queries"][0]["text"] == "how much vacation do new employees earn"
    assert retriever.retrieve(" ") == []


def test_retriever_over_a_plain_rag_augment_index(tmp_path):
    augment = AugmentIndex(tmp_path / "ra", embedder=HashEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bike.md").write_text("# Bicycles\n\nStaff who cycle get a stipend for bicycle maintenance.\n")
    augment.index_path(docs, ScriptedGenerator())
    [hit] = RagAugmentRetriever(augment, similarity_top_k=1).retrieve("bicycle stipend")
    assert hit.node.ref_doc_id == "bike.md" and "stipend" in hit.node.get_content()
    assert "content_hash" not in hit.node.metadata and hit.node.metadata["doc_id"] == "bike.md"


# ---------------------------------------------------------------- async: the event loop stays free

async def _timed(coros, embedder, delay):
    embedder.delay = delay
    ticks = 0
    done = asyncio.Event()

    async def tick():
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    start = time.perf_counter()
    try:
        results = await asyncio.gather(*coros)
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        await ticker
        embedder.delay = 0.0
    return results, elapsed, ticks


def test_concurrent_async_queries_overlap_and_never_block_the_loop(app):
    index, augment, embedder = app
    delay = 0.4
    pp = QueryAugmentPostprocessor(index=augment, top_n=2)
    base = index.as_retriever(similarity_top_k=1).retrieve("x")
    retriever = RagAugmentRetriever(augment, similarity_top_k=2)
    pp.postprocess_nodes(base, query_str="warm up")  # loads the lexical index once

    async def both():
        posts = [pp.apostprocess_nodes(base, query_str=q) for q in ("cycling allowance", "computer")]
        rets = [retriever.aretrieve(q) for q in ("cycling allowance", "computer")]
        return await _timed(posts, embedder, delay), await _timed(rets, embedder, delay)

    (p_out, p_s, p_ticks), (r_out, r_s, r_ticks) = asyncio.run(both())
    # Each call embeds once (delay s, blocking); sequential would take 2 x delay.
    for elapsed, ticks in ((p_s, p_ticks), (r_s, r_ticks)):
        assert elapsed < 1.6 * delay, elapsed
        assert ticks * 0.01 > 0.5 * elapsed, (ticks, elapsed)  # the loop ticked (every 10 ms) most of the time
    assert p_out[0][0].node.node_id == "n-bike" and r_out[1][0].node.node_id == "n-laptop"


def test_two_concurrent_aquery_calls_of_a_query_engine_overlap(app):
    index, augment, embedder = app
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=2), llm=MockLLM(),
        node_postprocessors=[QueryAugmentPostprocessor(index=augment, top_n=2)],
        response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    engine.query("warm up")
    delay = 0.4

    async def run():
        return await _timed([engine.aquery("reimbursement for my commute"), engine.aquery("computer")],
                            embedder, delay)

    (first, second), elapsed, ticks = asyncio.run(run())
    # Two embeddings per query (the app's retriever, then the postprocessor): 4 x delay one after the other, 3 x
    # delay if only the postprocessor blocked (its embeddings then also stop the loop), about 2 x delay overlapped.
    assert elapsed < 2.6 * delay, elapsed
    assert ticks * 0.01 > 0.5 * elapsed, (ticks, elapsed)
    assert "n-bike" in [n.node.node_id for n in first.source_nodes]
    assert second.source_nodes[0].node.node_id == "n-laptop"


# ---------------------------------------------------------------- RetrieverEvaluator

def test_retriever_evaluator_metrics_stay_within_bounds_and_ids_are_the_apps(app):
    index, augment, _ = app
    cases = {"reimbursement for my commute": ["n-bike"], "when do I get my computer": ["n-laptop"],
             "annual leave": ["n-leave", "n-travel"]}
    evaluators = [
        RetrieverEvaluator.from_metric_names(METRICS, retriever=index.as_retriever(similarity_top_k=2),
                                             node_postprocessors=[QueryAugmentPostprocessor(index=augment, top_n=3)]),
        RetrieverEvaluator.from_metric_names(METRICS, retriever=RagAugmentRetriever(augment, similarity_top_k=3)),
    ]
    for evaluator in evaluators:
        for query, expected in cases.items():
            result = evaluator.evaluate(query, expected_ids=expected)
            assert set(result.retrieved_ids) <= set(TEXTS)
            assert len(set(result.retrieved_ids)) == len(result.retrieved_ids)
            assert all(0.0 <= v <= 1.0 for v in result.metric_vals_dict.values()), result.metric_vals_dict
        assert evaluator.evaluate("reimbursement for my commute", ["n-bike"]).metric_vals_dict["hit_rate"] == 1.0


# ---------------------------------------------------------------- answer synthesis through a chat back end

def test_chat_backend_llm_sends_the_prompt_as_one_user_message():
    echo = FakeChatBackend(lambda c: f"{c[-1]['role']}:{c[-1]['content'][:5]}", model_id="echo")
    llm = ChatBackendLLM(echo, num_output=64)
    assert llm.complete("hello world").text == "user:hello"
    assert asyncio.run(llm.acomplete("hello world")).text == "user:hello"
    assert llm.metadata.model_name == "echo" and llm.metadata.num_output == 64


# ---------------------------------------------------------------- the real thing: MiniLM, rules, sample_kb

@pytest.mark.integration
@pytest.mark.slow
def test_sample_kb_with_minilm_rules_and_a_query_engine(tmp_path):
    from rag_augment.embedding import SentenceTransformerEmbedder
    from rag_augment.generators.rules import RulesGenerator

    embedder = SentenceTransformerEmbedder()
    augment = AugmentIndex(tmp_path / "ra", collection="kb-li", embedder=embedder)
    docs = SimpleDirectoryReader(str(ROOT / "sample_kb" / "docs" / "travel-and-leave"), recursive=True).load_data()
    collection = chromadb.PersistentClient(path=str(tmp_path / "app")).get_or_create_collection("kb-app")
    index = VectorStoreIndex.from_documents(docs, embed_model=RagAugmentEmbedding(embedder),
                                            storage_context=StorageContext.from_defaults(
                                                vector_store=ChromaVectorStore(chroma_collection=collection)))
    report = augment_vector_store_index(index, augment, RulesGenerator())
    app_ids = set(collection.get(include=[])["ids"])
    assert report.chunks_total == len(app_ids) and report.queries_kept > 3 * len(app_ids)

    pp = QueryAugmentPostprocessor(index=augment, top_n=3, reuse_query_embedding=True)
    engine = index.as_query_engine(similarity_top_k=5, node_postprocessors=[pp], llm=MockLLM())
    question = "how many hours of sick leave can I borrow in advance"
    sources = engine.query(question).source_nodes
    assert len(sources) == 3 and {n.node.node_id for n in sources} <= app_ids
    assert Path(sources[0].node.metadata["file_path"]).name == "advanced-sick-leave.md"
    assert sources[0].node.metadata[EXPLAIN_KEY]["matched_queries"]

    async def two():
        return await asyncio.gather(engine.aquery(question), engine.aquery("per diem for meals while travelling"))

    first, second = asyncio.run(two())
    assert [n.node.node_id for n in first.source_nodes] == [n.node.node_id for n in sources]
    assert {n.node.node_id for n in second.source_nodes} <= app_ids

    evaluator = RetrieverEvaluator.from_metric_names(METRICS, retriever=index.as_retriever(similarity_top_k=5),
                                                     node_postprocessors=[pp])
    expected = [n.node.node_id for n in sources[:1]]
    result = evaluator.evaluate(question, expected_ids=expected)
    assert set(result.retrieved_ids) <= app_ids
    assert all(0.0 <= v <= 1.0 for v in result.metric_vals_dict.values())
    assert result.metric_vals_dict["hit_rate"] == 1.0


@pytest.mark.integration
def test_local_llm_answers_through_a_query_engine_with_the_tiny_model(app):
    pytest.importorskip("llama_cpp", reason="needs the local extra (llama-cpp-python)")
    from rag_augment import models
    from rag_augment.integrations.llamaindex import local_llm

    index, augment, _ = app
    llm = local_llm(models.smollm2_path(), n_ctx=2048, num_output=24)  # a plumbing check: the model is tiny
    engine = index.as_query_engine(llm=llm, similarity_top_k=2,
                                   node_postprocessors=[QueryAugmentPostprocessor(index=augment, top_n=2)])
    response = engine.query("reimbursement for my commute")
    assert isinstance(response.response, str) and response.response.strip()
    assert "n-bike" in [n.node.node_id for n in response.source_nodes]


# ---------------------------------------------------------------- rerank=True (issue 19)

class _PreferScorer:
    """A fake reranker: 1.0 for texts holding `word`, else 0.0; counts its calls."""
    name = "prefer"

    def __init__(self, word):
        self.word, self.calls = word, 0

    def score(self, query, texts):
        self.calls += 1
        return __import__("numpy").array([1.0 if self.word in t.lower() else 0.0 for t in texts])


def test_retriever_rerank_reorders_and_explains(app):
    from rag_augment.rerank import RerankStage
    _, augment, _ = app
    query = QueryBundle("reimbursement for my commute")
    plain = RagAugmentRetriever(augment, similarity_top_k=4, profile=LEXICAL_LED).retrieve(query)
    assert plain[0].node.node_id == "n-bike"
    stage = RerankStage(_PreferScorer("laptops"), weight=100.0, top_n=4)
    out = RagAugmentRetriever(augment, similarity_top_k=2, rerank=stage, profile=LEXICAL_LED).retrieve(query)
    assert out[0].node.node_id == "n-laptop" and len(out) == 2
    assert explain(out[0])["legs"]["rerank"] == {"rank": 1, "score": 1.0}
    asyn = asyncio.run(RagAugmentRetriever(augment, similarity_top_k=2, rerank=stage,
                                           profile=LEXICAL_LED).aretrieve(query))
    assert [n.node.node_id for n in asyn] == [n.node.node_id for n in out]
    kept = RagAugmentRetriever(augment, similarity_top_k=4, profile=LEXICAL_LED,
                               rerank=RerankStage(_PreferScorer("laptops"), weight=0.0)).retrieve(query)
    assert [n.node.node_id for n in kept] == [n.node.node_id for n in plain]


def test_postprocessor_rerank_scores_base_nodes_and_added_ones(app):
    from rag_augment.rerank import RerankStage
    index, augment, _ = app
    query = QueryBundle("reimbursement for my commute")
    base = index.as_retriever(similarity_top_k=1).retrieve(query)
    fused = QueryAugmentPostprocessor(index=augment, top_n=2, profile=LEXICAL_LED).postprocess_nodes(base, query)
    assert fused[0].node.node_id == "n-bike"
    scorer = _PreferScorer("travel system")
    pp = QueryAugmentPostprocessor(index=augment, top_n=2, reranker=RerankStage(scorer, weight=100.0),
                                   profile=LEXICAL_LED)
    assert pp.rerank and pp.to_dict()["rerank"] is True
    out = pp.postprocess_nodes(base, query)
    assert out[0].node.node_id == "n-travel" and scorer.calls == 1
    assert "rerank" in explain(out[0])["legs"] and "base" in explain(out[0])["legs"]


def test_rerank_true_on_a_switched_off_reranker_ranks_as_before_and_says_why(app, monkeypatch, caplog):
    from rag_augment.integrations import llamaindex as adapter
    from rag_augment.rerank import RerankStage
    _, augment, _ = app
    query = QueryBundle("reimbursement for my commute")
    scorer = _PreferScorer("laptops")
    reason = "the reranker is off: its self-check lost"
    monkeypatch.setattr(adapter, "load_reranker", lambda index: RerankStage(scorer, 0.0, 20, False, reason))
    plain = RagAugmentRetriever(augment, similarity_top_k=3, profile=LEXICAL_LED).retrieve(query)
    asked = RagAugmentRetriever(augment, similarity_top_k=3, profile=LEXICAL_LED, rerank=True)
    with caplog.at_level("WARNING", logger="rag_augment"):
        out = asked.retrieve(query)
        again = asyncio.run(asked.aretrieve(query))
    assert [n.node.node_id for n in out] == [n.node.node_id for n in again] == [n.node.node_id for n in plain]
    assert scorer.calls == 0 and "rerank" not in explain(out[0])["legs"]
    assert [r.getMessage() for r in caplog.records] == [reason]


def test_rerank_true_without_a_trained_reranker_is_a_clear_error(app):
    _, augment, _ = app
    with pytest.raises(ConfigError, match="rag-augment train"):
        RagAugmentRetriever(augment, rerank=True).retrieve(QueryBundle("cycling allowance"))
