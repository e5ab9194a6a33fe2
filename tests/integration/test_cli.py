"""The CLI end to end with the real MiniLM embedding and the rules generator (no LLM)."""
import json

import pytest
from support import SAMPLE_DOCS, copy_sample_docs

from rag_augment.cli import main


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):

    root = tmp_path_factory.mktemp("cli")
    kb = root / "kb"
    copy_sample_docs(kb, ("travel-and-leave/leave.md", "getting-started/piv.md"))
    home = root / "home"
    assert main(["index", str(kb), "--home", str(home), "--generator", "rules", "--json"]) == 0
    return kb, home


def test_index_then_query_json(indexed, capsys):
    kb, home = indexed
    capsys.readouterr()
    assert main(["query", "how many hours of sick leave do I earn", "--home", str(home), "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3
    assert hits[0]["doc_id"] == "travel-and-leave/leave.md"
    assert hits[0]["legs"]


def test_query_explain_shows_legs_and_matches(indexed, capsys):
    _, home = indexed
    assert main(["query", "PIV card", "--home", str(home), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "legs:" in out and "piv.md" in out


def test_stats_and_show(indexed, capsys):
    _, home = indexed
    capsys.readouterr()
    assert main(["stats", "--home", str(home)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 2 and stats["query_vectors"] > 0
    assert main(["query", "PIV", "--home", str(home), "--json", "-k", "1"]) == 0
    chunk_id = json.loads(capsys.readouterr().out)[0]["chunk_id"]
    assert main(["show", chunk_id, "--home", str(home)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["queries"] and shown["queries"][0]["provenance"]["generator"] == "rules"
    assert shown["queries"][0]["provenance"]["source_chunk_hash"]


def test_errors_are_one_line_and_nonzero(indexed, capsys, tmp_path):
    _, home = indexed
    capsys.readouterr()
    assert main(["index", str(tmp_path / "missing"), "--home", str(home), "--generator", "rules"]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and err.count("\n") == 1
    assert main(["show", "no-such-chunk", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "'no-such-chunk' is not in the index" in err and err.count("\n") == 1
    assert main(["delete", "no/such/doc.md", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "'no/such/doc.md' is not in the index" in err and err.count("\n") == 1
    assert main(["index", str(tmp_path), "--home", str(home), "--generator", "openai"]) == 2
    err = capsys.readouterr().err
    assert "--model" in err and err.count("\n") == 1


def test_delete_then_reindex_restores(indexed, capsys):
    kb, home = indexed
    assert main(["delete", "getting-started/piv.md", "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["stats", "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 1
    assert main(["index", str(kb), "--home", str(home), "--generator", "rules"]) == 0
    capsys.readouterr()
    assert main(["stats", "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 2


def test_index_without_synthetic_queries_then_real_ones(indexed, tmp_path, capsys):
    """--generator none: chunks only; real queries added later are the only query vectors."""
    kb, _ = indexed
    home = tmp_path / "none-home"
    assert main(["index", str(kb), "--home", str(home), "--generator", "none", "--json"]) == 0
    capsys.readouterr()
    assert main(["stats", "--home", str(home), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["chunks"] > 0 and stats["query_vectors"] == 0
    faq = tmp_path / "faq.jsonl"
    faq.write_text(json.dumps({"text": "lost my smart card", "doc_id": "getting-started/piv.md"}) + "\n")
    assert main(["real", "add", str(faq), "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["query", "lost my smart card", "--home", str(home), "-k", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)[0]
    assert hit["doc_id"] == "getting-started/piv.md"
    assert [m["kind"] for m in hit["matched_queries"]][:1] == ["real"]


def test_review_serve_starts_the_page(indexed, tmp_path):
    """`rag-augment review serve` opens the index and serves the queue on 127.0.0.1 until stopped."""
    import subprocess
    import sys
    import time
    import urllib.request

    from rag_augment.testing import free_port

    _, home = indexed
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag_augment.cli", "review", "serve", "--home", str(home),
                                 "--port", str(port)], stdout=out, stderr=out)
    try:
        deadline, body = time.time() + 120, ""
        while time.time() < deadline and proc.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert "leave" in body.lower() or "piv" in body.lower(), log.read_text()[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tune_prints_the_choice_and_queries_use_it(indexed, capsys):
    """`rag-augment tune` with no labels prints the chosen weights, the held-out evidence and its self-check, and
    saves the index's own profile only when the check passed (or --force), which a plain `query` then uses;
    --dry-run saves nothing."""
    from rag_augment import AugmentIndex
    _, home = indexed
    profile_file = home / "profile-rag_augment.json"
    capsys.readouterr()
    assert main(["tune", "--home", str(home), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "chosen profile" in out and "synthetic held-out evidence" in out and not profile_file.exists()
    assert "self-check of the chosen profile on " in out
    assert main(["tune", "--home", str(home), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["source"] == "synthetic" and rep["synthetic"]["scores"] and rep["check"]["queries"] > 0
    assert rep["installed"] == rep["check"]["passed"] == profile_file.exists()
    assert main(["tune", "--home", str(home), "--json", "--force"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["installed"] and profile_file.exists()
    assert AugmentIndex(home).profile.to_json() == AugmentIndex(home, profile=None).profile.to_json()
    assert AugmentIndex(home).profile.name == rep["profile"]["name"]
    profile_file.unlink()


def test_index_tune_writes_the_index_profile_at_the_end(tmp_path, capsys):
    """`index --tune` indexes, then chooses the index's own profile and saves it if it passes its self-check,
    reported in the same JSON."""
    import shutil

    kb, home = tmp_path / "kb", tmp_path / "home"
    kb.mkdir()
    shutil.copy(SAMPLE_DOCS / "travel-and-leave/leave.md", kb / "leave.md")
    capsys.readouterr()
    assert main(["index", str(kb), "--home", str(home), "--generator", "rules", "--tune", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["chunks_total"] > 0 and rep["tune"]["source"] == "synthetic"
    profile_file = home / "profile-rag_augment.json"
    assert rep["tune"]["installed"] == rep["tune"]["check"]["passed"] == profile_file.exists()  # the self-check
    if profile_file.exists():
        assert json.loads(profile_file.read_text())["profile"]["name"] == rep["tune"]["profile"]["name"]
