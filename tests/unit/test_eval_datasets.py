"""Data set readers (BEIR layout and sample_kb), their error messages, and the deterministic subset builder."""
import json
from pathlib import Path

import pytest
from support import REPO

from rag_augment.errors import InputError
from rag_augment.eval import datasets as D

ROOT = REPO


def write_beir(root: Path, n_docs: int = 12, graded: bool = False) -> Path:
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w") as f:
        for i in range(n_docs):
            f.write(json.dumps({"_id": f"d{i}", "title": f"Topic {i}", "text": f"Body of document {i}."}) + "\n")
    with open(root / "queries.jsonl", "w") as f:
        for i in range(6):
            f.write(json.dumps({"_id": f"q{i}", "text": f"question about topic {i}"}) + "\n")
    for split, qs in (("test", range(0, 3)), ("train", range(3, 6))):
        rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}\t{2 if graded else 1}" for i in qs]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root


def test_beir_layout_with_title_folded(tmp_path):
    ds = D.load_dataset(write_beir(tmp_path / "b", graded=True))
    assert len(ds.documents) == 12 and set(ds.qrels) == {"test", "train"}
    assert ds.split("test") == {"q0": {"d0": 2}, "q1": {"d1": 2}, "q2": {"d2": 2}}
    assert ds.documents[0].text == "Topic 0. Body of document 0." and ds.documents[0].title == "Topic 0"
    assert D.load_dataset(tmp_path / "b", title_in_text=False).documents[0].text == "Body of document 0."
    with pytest.raises(InputError, match="no split 'dev'"):
        ds.split("dev")


def test_sample_kb_layout():
    ds = D.load_dataset("sample_kb")
    assert len(ds.documents) == 20
    test, train = ds.split("test"), ds.split("train")
    assert test and train and not set(test) & set(train)
    assert "travel-and-leave/leave.md" in ds.doc_ids  # ids are paths under docs/


@pytest.mark.parametrize("row, message", [
    ("q0\td0", "line 2: expected 3 tab-separated columns"),
    ("q0\td0\thigh", "line 2: score 'high' is not an integer"),
    ("q9\td0\t1", "line 2: query id 'q9' is not in queries.jsonl"),
    ("q0\tnope\t1", "line 2: document id 'nope' is not in the corpus"),
])
def test_bad_qrels_name_the_file_and_line(tmp_path, row, message):
    root = write_beir(tmp_path / "b")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + row + "\n")
    with pytest.raises(InputError, match=message) as err:
        D.load_dataset(root)
    assert "test.tsv" in str(err.value)


def test_bad_header_and_bad_queries(tmp_path):
    root = write_beir(tmp_path / "b")
    (root / "qrels" / "test.tsv").write_text("q0\td0\t1\n")
    with pytest.raises(InputError, match="test.tsv: line 1: expected the header"):
        D.load_dataset(root)
    root = write_beir(tmp_path / "c")
    with open(root / "queries.jsonl", "a") as f:
        f.write("{not json\n")
    with pytest.raises(InputError, match="queries.jsonl: line 7: not valid JSON"):
        D.load_dataset(root)


def test_subset_is_deterministic_and_keeps_every_relevant_document(tmp_path):
    ds = D.load_dataset(write_beir(tmp_path / "b", n_docs=40))
    a = D.build_subset(ds, ["test"], n_docs=10, seed=5)
    b = D.build_subset(ds, ["test"], n_docs=10, seed=5)
    assert a.doc_ids == b.doc_ids and len(a.doc_ids) == 10
    assert {"d0", "d1", "d2"} <= set(a.doc_ids)
    assert set(a.queries) == {"q0", "q1", "q2"} and set(a.qrels) == {"test"}
    assert D.build_subset(ds, ["test"], n_docs=10, seed=6).doc_ids != a.doc_ids
    assert a.notes["subset"] == {"splits": ["test"], "n_docs": 10, "requested": 10, "seed": 5, "relevant": 3,
                                 "hard": 0, "random": 7}


def test_subset_with_hard_distractors(tmp_path):
    ds = D.load_dataset(write_beir(tmp_path / "b", n_docs=40))
    hard = {"q0": ["d30", "d31"], "q1": ["d32"]}
    sub = D.build_subset(ds, ["test"], n_docs=4, seed=0, hard=hard, hard_per_query=1)
    assert set(sub.doc_ids) == {"d0", "d1", "d2", "d30", "d32"}  # more than asked: relevant + hard always stay
    top = D.bm25_top_documents(ds, ["q0"], 2)
    assert top["q0"][0] == "d0"
