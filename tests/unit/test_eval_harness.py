"""The harness end to end on a 10-document BEIR set (rules generator, HashEmbedder), the leakage refusal,
replaying a cache, and offline fusion agreeing with the product path."""
import json
from pathlib import Path

import pytest

from rag_augment.embedding import HashEmbedder
from rag_augment.errors import ConfigError, GenerationError
from rag_augment.eval.datasets import load_dataset
from rag_augment.eval.harness import EvalSpec, LeakageError, check_leakage, run_eval
from rag_augment.eval.replay import ReplayGenerator
from rag_augment.eval.report import write_run
from rag_augment.eval.systems import rank, truncate
from rag_augment.generators.base import Completion, LLMQueryGenerator
from rag_augment.generators.prompts import PromptConfig
from rag_augment.generators.rules import RulesGenerator
from rag_augment.types import Chunk

TOPICS = [
    ("Annual leave", "Employees earn annual leave every pay period. New staff accrue four hours of vacation."),
    ("Sick leave", "Sick leave covers illness and medical appointments, four hours each pay period."),
    ("Transit benefit", "The transit subsidy pays for bus and subway commuting up to a monthly limit."),
    ("PIV card", "A PIV card is the badge used to enter buildings and to log in with a smart card reader."),
    ("Zoom meetings", "Zoom is the video conferencing tool; schedule meetings from the calendar."),
    ("Travel reimbursement", "Travel costs are reimbursed after you submit receipts within five days."),
    ("Telework", "Telework agreements let staff work from home on approved days."),
    ("Jury duty", "Court leave is granted for jury duty without loss of pay."),
    ("Name change", "To change your name in HR systems, submit the form with legal documents to payroll."),
    ("Security clearance", "Background investigations are handled by the personnel security office."),
]
TEST_Q = ["vacation hours for new employees", "sick leave for a doctor visit", "subsidy for subway commuting",
          "badge to log in", "video call tool", "reimbursed for travel receipts", "work from home days",
          "paid leave for jury service", "change my legal name", "who runs background investigations"]
TRAIN_Q = ["annual leave per pay period", "bus commuting benefit", "smart card reader login", "schedule a meeting"]


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path)


