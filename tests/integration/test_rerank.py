"""The reranker trained on the index's own queries (rag_augment.rerank): training data, training with a budget and
checkpoints, provenance and staleness, and the rerank stage in the retriever and the CLI. Fast: a HashEmbedder
index, a tiny BERT cross-encoder made here (same tokenizer as the packaged MiniLM), fake scorers for ordering."""
from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pytest

from rag_augment.chunking import ChunkingConfig
from rag_augment.errors import ConfigError
from rag_augment.rerank import RERANK_LEG, RerankStage, combine_scores, load_reranker, status
from rag_augment.rerank.model_home import base_model_sha256, model_dir, work_dir
from rag_augment.rerank.training import (
    TrainConfig,
    TrainingQuery,
    best_weight,
    index_queries,
    mine_groups,
    train_reranker,
)
from rag_augment.rerank.training.tune import Scored
from rag_augment.testing import FakeGenerator
from rag_augment.types import Document

TOPICS = {
    "leave": ["Annual leave accrues at four hours each pay period.", "Sick leave accrues at four hours too.",
              "Leave requests go to your supervisor in the time system."],
    "travel": ["Travel claims are filed in the travel system within five days.", "Per diem covers meals on trips.",
               "Book flights through the agency travel office."],
    "laptop": ["Laptops are issued by the IT desk on your first day.", "Return the laptop when you leave.",
               "Report a lost laptop to security at once."],
    "parking": ["Parking permits are sold monthly at the front desk.", "Bicycle racks are behind the building.",
                "Transit benefits pay for the bus and the train."],
}


def docs(extra: str = "") -> list[Document]:
    return [Document(doc_id=f"{t}.md", title=t, text="\n\n".join(s + (extra if t == "leave" else "") for s in body))
            for t, body in TOPICS.items()]


def questions(chunk) -> str:
    first = chunk.text.split(".")[0]
    return f"Q: {first}?\nQ: what about {chunk.title} here\nK: {chunk.title}"


CHUNKING = ChunkingConfig(chunk_size=16, chunk_overlap=0)


@pytest.fixture
def index(make_index):
    idx = make_index()
    idx.index_documents(docs(), FakeGenerator(questions), CHUNKING)
    return idx


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer BERT with 32 hidden units and a one-logit head, saved with the packaged MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag_augment.embedding import packaged_minilm_path
    folder = tmp_path_factory.mktemp("tiny-ce")
    tok = AutoTokenizer.from_pretrained(packaged_minilm_path(), local_files_only=True)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny(tiny_model, **kw) -> TrainConfig:
    kw.setdefault("max_length", 48)
    kw.setdefault("batch_groups", 4)
    return TrainConfig(base_model=str(tiny_model), layers=None, **kw)


# ---------------------------------------------------------------- training data

def test_pairs_hold_the_parent_text_and_no_negative_from_the_parents_document(index):
    queries = index_queries(index)
    assert queries and {q.source for q in queries} == {"fake"}
    groups, report = mine_groups(index, queries, negatives=3, depth=20, seed=1)
    states = index.store.chunk_states()
    texts = {cid: got["text"] for cid, got in index.store.get_chunks(list(states)).items()}
    doc = {cid: m["doc_id"] for cid, m in states.items()}
    assert report.kept == len(groups) > 0 and report.negatives == sum(len(g.negatives) for g in groups)
    for g in groups:
        assert g.positive == texts[g.parent_id]
        assert g.negative_ids and all(doc[n] != doc[g.parent_id] for n in g.negative_ids)
        assert list(g.negatives) == [texts[n] for n in g.negative_ids]
    # the exclusion matters: unfiltered, the index ranks chunks of the parent's own document among the top
    q = queries[0]
    top = [h.chunk_id for h in index.query(q.text, k=5)]
    assert any(doc[c] == doc[q.parent_id] and c != q.parent_id for c in top)


def test_mining_is_seeded(index):
    queries = index_queries(index)
    a, _ = mine_groups(index, queries, seed=3)
    b, _ = mine_groups(index, queries, seed=3)
    c, _ = mine_groups(index, queries, seed=4)
    assert a == b and a != c


def test_round_trip_drops_a_query_its_chunk_does_not_answer(index):
    parent = index_queries(index)[0].parent_id
    queries = [TrainingQuery("zebra quantum saxophone", parent, "real", "real"),
               TrainingQuery(index.store.get_chunks([parent])[parent]["text"], parent, "real", "real")]
    groups, report = mine_groups(index, queries, round_trip=1)
    assert report.dropped_round_trip == 1 and [g.query for g in groups] == [queries[1].text]
    kept, _ = mine_groups(index, queries, round_trip=0)
    assert len(kept) == 2


