"""Label-free tuning of an index's fusion profile (rag_augment.tuning.label_free): probes never indexed, legs that
leave a held-out query's own vector out, real queries taking over only above the minimum, the profile kept in the
home."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rag_augment import home as H
from rag_augment.errors import ConfigError
from rag_augment.eval.systems import EVAL_DEPTH
from rag_augment.fusion import FusionProfile
from rag_augment.generators.rules import RulesGenerator
from rag_augment.tuning import label_free as A

DEPTHS = {"chunk_dense": 20, "query_dense": 100, "chunk_lexical": 20, "query_lexical": 100, "doc2query_lexical": 20}


@pytest.fixture
def index(make_index, kb):
    idx = make_index()
    idx.index_path(kb, RulesGenerator())
    return idx


def _real_records(index, n):
    """n real queries, each the start of a different chunk's text (a user asking about that passage)."""
    states = sorted(index.store.chunk_states())
    texts = index.store.get_chunks(states[:n])
    return [{"text": " ".join(texts[c]["text"].split()[3:11]) + f" q{i}", "chunk_id": c}
            for i, c in enumerate(states[:n])]


def test_tune_index_without_labels_returns_weights_and_evidence(index):
    before = index.store.counts()
    report = A.tune_index(index, n_chunks=12, seed=3, depths=DEPTHS)
    assert report.source == "synthetic" and report.real is None
    ev = report.synthetic
    assert ev["queries"] > 0 and ev["chunks_sampled"] == 12 and ev["writer"] == A.PROBE_VERSION
    assert set(ev["legs"]) == {"chunk_dense", "query_dense", "chunk_lexical", "query_lexical", "doc2query_lexical"}
    assert {"chosen", "start", "hybrid", "tuned"} <= set(ev["scores"])
    assert report.profile.name == "index-rag_augment" and "without labels" in report.profile.notes
    assert any(w > 0 for w in report.profile.weights.values())
    text = "\n".join(report.lines())
    assert "decided by synthetic" in text and "weights:" in text and "single legs:" in text
    json.dumps(report.to_dict())  # serialisable as it is saved
    # probes are never indexed, and nothing is saved until asked
    assert index.store.counts() == before
    assert H.load_index_profile(index) is None


def test_probes_are_cut_from_the_chunk_and_unlike_indexed_queries(index):
    probes, how = A.sample_probes(index, None, n_chunks=10, seed=0)
    assert probes and how["probes"] == len(probes)
    stored = {q.text.lower() for q in index.store.queries_of(sorted({p.chunk_id for p in probes}))}
    texts = index.store.get_chunks([p.chunk_id for p in probes])
    for p in probes:
        assert p.text not in stored
        chunk = texts[p.chunk_id]["text"]
        a, b = p.span
        sentence = {w.lower() for w in A._words(chunk[a:b])}
        assert set(p.text.split()) <= sentence  # every word comes from the sentence the probe was cut from
    again, _ = A.sample_probes(index, None, n_chunks=10, seed=0)
    assert again == probes  # seeded


def test_masked_probe_must_find_its_chunk_without_its_sentence(make_index, tmp_path):
    from rag_augment.types import Document

    idx = make_index("masked")
    docs = [Document("a.md", "Zebrafish quokka marmot live here. The rest talks about ordinary office chairs."),
            Document("b.md", "Desks and lamps. Printers need paper and toner every week.")]
    idx.index_documents(docs, RulesGenerator())
    cid = next(c for c, m in idx.store.chunk_states().items() if m["doc_id"] == "a.md")
    text = idx.store.get_chunks([cid])[cid]["text"]
    a = text.index("Zebrafish")
    probe = A.Probe("p0", "zebrafish quokka marmot", cid, "a.md", (a, text.index("here.") + 5))
    plain = A.probe_tune_set(idx, [probe], "plain", DEPTHS)
    masked = A.probe_tune_set(idx, [probe], "masked", DEPTHS)
    assert [c for c, _ in plain.legs["p0"].legs["chunk_lexical"]] == [cid]
    for leg in ("chunk_lexical", "doc2query_lexical", "query_lexical"):
        assert masked.legs["p0"].legs[leg] == [], leg  # its words are only in the cut sentence
    # the chunk's vector is the one of the text without the sentence
    own = dict(masked.legs["p0"].legs["chunk_dense"])[cid]
    vec = idx.embedder.embed([text[:a] + " " + text[a + len("Zebrafish quokka marmot live here."):]])[0]
    assert own == pytest.approx(float(vec @ idx.embedder.embed(["zebrafish quokka marmot"])[0]), abs=1e-5)