def make_tiny(tmp_path, extra_train: tuple[tuple[str, int], ...] = ()):
    """The 10-document set; `extra_train`: (text, relevant document number) train queries added after TRAIN_Q."""
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w") as f:
        for i, (title, text) in enumerate(TOPICS):
            f.write(json.dumps({"_id": f"d{i}", "title": title, "text": text}) + "\n")
    queries = TEST_Q + TRAIN_Q + [t for t, _ in extra_train]
    with open(root / "queries.jsonl", "w") as f:
        for i, q in enumerate(queries):
            f.write(json.dumps({"_id": f"q{i}", "text": q}) + "\n")
    test = [f"q{i}\td{i}\t{2 if i % 3 == 0 else 1}" for i in range(10)]
    train = [f"q{10 + i}\td{d}\t1" for i, d in enumerate((0, 2, 3, 4) + tuple(d for _, d in extra_train))]
    for split, rows in (("test", test), ("train", train)):
        (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return load_dataset(root)


def spec(tmp_path, **kw):
    kw.setdefault("profile_dir", tmp_path / "profiles")
    return EvalSpec(name="tiny", bootstrap=200, **kw)


def test_end_to_end_with_tuning(tiny, tmp_path):
    out = tmp_path / "run"
    result = run_eval(tiny, RulesGenerator(), out, spec(tmp_path, train_split="train"), embedder=HashEmbedder(64))
    keys = [s["key"] for s in result["systems"]]
    assert keys == ["dense", "rag_augment", "rag_augment_label_free", "rag_augment_tuned", "synthetic",
                    "qa_extractor", "multivector", "bm25", "bm25_doc2query", "hybrid", "hybrid_tuned",
                    "rag_augment_all"]
    # the profile `rag-augment tune` picks without labels, with its held-out evidence (probes, never indexed)
    free = result["index"]["label_free"]
    assert free["source"] == "synthetic" and free["synthetic"]["queries"] > 0
    for s in result["systems"]:
        assert all(0.0 <= v <= 1.0 for v in s["metrics"].values()), s["key"]
        assert s["latency_ms"]["p95"] >= s["latency_ms"]["p50"] >= 0
    assert result["index"]["chunks"] == 10 and result["index"]["query_vectors"] > 10
    assert result["run"]["queries"] == 10 and result["tuning"]["queries"] == 4
    assert Path(result["tuning"]["path"]).exists()
    from rag_augment.eval.systems import legs_used
    from rag_augment.fusion import FusionProfile
    rival = next(s for s in result["systems"] if s["key"] == "hybrid_tuned")["profile"]
    assert set(legs_used(FusionProfile.from_dict(rival))) <= {"chunk_dense", "chunk_lexical"}  # no synthetic leg
    assert {(r["system"], r["reference"]) for r in result["lifts"]} >= {("rag_augment", "dense"),
                                                                         ("rag_augment", "hybrid")}
    paths = write_run(result, out)
    assert all(p.exists() for p in paths.values())
    assert "| (a) dense: chunk vectors only |" in paths["markdown"].read_text()
    # a second run reads the generation cache and the stored vectors: nothing generated or embedded again
    again = run_eval(tiny, RulesGenerator(), out, spec(tmp_path), embedder=HashEmbedder(64))
    assert again["index"]["chunks_generated_this_run"] == 0 and again["index"]["chunks_embedded_this_run"] == 0
    dense = lambda r: next(s for s in r["systems"] if s["key"] == "dense")["metrics"]  # noqa: E731
    assert dense(again) == dense(result)


def test_offline_fusion_matches_the_product_path(tiny, tmp_path):
    from rag_augment.chunking import chunk_documents
    from rag_augment.eval.harness import build_index, collect_legs
    from rag_augment.profiles import load_profile

    s = spec(tmp_path)
    chunks = chunk_documents(tiny.documents, s.chunking)
    index, _ = build_index(tiny, chunks, RulesGenerator(), tmp_path / "idx", s, HashEmbedder(64))
    prof = load_profile(None)
    legs = collect_legs(index, tiny.split_queries("test"), s.depths, products={"p": prof})
    from rag_augment.fusion import fuse
    for q in legs.values():
        offline, _ = fuse(truncate(q, prof), prof, 100)
        assert [p for p, _ in offline] == q.product["p"][0]


def test_replay_reads_the_cache_and_refuses_missing_chunks(tiny, tmp_path):
    cache = tmp_path / "gen.jsonl"
    first = run_eval(tiny, RulesGenerator(), tmp_path / "a", spec(tmp_path), embedder=HashEmbedder(64),
                     cache_path=cache)
    replay = ReplayGenerator(cache)
    assert replay.identity() == RulesGenerator().identity() and replay.entries == 10
    second = run_eval(tiny, replay, tmp_path / "b", spec(tmp_path), embedder=HashEmbedder(64), cache_path=cache)
    assert [s["metrics"] for s in second["systems"]] == [s["metrics"] for s in first["systems"]]
    assert second["index"]["cache_hits"] == 10
    with pytest.raises(GenerationError, match="not in"):
        replay.generate_batch([Chunk("x#1", "x", "new text", "h")])
    with pytest.raises(ConfigError, match="does not exist"):
        ReplayGenerator(tmp_path / "nope.jsonl")


class FakeBackend:
    model_id, model_hash = "fake", "0"

    def complete_batch(self, conversations, params):
        return [Completion("Q: a question?") for _ in conversations]


def test_leakage_refused_for_prompt_examples_and_seeds(tiny, tmp_path):
    leaky = LLMQueryGenerator(FakeBackend(), PromptConfig(examples=("Sick leave for a doctor visit!",)))
    with pytest.raises(LeakageError, match="q1"):
        run_eval(tiny, leaky, tmp_path / "r", spec(tmp_path), embedder=HashEmbedder(64))
    assert not (tmp_path / "r" / "index").exists()  # refused before anything was indexed
    fine = LLMQueryGenerator(FakeBackend(), PromptConfig(examples=tuple(TRAIN_Q)))
    check_leakage(fine, [], tiny.split_queries("test"))  # train queries as few-shot examples are allowed
    seeded = [Chunk("c", "d", "text", "h", seeds=("Badge to log in",))]
    with pytest.raises(LeakageError, match="seed of chunk c"):
        check_leakage(RulesGenerator(), seeded, tiny.split_queries("test"))
    # the same words as a heading written in the document are content, not a leak
    check_leakage(RulesGenerator(), seeded, tiny.split_queries("test"), {"d": "## Badge to log in\nUse it."})
    with pytest.raises(ConfigError, match="must differ from --split"):
        run_eval(tiny, RulesGenerator(), tmp_path / "r", spec(tmp_path, train_split="test"),
                 embedder=HashEmbedder(64))


def test_multivector_cuts_by_child_vectors():
    from rag_augment.eval.systems import QueryLegs, System
    q = QueryLegs(child_rank={"p1": 1, "p2": 4, "p3": 150})
    ids, costs = rank(System("multivector", "", "multivector"), q)
    assert ids == ["p1", "p2"] and costs == [1, 4]


def test_command_builds_what_the_harness_needs(tiny, tmp_path):
    import argparse

    from rag_augment.eval import command

    parser = argparse.ArgumentParser(prog="rag-augment")
    command.add_parser(parser.add_subparsers(dest="command"))
    argv = ["eval", "--dataset", tiny.source, "--tune", "--subset", "6", "--subset-seed", "1",
            "--examples-from-train", "2", "--generator", "rules", "--no-filters"]
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    ds = command._dataset(args)
    assert len(ds.documents) == 10 and set(ds.qrels) == {"test", "train"}  # all 10 documents are relevant
    spec = command._spec(args, "x")
    assert spec.train_split == "train" and spec.filters.dedupe_threshold == 0
    assert spec.command.startswith("rag-augment eval --dataset")
    with pytest.raises(ConfigError, match="--examples-from-train has no effect with --generator rules"):
        command._generator(args, ds)  # the rules generator takes no style examples: refused, not ignored
    args = parser.parse_args([a for a in argv if a not in ("--examples-from-train", "2")])
    assert command._generator(args, ds).identity()["generator"] == "rules"
    args = parser.parse_args(["eval", "--dataset", tiny.source, "--generator", "replay"])
    with pytest.raises(ConfigError, match="needs --cache"):
        command._generator(args, ds)


def test_train_legs_are_kept_and_tune_jointly(tiny, tmp_path):
    """--tune keeps the train legs; a saved set reloads to the same scores; tuning on two sets scores their mean."""
    from rag_augment.eval.harness import TRAIN_LEGS_FILE
    from rag_augment.eval.systems import EVAL_DEPTH
    from rag_augment.eval.tune import TuneSet, evaluate, load_tune_set, tune_profile
    from rag_augment.fusion import FusionProfile

    out = tmp_path / "run"
    run_eval(tiny, RulesGenerator(), out, spec(tmp_path, train_split="train"), embedder=HashEmbedder(64))
    ts = load_tune_set(out / TRAIN_LEGS_FILE)
    assert set(ts.qrels) == {"q10", "q11", "q12", "q13"} and set(ts.legs) == set(ts.qrels)
    p = FusionProfile()
    alone = tune_profile(ts, p, "x", EVAL_DEPTH)
    assert alone.train_metrics == alone.per_set[ts.name]["tuned"]
    # the score is the mean over sets: an identical second set leaves it unchanged
    twin = TuneSet("twin", ts.legs, ts.qrels, ts.chunk_doc)
    joint = tune_profile([ts, twin], p, "x", EVAL_DEPTH)
    assert joint.score == pytest.approx(alone.score)
    assert joint.start_score == pytest.approx(evaluate(p, ts.legs, ts.qrels, ts.chunk_doc)["nDCG@10"])
    with pytest.raises(ValueError, match="own name"):
        tune_profile([ts, ts], p, "x", EVAL_DEPTH)
    # several starts: the best one wins (no ascent here, so the starts' own scores decide); the reference
    # score stays the first start's
    weak = FusionProfile(name="weak", dense_pair="separate", weights={})  # no leg: finds nothing
    strong = FusionProfile(name="strong")
    weak_score, strong_score = (evaluate(x, ts.legs, ts.qrels, ts.chunk_doc)["nDCG@10"] for x in (weak, strong))
    assert strong_score > weak_score
    multi = tune_profile(ts, weak, "x", EVAL_DEPTH, max_passes=0, also_from=[strong])
    assert multi.start_score == pytest.approx(weak_score) and multi.score == pytest.approx(strong_score)
    assert "ascent from strong" in multi.profile.notes and multi.profile.name == "x"

    from benchmarks import tune_default
    assert tune_default.main([str(out), "--name", "joint", "--out", str(tmp_path / "profiles")]) == 0
    written = FusionProfile.load(tmp_path / "profiles" / "joint.json")
    assert written.name == "joint" and "tuned jointly on" in written.notes


def test_real_from_train_blends_train_queries_after_tuning_and_is_cleared_later(tiny, tmp_path):
    """Train queries become real queries of their relevant documents (never an eval query's text), only after the
    train legs were taken; a later run in the same folder without the flag starts without them."""
    from rag_augment.eval.harness import TRAIN_LEGS_FILE
    from rag_augment.eval.tune import load_tune_set

    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="--real-from-train needs --tune"):
        run_eval(tiny, RulesGenerator(), out, spec(tmp_path, real_from_train=True), embedder=HashEmbedder(64))
    result = run_eval(tiny, RulesGenerator(), out, spec(tmp_path, train_split="train", real_from_train=True),
                      embedder=HashEmbedder(64))
    added = result["index"]["real_from_train"]
    assert added["records"] == 4 and added["added"] == 4 and added["skipped_held_out"] == 0
    assert added["covered_queries"] == ["q0", "q2", "q3", "q4"]  # the test queries of d0, d2, d3, d4
    from rag_augment.augment_index import AugmentIndex
    idx = AugmentIndex(out / "index", embedder=HashEmbedder(64), collection="eval")
    real = [q for q in idx.store.queries_of(sorted(idx.store.chunk_states())) if q.kind == "real"]
    assert sorted(q.text for q in real) == sorted(TRAIN_Q)
    assert {q.text: q.doc_id for q in real}["bus commuting benefit"] == "d2"
    assert not {q.text for q in real} & set(TEST_Q)
    # the train legs were taken before the blend: no train query found itself through a real vector
    ts = load_tune_set(out / TRAIN_LEGS_FILE)
    assert all(ts.legs[q].legs["query_dense"][0][1] < 0.999 for q in ts.qrels)
    again = run_eval(tiny, RulesGenerator(), out, spec(tmp_path, train_split="train"), embedder=HashEmbedder(64))
    assert again["index"]["human_queries_cleared"] == 4 and "real_from_train" not in again["index"]


