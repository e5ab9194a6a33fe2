"""Nothing already indexed is lost: pruning is scoped to the folder indexed, an empty or unreadable source prunes
nothing, concurrent writers are serialised, a long-lived index sees other processes' writes, bad settings and
homes give one-line errors."""
import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from rag_augment.errors import ConfigError, InputError, StoreError
from rag_augment.generators.rules import RulesGenerator


def doc_ids(index):
    return {m.get("doc_id") for m in index.store.chunk_states().values()}


def test_indexing_folder_b_keeps_folder_a(make_index, kb, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "faq.md").write_text("# FAQ\n\nThe cafeteria opens at eight in the morning on weekdays.\n")
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    report = index.index_path(other, RulesGenerator())
    assert doc_ids(index) == before | {"faq.md"}
    assert report.documents_deleted == 0


def test_empty_folder_prunes_nothing_without_force(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    for f in list(kb.rglob("*.md")):
        f.unlink()
    index.index_path(kb, RulesGenerator())
    assert doc_ids(index) == before
    index.index_path(kb, RulesGenerator(), force=True)
    assert doc_ids(index) == set()


def test_a_lone_unsupported_file_prunes_nothing(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    for f in list(kb.rglob("*.md")):
        f.unlink()
    (kb / "scan.pdf").write_bytes(b"%PDF-1.4")
    index.index_path(kb, RulesGenerator())
    assert doc_ids(index) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_document_keeps_its_indexed_version(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    victim = kb / "tools" / "zoom.md"
    victim.chmod(0)
    try:
        index.index_path(kb, RulesGenerator())
    finally:
        victim.chmod(0o644)
    assert doc_ids(index) == before


def test_document_skipped_this_run_keeps_its_indexed_version(make_index, kb):
    """A file that is there but cannot be used this time (here: emptied) is reported and keeps its chunks."""
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    (kb / "tools" / "zoom.md").write_text("")
    report = index.index_path(kb, RulesGenerator())
    assert any("zoom.md" in s["source"] for s in report.documents_skipped)
    assert doc_ids(index) == before


def test_dangling_symlink_keeps_the_document(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    before = doc_ids(index)
    target = kb / "tools" / "zoom.md"
    moved = tmp_path / "zoom-moved.md"
    target.rename(moved)
    target.symlink_to(tmp_path / "gone.md")
    index.index_path(kb, RulesGenerator())
    assert doc_ids(index) == before


def test_pruned_real_queries_are_counted(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    index.add_real_queries([{"text": "how do I join a zoom call", "doc_id": "tools/zoom.md"}])
    (kb / "tools" / "zoom.md").unlink()
    report = index.index_path(kb, RulesGenerator())
    assert report.human_queries_deleted == 1 and report.documents_deleted == 1


@contextlib.contextmanager
def another_process_writing(home):
    """Another process is inside a write on the home (its lock held, the lexical index marked stale) until the
    block ends."""
    script = textwrap.dedent(f"""
        import sys
        from rag_augment.augment_index import AugmentIndex
        from rag_augment.testing import HashEmbedder
        with AugmentIndex({str(home)!r}, embedder=HashEmbedder(128))._writing():
            print("writing", flush=True)
            sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        yield
    finally:
        proc.stdin.close()
        proc.wait(timeout=300)


def test_second_writer_is_refused_clearly(make_index, kb):
    other = make_index(lock_timeout=0.5)
    with another_process_writing(other.home):
        start = time.perf_counter()
        with pytest.raises(StoreError, match="being written by another process") as refused:
            other.index_path(kb, RulesGenerator())
        waited = time.perf_counter() - start
    assert waited >= 0.5 and "\n" not in str(refused.value)


def test_reader_searches_while_another_process_writes(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    reader = make_index()
    with another_process_writing(index.home):
        hits = reader.query("transit benefit", k=3)
    assert hits


def test_long_lived_index_sees_documents_another_process_indexed(make_index, kb, tmp_path):
    from rag_augment.eval.systems import single_leg
    lexical = single_leg("chunk_lexical", 10)  # the leg a stale in-memory index would miss (Chroma reads fresh)
    index = make_index()
    index.index_path(kb, RulesGenerator())
    assert index.query("cafeteria opening hours breakfast", k=1, profile=lexical)[0].doc_id != "cafeteria.md"
    (kb / "cafeteria.md").write_text("# Cafeteria\n\nThe cafeteria serves breakfast from seven; opening hours "
                                     "are posted at the entrance.\n")
    script = textwrap.dedent(f"""
        from rag_augment.augment_index import AugmentIndex
        from rag_augment.generators.rules import RulesGenerator
        from rag_augment.testing import HashEmbedder
        AugmentIndex({str(index.home)!r}, embedder=HashEmbedder(128)).index_path({str(kb)!r}, RulesGenerator())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    assert index.query("cafeteria opening hours breakfast", k=1, profile=lexical)[0].doc_id == "cafeteria.md"


def test_corrupt_settings_is_one_line_error(make_index, tmp_path):
    make_index()
    (tmp_path / "home" / "settings.json").write_text("{not json")
    with pytest.raises(ConfigError, match="settings file .* fix or delete it"):
        make_index()


def test_corrupt_state_file_is_repaired(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    (tmp_path / "home" / "state-rag_augment.json").write_text("[1, 2")
    assert make_index().query("transit benefit", k=2)


def test_home_that_is_a_file_or_missing(make_index, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        make_index("afile")
    with pytest.raises(InputError, match="no index at"):
        make_index("missing", create=False)
    assert not (tmp_path / "missing").exists()


def test_k_must_be_positive(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    for bad in (0, -3):
        with pytest.raises(ConfigError, match="k must be"):
            index.query("leave", k=bad)


def test_real_query_text_must_be_a_string(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    with pytest.raises(InputError, match="record 1: field 'text' must be a non-empty string"):
        index.add_real_queries([{"text": 42, "doc_id": "tools/zoom.md"}])


def test_csv_export_escapes_formulas_and_round_trips(make_index, kb, tmp_path):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    index.add_real_queries([{"text": '=HYPERLINK("http://x","click")', "doc_id": "tools/zoom.md"},
                            {"text": "@SUM(A1:A2)", "doc_id": "tools/zoom.md"}])
    out = tmp_path / "review.csv"
    index.export_review(out)
    raw = out.read_text()
    assert ",=HYPERLINK" not in raw and ",@SUM" not in raw and "'=HYPERLINK" in raw
    import csv
    rows = list(csv.DictReader(out.open()))
    for row in rows:
        row["decision"] = "reject" if row["text"].startswith("'@SUM") else ""
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=rows[0].keys())
        w.writeheader()
        w.writerows(rows)
    assert index.apply_review(out)["rejected"] == 1
    texts = {q["text"] for q in index.export_rows(kinds=("real",))}
    assert texts == {'=HYPERLINK("http://x","click")'}


def test_apply_review_takes_rows(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    row = next(index.export_rows())
    counts = index.apply_review([{**row, "decision": "edit", "edited_text": "a better wording of it"}])
    assert counts["edited"] == 1
    assert any(q["text"] == "a better wording of it" for q in index.show(row["parent_id"])["queries"])
    assert json.loads(index.review_book.path.read_text().splitlines()[-1])["source"] == "rows"


def test_a_chunk_the_model_keeps_refusing_is_given_up_after_three_tries(make_index, kb):
    """Soft failures are retried on the next runs; after three the chunk is given up: reported apart from the
    errors and asked again later (the next run, then after a growing wait), never taken as done (issue 29: a
    give-up cached as a generation lost its chunks for good, here and in every home sharing the cache)."""
    import re

    from rag_augment.generators.base import LLMQueryGenerator
    from rag_augment.testing import FakeChatBackend

    refusing = "I'm sorry, but I can't help with that."

    def reply(conv):  # a question that shares a word with its passage (the shared-word filter)
        content = conv[-1]["content"]
        word = re.findall(r"[A-Za-z]{5,}", content.split("Passage:")[-1])[0]
        return refusing if "Zoom" in content else f"Q: what does it say about {word}?"

    gen = LLMQueryGenerator(FakeChatBackend(reply), generator_name="llm")
    index = make_index()
    reports = [index.index_path(kb, gen) for _ in range(3)]
    assert reports[0].generation_errors and not reports[0].generation_gave_up
    assert reports[1].generation_errors and not reports[1].generation_gave_up
    assert not reports[2].generation_errors and reports[2].generation_gave_up
    given_up = {g["chunk_id"] for g in reports[2].generation_gave_up}
    # The cache records the give-up with no query; it is not a generation.
    entries = [r for r in index.cache.records(gen.identity()) if r["chunk_id"] in given_up]
    assert len(entries) == len(given_up) and all(not r["queries"] for r in entries)
    assert all(any(n.startswith("gave_up: soft failure") for n in r["notes"]) for r in entries)
    fourth = index.index_path(kb, gen)  # asked again on the next run ...
    assert fourth.chunks_generated == len(given_up) and {g["chunk_id"] for g in fourth.generation_gave_up} == given_up
    fifth = index.index_path(kb, gen)  # ... refused again: it waits a run, and is still reported
    assert fifth.chunks_generated == 0 and {g["chunk_id"] for g in fifth.generation_gave_up} == given_up
    other = make_index(home="other", cache_path=index.cache.path)  # a new home sharing the cache asks too
    assert other.index_path(kb, gen).chunks_generated == len(given_up)


def test_unique_temp_names(make_index, kb, tmp_path):
    """Concurrent writers of the same file (settings, state, a review export) use their own temp files: 40
    threads of this process and 4 other processes writing at once never crash and always leave one complete
    file."""
    import threading

    from rag_augment.home import atomic_write
    index = make_index()
    index.index_path(kb, RulesGenerator())
    target, errors, stop = tmp_path / "settings-like.json", [], tmp_path / "stop"
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from rag_augment.home import atomic_write
        print("ready", flush=True)
        n = 0
        while n == 0 or not Path({str(stop)!r}).exists():  # other processes write the same file meanwhile
            atomic_write(Path({str(target)!r}), json.dumps({{"writer": "process", "pad": "x" * 10000}}))
            n += 1
        print(n)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4

    def write(i):
        try:
            atomic_write(target, json.dumps({"writer": i, "pad": "x" * 10000}))
            index.export_review(tmp_path / "review.jsonl")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.touch()
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4 and all(int(out) >= 1 for out in outs)
    assert errors == []
    assert json.loads(target.read_text())["pad"] == "x" * 10000
    assert len((tmp_path / "review.jsonl").read_text().splitlines()) == index.store.counts()["queries"]
    assert not list(tmp_path.glob("*.tmp"))