def test_retrieved_legs_are_the_harness_legs(index):
    from rag_augment.eval.harness import collect_legs

    queries = {"q1": "how much annual leave do I earn", "q2": "zoom meeting recording", "q3": "transit benefit"}
    ours = A.retrieve_legs(index, queries, EVAL_DEPTH)
    theirs = collect_legs(index, queries, EVAL_DEPTH)
    for q in queries:
        assert ours[q].child_rank == theirs[q].child_rank
        for leg, ranked in theirs[q].legs.items():
            assert [c for c, _ in ours[q].legs[leg]] == [c for c, _ in ranked], leg
            assert np.allclose([s for _, s in ours[q].legs[leg]], [s for _, s in ranked], atol=1e-5)


def test_held_out_real_query_is_searched_without_its_own_vector(index):
    cid = sorted(index.store.chunk_states())[0]
    index.add_real_queries([{"text": "qwertyfoo blarghbaz", "chunk_id": cid}])
    humans = A.human_queries(index)
    assert [(h.text, h.parent_id, h.judged) for h in humans] == [("qwertyfoo blarghbaz", cid, True)]
    (fold,) = A.fold_tune_sets(index, humans, folds=2, seed=0, depths=DEPTHS)
    legs = fold.legs[humans[0].query_id]
    # its words are nowhere else: without its own vector and text no lexical leg can find anything
    assert legs.legs["chunk_lexical"] == legs.legs["doc2query_lexical"] == legs.legs["query_lexical"] == []
    assert max(s for _, s in legs.legs["query_dense"]) < 0.99  # the stored copy would score 1.0
    # the live index still finds it through its own vector (what the fold had to leave out)
    live = A.retrieve_legs(index, {"x": "qwertyfoo blarghbaz"}, DEPTHS)["x"]
    assert live.legs["query_lexical"][0][0] == cid and live.legs["query_dense"][0][1] == pytest.approx(1.0, abs=1e-4)


def test_enough_real_queries_take_over(index):
    index.add_real_queries(_real_records(index, 12))
    report = A.tune_index(index, n_chunks=8, seed=0, min_real=10, folds=3, depths=DEPTHS)
    assert report.source == "real"
    assert report.real["queries"] == 12 and report.real["folds"] == 3
    assert report.real["picked"] in ("tuned", "synthetic", "start")
    assert report.real["picked"] == "synthetic" or report.real[
        "cv_tuned_vs_synthetic" if report.real["picked"] == "tuned" else "start_vs_synthetic"]["lo"] > 0
    assert {"cv_tuned", "synthetic_choice", "start", "hybrid"} <= set(report.real["scores"])
    assert "decided by real" in "\n".join(report.lines())
    assert report.synthetic["queries"] > 0  # the synthetic evidence is still reported beside
    # the shipped guard on users' queries survives tuning (tune-start has none; an installed profile kept it off)
    assert report.profile.real_floor == index.profile.real_floor > 0


def test_too_few_real_queries_leave_the_synthetic_choice(index):
    index.add_real_queries(_real_records(index, 5))
    report = A.tune_index(index, n_chunks=8, seed=0, min_real=10, depths=DEPTHS)
    assert report.source == "synthetic"
    assert report.real["queries"] == 5 and "fewer than min_real=10" in report.real["skipped"]


def test_profile_saved_in_the_home_with_its_evidence(index):
    report = A.tune_index(index, n_chunks=6, seed=1, depths=DEPTHS)
    path = H.save_index_profile(index, report.profile, report)
    assert path == index.home / "profile-rag_augment.json"
    record = H.load_index_profile_record(index)
    assert record["profile"] == report.profile
    assert record["evidence"]["source"] == "synthetic" and record["evidence"]["synthetic"]["queries"] > 0
    assert H.load_index_profile(index.home, "rag_augment") == report.profile
    assert H.load_index_profile(index.home, "other") is None
    path.write_text('{"profile": {"method": "nope"}}')
    with pytest.raises(ConfigError, match="profile-rag_augment.json"):
        H.load_index_profile(index)