def test_no_synthetic_queries_with_real_ones_runs_every_system(tiny, tmp_path):
    """The real-only baseline: no generated query at all, then the train queries as real ones."""
    from rag_augment.generators.none import NoQueriesGenerator

    result = run_eval(tiny, NoQueriesGenerator(), tmp_path / "run",
                      spec(tmp_path, train_split="train", real_from_train=True), embedder=HashEmbedder(64))
    assert result["index"]["query_vectors"] == 0 and result["index"]["real_from_train"]["added"] == 4
    assert {s["key"] for s in result["systems"]} >= {"dense", "rag_augment", "bm25_doc2query", "hybrid_tuned"}
    for s in result["systems"]:
        assert 0.0 <= s["metrics"]["nDCG@10"] <= 1.0


def test_real_from_train_drops_train_queries_that_near_duplicate_a_test_query(tmp_path):
    """A planted train query that rewords a test query (token Jaccard 5/6) is not blended in, and is counted; the
    train query that only shares a topic with a test query stays."""
    ds = make_tiny(tmp_path, extra_train=(("Paid leave for the jury service", 7),   # ~ q7 "paid leave for jury service"
                                          ("court summons time off", 7)))
    result = run_eval(ds, RulesGenerator(), tmp_path / "run", spec(tmp_path, train_split="train",
                                                                   real_from_train=True), embedder=HashEmbedder(64))
    real = result["index"]["real_from_train"]
    near = real["near_duplicates_dropped"]
    assert near["query_ids"] == ["q14"] and near["queries"] == 1 and near["pairs"] == 1 and near["by_jaccard"] == 1
    assert near["jaccard"] == 0.5 and near["cosine"] == 0.95
    assert real["records"] == 5 and real["added"] == 5  # the four TRAIN_Q and "court summons time off"
    assert "q7" in real["covered_queries"]  # d7 holds the kept train query
    from rag_augment.eval.report import header_lines
    assert any("1 train queries (1 pairs) dropped as near-duplicates" in line for line in header_lines(result))
    from rag_augment.augment_index import AugmentIndex
    idx = AugmentIndex(tmp_path / "run" / "index", embedder=HashEmbedder(64), collection="eval")
    texts = {q.text for q in idx.store.queries_of(sorted(idx.store.chunk_states())) if q.kind == "real"}
    assert "Paid leave for the jury service" not in texts and "court summons time off" in texts