# ---------------------------------------------------------------- training, provenance, staleness

def test_training_stores_a_model_with_provenance(index, tiny_model):
    plans = []
    meta = train_reranker(index, tiny(tiny_model, seed=7), on_plan=plans.append)
    folder = model_dir(index)
    assert (folder / "reranker.json").exists() and (folder / "config.json").exists()
    assert not work_dir(index).exists()
    assert json.loads((folder / "reranker.json").read_text()) == meta
    n = len(index_queries(index))
    assert meta["training_queries"]["groups"] == n and meta["training_queries"]["by_source"] == {"fake": n}
    assert meta["training_queries"]["mining"]["queries"] == n
    assert meta["seed"] == 7 and meta["base_model_sha256"] == base_model_sha256(tiny_model)
    assert meta["base_model"] == tiny_model.name and str(tiny_model.parent) not in json.dumps(meta)
    assert meta["steps"] == meta["steps_total"] == -(-n // 4) and not meta["stopped_by_budget"]
    assert meta["index_fingerprint"]["queries"] == index.store.counts()["queries"]
    assert len(plans) == 1 and plans[0].steps_planned == meta["steps"] and plans[0].estimate_minutes >= 0
    info = status(index)
    assert info["trained"] and not info["stale"]
    stage = load_reranker(index)
    scores = stage.scorer.score("annual leave", ["Annual leave accrues.", "Parking permits."])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_the_same_seed_trains_the_same_model(make_index, tiny_model):
    def train(home):
        idx = make_index(home)
        idx.index_documents(docs(), FakeGenerator(questions), CHUNKING)
        train_reranker(idx, tiny(tiny_model, seed=3))
        return load_reranker(idx).scorer.score("sick leave", ["Sick leave accrues at four hours too."])
    assert np.allclose(train("a"), train("b"), atol=1e-5)


def test_training_leaves_the_host_rng_alone_and_seeds_a_fresh_head(make_index, tiny_model, tmp_path):
    """The host's torch generator is where it was before training; a bi-encoder base (fresh head) trained twice
    with one seed gives one model, whatever the host drew in between."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    bi = tmp_path / "bi"
    AutoModel.from_pretrained(tiny_model).save_pretrained(bi)  # a bi-encoder folder: the head starts fresh
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(bi)

    def train(home):
        idx = make_index(home)
        idx.index_documents(docs(), FakeGenerator(questions), CHUNKING)
        torch.rand(int(torch.randint(1, 100, (1,))))  # the host draws a varying amount
        before = torch.random.get_rng_state()
        train_reranker(idx, tiny(bi, seed=5))
        assert torch.equal(torch.random.get_rng_state(), before)
        return load_reranker(idx).scorer.score("sick leave", ["Sick leave accrues at four hours too."])
    assert np.allclose(train("a"), train("b"), atol=1e-5)


def test_reindexing_marks_the_model_stale(index, tiny_model, caplog):
    train_reranker(index, tiny(tiny_model))
    index.index_documents(docs(extra=" Updated policy."), FakeGenerator(questions), CHUNKING)
    info = status(index)
    assert info["stale"] and "train" in info["stale_reason"]
    with caplog.at_level(logging.WARNING, logger="rag_augment.rerank"):
        stage = load_reranker(index)
    assert stage.stale and "changed since training" in caplog.text


def test_the_budget_cuts_the_schedule(index, tiny_model):
    ticks = iter(range(0, 10_000, 5))  # a clock that moves 5 s on every reading
    meta = train_reranker(index, tiny(tiny_model, batch_groups=1, epochs=3, max_minutes=1.0, force=True),
                          clock=lambda: float(next(ticks)))  # force: less than half an epoch fits
    assert meta["stopped_by_budget"] or meta["steps_planned"] < meta["steps_total"]
    assert 0 < meta["steps"] < meta["steps_total"]


def test_a_budgeted_plan_is_revised_once_on_steady_steps(index, tiny_model):
    """The first plan rests on steps 2-3, which ran slower than later ones: it is revised once on the median of the
    first REPLAN_STEPS, so the budget is not left a third unused."""
    class SlowStart:
        def __init__(self):
            self.t, self.calls = 0.0, 0

        def __call__(self) -> float:
            self.calls += 1
            self.t += 3.0 if self.calls < 30 else 1.0
            return self.t

    plans = []
    meta = train_reranker(index, tiny(tiny_model, batch_groups=1, epochs=50, max_minutes=4.0), on_plan=plans.append,
                          clock=SlowStart())
    assert [p.revised for p in plans] == [False, True]
    assert plans[1].step_seconds == 1.0 < plans[0].step_seconds
    assert plans[0].steps_planned < plans[1].steps_planned == meta["steps_planned"] < meta["steps_total"]


def test_the_plan_leaves_the_warm_up_step_out_of_the_estimate():
    from rag_augment.rerank.training.train import calibrated_step, replan_due, revised_plan
    assert calibrated_step([5.0, 1.5, 1.7]) == pytest.approx(1.6)
    assert calibrated_step([2.0]) == 2.0
    assert [t for t in range(1, 320) if replan_due(t)] == [25, 100, 200, 300]
    assert revised_plan([9.0] + [3.0] * 50 + [2.0] * 100) == 2.0  # the latest 100 steps only
    assert revised_plan([9.0, 3.0, 2.0, 2.5]) == 2.5


def test_an_interrupted_run_resumes_from_its_checkpoint(index, tiny_model):
    class StopAfter:
        def __init__(self, total, desc):
            self.n = 0

        def update(self, n):
            self.n += n
            if self.n >= 3 and n == 1:
                raise KeyboardInterrupt

        def close(self):
            pass

    cfg = tiny(tiny_model, batch_groups=1)
    with pytest.raises(KeyboardInterrupt):
        train_reranker(index, cfg, progress=lambda total, desc: StopAfter(total, desc) if "train" in desc
                       else _Quiet())
    saved = json.loads((work_dir(index) / "checkpoint" / "state.json").read_text())
    assert saved["step"] >= 3  # the bar stopped it one step after it was created (after the calibration steps)
    plans = []
    meta = train_reranker(index, cfg, on_plan=plans.append)
    assert plans[0].resumed_at == saved["step"] and meta["steps"] == meta["steps_total"] > saved["step"]


class _Quiet:
    def update(self, n):
        pass

    def close(self):
        pass


def test_fit_depth_takes_the_deepest_cut_within_the_budget():
    from rag_augment.rerank.training.depth import fit_depth
    cost = {6: 190.0, 5: 160.0, 4: 130.0, 3: 100.0}
    tried = []

    def measure(n):
        tried.append(n)
        return cost[n]
    got = fit_depth(measure, 6, 150)
    assert (got.layers, got.fits, tried) == (4, True, [6, 5, 4]) and got.measured_ms == {6: 190.0, 5: 160.0, 4: 130.0}
    assert fit_depth(cost.get, 6, 200).measured_ms == {6: 190.0}            # the deepest fits: nothing else timed
    slow = fit_depth(cost.get, 6, 50)
    assert (slow.layers, slow.fits) == (4, False) and 3 not in slow.measured_ms  # never below MIN_LAYERS
    assert fit_depth({2: 500.0}.get, 2, 150).layers == 2                     # a shallower base is kept whole


def test_training_from_a_bi_encoder_fits_its_depth_to_the_latency_budget(make_index, tmp_path):
    """Timed here before training: an unreachable budget stops, or with force trains MIN_LAYERS and says so in the
    provenance; a generous one keeps every layer; a depth given by the caller is not timed at all."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rag_augment.embedding import packaged_minilm_path
    bi = tmp_path / "bi6"
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(bi)
    AutoTokenizer.from_pretrained(packaged_minilm_path(), local_files_only=True).save_pretrained(bi)
    idx = make_index("fit")
    idx.index_documents(docs(), FakeGenerator(questions), CHUNKING)
    with pytest.raises(ConfigError, match=r"even 4 layers take .* ms to rerank a top 20 here"):
        train_reranker(idx, TrainConfig(base_model=str(bi), max_length=48, latency_ms=1e-6))  # far over: stops
    meta = train_reranker(idx, TrainConfig(base_model=str(bi), max_length=48, latency_ms=1e-6, force=True))
    fitted = meta["depth_fitted"]
    assert meta["layers"] == 4 and fitted["layers"] == 4 and not fitted["fits"]
    assert list(fitted["measured_ms"]) == ["6", "5", "4"] and all(ms > 0 for ms in fitted["measured_ms"].values())
    assert load_reranker(idx).scorer.score("sick leave", ["Sick leave accrues."]).shape == (1,)
    meta = train_reranker(idx, TrainConfig(base_model=str(bi), max_length=48, latency_ms=1e9))
    assert meta["layers"] == 6 and list(meta["depth_fitted"]["measured_ms"]) == ["6"]
    meta = train_reranker(idx, TrainConfig(base_model=str(bi), max_length=48, layers=5, latency_ms=1e-6))
    assert meta["layers"] == 5 and meta["depth_fitted"] is None
    with pytest.raises(ConfigError, match="latency_ms"):
        train_reranker(idx, TrainConfig(latency_ms=0))


def test_a_bi_encoder_base_gets_an_identity_pooler_and_a_faster_head(tiny_model, tmp_path):
    """A bi-encoder folder (no sequence-classifier architecture) starts a fresh head: the pooler passes [CLS]
    through and the head learns at head_lr; a ready cross-encoder keeps its head and one learning rate."""
    import torch
    from transformers import AutoModel

    from rag_augment.rerank.stage import load_cross_encoder
    from rag_augment.rerank.training.train import has_fresh_head, identity_pooler, param_groups
    assert not has_fresh_head(tiny_model)
    bi = tmp_path / "bi"
    AutoModel.from_pretrained(tiny_model).save_pretrained(bi)   # BertModel: what a bi-encoder folder holds
    assert has_fresh_head(bi)
    assert has_fresh_head(tmp_path / "no-config-here")
    ce = load_cross_encoder(tiny_model)
    identity_pooler(ce)
    assert torch.equal(ce.model.bert.pooler.dense.weight, torch.eye(32))
    assert not ce.model.bert.pooler.dense.bias.any()
    groups = param_groups(ce.model, 5e-5, 1e-3)
    head = {id(p) for n, p in ce.model.named_parameters() if "classifier" in n or "pooler" in n}
    for g in groups:
        assert g["lr"] == (1e-3 if {id(p) for p in g["params"]} <= head else 5e-5)
        assert not ({id(p) for p in g["params"]} & head) or {id(p) for p in g["params"]} <= head
    assert {g["lr"] for g in param_groups(ce.model, 5e-5, None)} == {5e-5}
    assert sum(len(g["params"]) for g in groups) == len(list(ce.model.parameters()))


def test_bad_settings_are_one_line_errors(index, tmp_path):
    with pytest.raises(ConfigError, match="negatives"):
        train_reranker(index, TrainConfig(negatives=0))
    with pytest.raises(ConfigError, match="head_lr"):
        train_reranker(index, TrainConfig(head_lr=0))
    with pytest.raises(ConfigError, match="not a folder"):
        train_reranker(index, TrainConfig(base_model=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="rag-augment train"):
        load_reranker(index)


# ---------------------------------------------------------------- the rerank stage

class PreferScorer:
    """Scores a text by whether it contains `word` (1.0) or not (0.0)."""
    name = "prefer"

    def __init__(self, word):
        self.word = word
        self.calls = 0

    def score(self, query, texts):
        self.calls += 1
        return np.array([1.0 if self.word in t.lower() else 0.0 for t in texts])


def test_rerank_changes_the_order_when_the_scorer_says_so(index):
    fused = index.retriever.search("leave", k=6)
    last = fused[-1]
    word = next(w for w in last.text.lower().split() if all(w not in h.text.lower() for h in fused[:-1]))
    reranked = index.retriever.search("leave", k=6, reranker=RerankStage(PreferScorer(word), weight=100.0))
    assert reranked[0].chunk_id == last.chunk_id
    assert reranked[0].legs[RERANK_LEG].rank == 1 and reranked[0].legs[RERANK_LEG].score == 1.0
    assert {h.chunk_id for h in reranked} == {h.chunk_id for h in fused}


def test_weight_zero_keeps_the_fused_order(index):
    fused = index.retriever.search("travel claims", k=6)
    scorer = PreferScorer(fused[-1].text.lower().split()[0])
    kept = index.retriever.search("travel claims", k=6, reranker=RerankStage(scorer, weight=0.0))
    assert scorer.calls == 1
    assert [h.chunk_id for h in kept] == [h.chunk_id for h in fused]
    assert all(RERANK_LEG in h.legs for h in kept)


def test_rerank_scores_the_top_n_and_returns_k(index):
    scorer = PreferScorer("laptop")
    hits = index.retriever.search("leave", k=2, reranker=RerankStage(scorer, weight=100.0, top_n=8))
    assert len(hits) == 2 and all("laptop" in h.text.lower() for h in hits)


def test_combine_scores():
    ranked = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    assert combine_scores(ranked, [0.0, 0.0, 5.0], 0.0)[0] == [("a", 1.0), ("b", 0.5), ("c", 0.0)]
    new, own = combine_scores(ranked, [0.0, 0.0, 5.0], 2.0)
    assert [p for p, _ in new] == ["c", "a", "b"] and own[0] == ("c", 5.0)
    assert combine_scores([], [], 1.0) == ([], [])
    with pytest.raises(ConfigError):
        RerankStage(PreferScorer("x"), weight=-1)


def test_best_weight_is_zero_for_a_wrong_scorer_and_large_for_a_right_one():
    chunk_doc = {"a": "A", "b": "B", "c": "C"}
    ranked = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    right = [Scored(ranked, np.array([0.0, 0.0, 1.0]), {"C": 1})]
    wrong = [Scored(ranked, np.array([0.0, 0.0, 1.0]), {"A": 1})]
    assert best_weight(right, chunk_doc)[0] > 1.0
    assert best_weight(wrong, chunk_doc)[0] == 0.0


def test_explain_prints_the_rerankers_score(index, capsys):
    from rag_augment.cli.commands import _print_hits
    hits = index.retriever.search("leave", k=3, reranker=RerankStage(PreferScorer("sick"), weight=1.0))
    _print_hits(hits, explain=True)
    out = capsys.readouterr().out
    assert "rerank #1 (1.000)" in out and "rerank #2 (0.000)" in out


def test_weight_tuning_leaves_out_the_real_queries_the_model_trained_on(index, tiny_model):
    from rag_augment.errors import InputError
    from rag_augment.rerank.model_home import HUMAN_QUERIES_FILE
    from rag_augment.rerank.training import tune_rerank_weight
    from rag_augment.trust.real_queries import add_real_queries
    seen = "How Many Hours of annual leave per pay period"
    add_real_queries(index, [{"text": seen, "doc_id": "leave.md"}])
    meta = train_reranker(index, tiny(tiny_model, seed=2))
    assert meta["training_queries"]["human_distinct"] == 1
    stored = (model_dir(index) / HUMAN_QUERIES_FILE).read_text()
    assert "annual" not in stored.lower() and len(stored.split()) == 1  # a hash, never the text
    tuned = tune_rerank_weight(index, {"how many hours of annual leave  per pay period": {"leave.md": 1},
                                       "where do I book flights": {"travel.md": 1}})
    assert tuned["tuned_on"]["queries"] == 1 and tuned["tuned_on"]["left_out_trained_on"] == 1
    with pytest.raises(InputError, match="all 1 labelled queries trained the reranker"):
        tune_rerank_weight(index, {seen: {"leave.md": 1}})


# ---------------------------------------------------------------- the command

def test_train_command_trains_reports_and_shows_status(index, tiny_model, capsys, tmp_path):
    from unittest import mock

    from rag_augment.cli import train as train_cli
    parser = argparse.ArgumentParser()
    train_cli.add_parsers(parser.add_subparsers(dest="command"))
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({"text": "how much annual leave", "doc_id": "leave.md"}) + "\n")
    common = ["--home", str(index.home)]
    args = parser.parse_args(["train", *common, "--base-model", str(tiny_model), "--layers", "1", "--max-length",
                              "48", "--tune-on", str(labelled), "--json"])
    # the command opens the index by its flags; this one embeds with the test's HashEmbedder, so hand it over
    with mock.patch("rag_augment.cli.commands.open_index", return_value=index):
        assert train_cli.run(args) == 0
        out = capsys.readouterr()
        meta = json.loads(out.out)
        assert meta["layers"] == 1 and meta["rerank"]["tuned_on"]["queries"] == 1
        assert "training on 20 queries" in out.err and "about" in out.err
        assert train_cli.run(parser.parse_args(["train", *common, "--status"])) == 0
        assert "up to date" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the adapted embedder is a study now (benchmarks/studies/reranker/adapted.py)
        parser.parse_args(["train", *common, "--adapt"])


def test_cached_reranker_loads_once_until_the_index_is_written(index, tiny_model):
    from rag_augment.rerank import cached_reranker
    train_reranker(index, tiny(tiny_model))
    first = cached_reranker(index)
    assert cached_reranker(index) is first and not first.stale
    index.index_documents(docs(extra=" Updated policy."), FakeGenerator(questions), CHUNKING)
    again = cached_reranker(index)
    assert again is not first and again.stale


# ---------------------------------------------------------------- the self-check before a reranker is used

def test_a_reranker_trained_on_shuffled_labels_is_switched_off_and_query_says_why(index, tiny_model, caplog):
    import random

    from rag_augment.rerank.training import gate_reranker
    queries = index_queries(index)
    parents = sorted({q.parent_id for q in queries})
    rng = random.Random(0)
    shuffled = [TrainingQuery(q.text, rng.choice([p for p in parents if p != q.parent_id]), q.kind, q.source)
                for q in queries]  # every query labelled with another chunk
    train_reranker(index, tiny(tiny_model, seed=0, epochs=2), queries=shuffled)
    meta = gate_reranker(index)
    check = meta["self_check"]
    assert check["queries"] > 0 and not check["passed"] and not check["installed"]
    assert meta["rerank"]["weight"] == 0.0 and meta["rerank"]["trained_weight"] == 1.0
    reason = meta["rerank"]["off_reason"]
    assert reason.startswith(f"the reranker is off: its self-check on {check['queries']} held-out probes")
    assert "not installed, queries rank as before (`rag-augment train --force` installs it anyway)" in reason
    plain = [h.chunk_id for h in index.query("annual leave accrues", k=3)]
    caplog.clear()
    with caplog.at_level("WARNING", logger="rag_augment"):
        asked = [h.chunk_id for h in index.query("annual leave accrues", k=3, rerank=True)]
    assert asked == plain and [r.getMessage() for r in caplog.records] == [reason]
    forced = gate_reranker(index, force=True)  # judged again at the trained weight, installed anyway
    assert forced["self_check"]["forced"] and forced["rerank"]["weight"] == 1.0
    assert "off_reason" not in forced["rerank"]


def test_a_switched_off_reranker_is_not_read_from_disk_to_say_so(index, tiny_model, monkeypatch):
    from rag_augment.rerank import stage as stage_mod
    from rag_augment.rerank.training import gate_reranker
    train_reranker(index, tiny(tiny_model, seed=0))
    meta = gate_reranker(index)
    if meta["self_check"]["passed"]:
        pytest.skip("this tiny reranker passed its self-check")  # the shuffled-label test covers the off path
    loads = []
    real = stage_mod.CrossEncoderScorer
    monkeypatch.setattr(stage_mod, "_LOADED", {})
    monkeypatch.setattr(stage_mod, "CrossEncoderScorer", lambda folder: loads.append(folder) or real(folder))
    index.query("annual leave accrues", k=3, rerank=True)
    assert loads == []
    stage_mod.load_reranker(index, weight=1.0)  # asked for at a weight: the model is read
    assert len(loads) == 1


def test_train_stops_when_the_budget_fits_too_little_training(index, tiny_model):
    from rag_augment.rerank.training.train import MIN_EPOCH_SHARE

    ticks = iter(range(0, 10 ** 6, 30))  # every clock reading is 30 s later: one step costs about a minute

    def clock():
        return float(next(ticks))
    with pytest.raises(ConfigError, match=r"fits \d+ of the \d+ steps of one epoch") as err:
        train_reranker(index, tiny(tiny_model, max_minutes=5, batch_groups=1), clock=clock)
    assert "--max-minutes" in str(err.value) and "--force" in str(err.value) and MIN_EPOCH_SHARE == 0.5
    meta = train_reranker(index, tiny(tiny_model, max_minutes=5, batch_groups=1, force=True),
                          clock=lambda: float(next(ticks)))
    assert meta["stopped_by_budget"] and meta["steps"] < meta["steps_total"]


def test_train_stops_when_even_the_shallowest_model_is_far_over_the_latency_budget():
    from rag_augment.rerank.training.train import _check_latency

    depth = {"layers": 4, "budget_ms": 150.0, "measured_ms": {"6": 2100.0, "4": 1488.0}, "fits": False}
    with pytest.raises(ConfigError, match=r"1,488 ms to rerank a top 20 here, 9.9x the --latency-ms 150"):
        _check_latency(depth, TrainConfig())
    _check_latency(depth, TrainConfig(force=True))  # forced: trained anyway
    _check_latency({**depth, "measured_ms": {"4": 250.0}}, TrainConfig())  # over, but within 2x: trained