def test_bad_settings_are_one_line_errors(index, make_index):
    with pytest.raises(ConfigError, match="probe mode"):
        A.tune_index(index, probe_mode="loud")
    with pytest.raises(ConfigError, match="holds no chunk"):
        A.tune_index(make_index("empty"))


def test_synthetic_legs_scaled_together():
    p = FusionProfile(dense_pair="separate", weights={"chunk_dense": 1.0, "query_dense": 1.0, "chunk_lexical": 0.5,
                                                      "doc2query_lexical": 2.0})
    q = A.scale_synthetic(p, 0.5)
    assert q.weights == {"chunk_dense": 1.0, "query_dense": 0.5, "chunk_lexical": 0.5, "doc2query_lexical": 1.0}


def test_an_llm_generator_writes_the_probes_in_other_personas_and_another_seed(index):
    from rag_augment.generators.base import LLMQueryGenerator, SamplingParams
    from rag_augment.testing import FakeChatBackend

    def reply(conv):  # a question about the passage's first words, in the model's voice
        words = conv[-1]["content"].split()[-12:]
        return "Q: where does it say " + " ".join(words[:4]) + "?\nQ: what about " + " ".join(words[4:7]) + "?"

    backend = FakeChatBackend(reply)
    gen = LLMQueryGenerator(backend, params=SamplingParams(seed=5))
    before = index.store.counts()
    report = A.tune_index(index, gen, n_chunks=6, seed=0, depths=DEPTHS)
    assert report.synthetic["writer"] == "llm" and report.synthetic["probes"] > 0
    identity = report.synthetic["identity"]
    assert identity["personas"] == list(A.TUNE_PERSONAS) and identity["params"]["seed"] != 5
    assert all(p.seed != 5 for _, p in backend.calls)
    assert any(persona in prompt for prompt in backend.prompts for persona in A.TUNE_PERSONAS)
    assert index.store.counts() == before  # written for tuning only: never indexed


# ---------------------------------------------------------------- the self-check before a profile is installed

def test_a_useless_tuning_change_is_not_installed_and_the_command_says_why(index, monkeypatch, capsys):
    from rag_augment.cli import trust

    # the ascent finds nothing better: the "change" is the current profile under another name
    monkeypatch.setattr(A, "ascend", lambda ts, start, depths, name: index.profile)
    report = index.tune(n_chunks=16, seed=2, depths=DEPTHS)
    check = report.check
    assert check is not None and not check.passed and check.delta == 0.0 and check.queries > 0
    assert not report.installed and H.load_index_profile(index) is None  # nothing written
    line = report.lines()[-1]
    assert line.startswith(f"self-check of the chosen profile on {check.queries} held-out probes")
    assert "+0.0 [" in line and "not installed, the current profile stays (--force installs it anyway)" in line
    # held out: no probe chunk the choice was made on is among the probes it was checked on
    assert report.synthetic["held_out_probes"] == check.queries
    forced = index.tune(force=True, n_chunks=16, seed=2, depths=DEPTHS)
    assert forced.installed and H.load_index_profile(index) is not None
    assert forced.lines()[-1].endswith("installed anyway (--force)")

    class Args:  # `rag-augment tune` prints the same evidence
        command, seed, min_real, dry_run, json, force = "tune", 2, None, False, False, False
    monkeypatch.setattr("rag_augment.cli.commands.open_index", lambda args: index)
    trust.run(Args())
    assert "not installed, the current profile stays" in capsys.readouterr().out


def test_a_tuned_profile_that_beats_a_broken_current_one_is_installed(make_index):
    from support import SAMPLE_DOCS
    index = make_index("whole")
    index.index_path(SAMPLE_DOCS, RulesGenerator())
    index.profile = FusionProfile(name="broken", dense_pair="separate", weights={"chunk_dense": 1.0},
                                  depth={"chunk_dense": 2})  # the hashing embedder's vectors, two chunks deep
    report = index.tune(n_chunks=60, seed=0, depths=DEPTHS)
    assert report.check.passed and report.check.lo > 0 and report.installed, report.lines()
    assert index.profile == report.profile and H.load_index_profile(index) == report.profile
    assert report.lines()[-1].endswith(": installed")