def test_near_duplicates_by_words_or_by_embedding():
    import numpy as np

    from rag_augment.eval.harness import near_duplicates_of, tokens

    class Fixed:  # the cosine comes from these vectors, not from the words
        vecs = {"a b c d": [1, 0], "w x y z": [0.96, 0.28], "e f g h": [0, 1], "a b c q": [0, 1], "zzz": [0.6, 0.8]}

        def embed(self, texts):
            return np.array([self.vecs[t] for t in texts], dtype=float)

    assert tokens("The  Jury, service!") == {"the", "jury", "service"}
    got = near_duplicates_of(Fixed(), {"words": "a b c q", "vector": "w x y z", "far": "e f g h"}, ["a b c d", "zzz"])
    assert set(got) == {"words", "vector"}
    assert got["words"]["jaccard"] == 0.6 and got["vector"]["cosine"] >= 0.95 and got["vector"]["jaccard"] == 0.0
    assert near_duplicates_of(Fixed(), {"words": "a b c q"}, ["a b c d"], jaccard=0.7, cosine=0.99) == {}
    assert near_duplicates_of(Fixed(), {}, ["a b c d"]) == {}


def test_latency_is_each_system_end_to_end_at_its_natural_depth(tiny, tmp_path):
    """Every system of the table is timed by one call that does what it does for a user; the product's call is
    AugmentIndex.query itself and returns the top of the ranking the table scored; rivals run at natural depth."""
    from rag_augment.eval.harness import measure_latency, natural_profile
    from rag_augment.eval.systems import System, hybrid_profile, single_leg

    result = run_eval(tiny, RulesGenerator(), tmp_path / "run", spec(tmp_path, train_split="train",
                                                                     latency_queries=4), embedder=HashEmbedder(64))
    timing = result["latency"]
    assert timing["queries"] == 4 and timing["k"] == 10 and timing["not_timed"] == []
    assert all(s["latency_source"] == "end to end" for s in result["systems"])
    assert {k: len(v) for k, v in result["latency_per_query_ms"].items()} == {s["key"]: 4 for s in result["systems"]}
    assert set(result["per_query"]["dense"]) >= {"nDCG@10", "R@1", "R@100", "MRR@10", "Hit@10", "R@20"}
    # natural depths: one leg answers k hits from k; the query vectors keep their default (k counts parents);
    # several legs take the product's default depths, whatever depth the offline table read them at
    dense = natural_profile(System("dense", "", "fuse", ("chunk_dense",), single_leg("chunk_dense")), 10)
    assert dense.depth == {"chunk_dense": 10}
    synthetic = natural_profile(System("s", "", "fuse", ("query_dense",), single_leg("query_dense")), 10)
    assert synthetic.depth == {"query_dense": 200}
    hybrid = natural_profile(System("h", "", "fuse", ("chunk_dense", "chunk_lexical"), hybrid_profile()), 10)
    assert hybrid.depth["chunk_dense"] == 50 and hybrid.depth["chunk_lexical"] == 50
    # the product's timed call is the product's query path and agrees with what was scored
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.eval.harness import collect_legs
    from rag_augment.profiles import load_profile
    idx = AugmentIndex(tmp_path / "run" / "index", embedder=HashEmbedder(64), collection="eval")
    prof = load_profile(None)
    queries = tiny.split_queries("test")
    legs = collect_legs(idx, queries, spec(tmp_path).depths, products={"p": prof})
    calls = []
    real_query = idx.query

    def recording(text, k=10, profile=None):
        calls.append((text, k, profile))
        return real_query(text, k=k, profile=profile)
    idx.query = recording
    product = System("p", "", "product", (), prof)
    timed, _ = measure_latency(idx, [product], queries, {}, n=2)
    assert len(timed["p"]) == 2 and all(c[1] == 10 and c[2] is prof for c in calls)
    for qid, text in queries.items():
        assert [h.chunk_id for h in real_query(text, k=10, profile=prof)] == legs[qid].product["p"][0][:10]


def test_per_query_record_alone_gives_back_the_run_figures(tiny, tmp_path):
    """The committed per-query file is enough: means, latency percentiles and bootstrap lifts recomputed from it
    equal the run's own; nothing derived is stored in it."""
    import gzip

    from rag_augment.eval.report import PER_QUERY_FILE, read_per_query, result_from_per_query

    out = tmp_path / "run"
    result = run_eval(tiny, RulesGenerator(), out, spec(tmp_path, train_split="train"), embedder=HashEmbedder(64))
    paths = write_run(result, out)
    assert paths["per_query"] == out / PER_QUERY_FILE
    raw = json.loads(gzip.decompress(paths["per_query"].read_bytes()))
    assert "lifts" not in raw and all("metrics" not in s for s in raw["systems"])
    back = result_from_per_query(read_per_query(paths["per_query"]))
    for mine, theirs in zip(back["systems"], result["systems"]):
        assert mine["key"] == theirs["key"] and mine["label"] == theirs["label"]
        assert mine["metrics"] == pytest.approx(theirs["metrics"], abs=1e-6)
        assert mine["latency_ms"] == pytest.approx(theirs["latency_ms"], abs=0.011)  # ms stored to 0.001
    assert len(back["lifts"]) == len(result["lifts"])
    for mine, theirs in zip(back["lifts"], result["lifts"]):
        assert mine == pytest.approx(theirs, abs=1e-6)
    write_run(result, tmp_path / "again")  # the same record gives the same bytes (no timestamp in the gzip)
    assert (tmp_path / "again" / PER_QUERY_FILE).read_bytes() == paths["per_query"].read_bytes()


def test_random_subset_holds_every_test_relevant_document_and_seeded_random_ones(tmp_path):
    """benchmarks/data_prep/build_random_subset.py: no distractor is chosen by a ranking; the same seed gives the
    same subset; train queries are kept only when all their relevant documents fell into it."""
    from benchmarks.data_prep.build_random_subset import build_subset

    root = tmp_path / "datasets" / "scifact"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"doc {i}"}) + "\n"
                                               for i in range(30)))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n"
                                                for i in range(6)))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td1\t1\nq1\td2\t1\n")
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td0\t1\nq4\td0\t1\nq4\td29\t1\n")
    sub = build_subset(tmp_path, 10, 0)
    assert len(sub["docs"]) == 10 and {"d0", "d1", "d2"} <= set(sub["docs"])
    assert sub["relevant_docs"] == 3 and sub["random_docs"] == 7
    assert sub == build_subset(tmp_path, 10, 0) and sub["docs"] != build_subset(tmp_path, 10, 1)["docs"]
    assert sub["queries"][:2] == ["q0", "q1"] and "q3" in sub["queries"]
    assert ("q4" in sub["queries"]) == ("d29" in sub["docs"])
