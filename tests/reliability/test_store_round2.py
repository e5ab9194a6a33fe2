"""Nothing lost, round two (issue 29, items 6 and 7): a long-lived process sees another process's documents in
its dense legs; `review serve` binds before it shows its address and stops quietly on Ctrl+C; a killed lexical
save leaves no temp folder; a damaged HNSW file is a one-line error; concurrent lexical rebuilds are serialised.
Real embedded Chroma, the rules generator, the hash embedder (no model)."""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rag_augment.cli import main
from rag_augment.eval.systems import single_leg
from rag_augment.generators.rules import RulesGenerator

QUESTION = "cafeteria opening hours breakfast"
CAFETERIA = ("# Cafeteria\n\nThe cafeteria serves breakfast from seven; opening hours are posted at the "
             "entrance.\n")
DENSE = ("chunk_dense", "query_dense")
CLI_INDEX = ["--embedding-model", "hash-128"]  # the hash embedder's name: no model is loaded


def top_doc(index, leg: str) -> str:
    return index.query(QUESTION, k=1, profile=single_leg(leg, 10))[0].doc_id


def index_in_another_process(home, kb) -> None:
    script = textwrap.dedent(f"""
        from rag_augment.augment_index import AugmentIndex
        from rag_augment.generators.rules import RulesGenerator
        from rag_augment.testing import HashEmbedder
        AugmentIndex({str(home)!r}, embedder=HashEmbedder(128)).index_path({str(kb)!r}, RulesGenerator())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)


# ---- 6: the dense legs see another process's writes ---------------------------------------------------------
def test_long_lived_index_finds_another_process_documents_in_its_dense_legs(make_index, kb):
    reader = make_index()
    reader.index_path(kb, RulesGenerator())
    held = reader.retriever  # kept, as a LlamaIndex app server keeps it
    assert all(top_doc(reader, leg) != "cafeteria.md" for leg in DENSE)
    (kb / "cafeteria.md").write_text(CAFETERIA)
    index_in_another_process(reader.home, kb)
    assert {leg: top_doc(make_index(), leg) for leg in DENSE} == dict.fromkeys(DENSE, "cafeteria.md")  # a new one
    assert {leg: top_doc(reader, leg) for leg in DENSE} == dict.fromkeys(DENSE, "cafeteria.md")  # the old one
    assert held.search(QUESTION, k=1, profile=single_leg("chunk_dense", 10))[0].doc_id == "cafeteria.md"


def test_a_reloaded_reader_writes_on_top_of_the_other_process_writes(make_index, kb):
    """After reloading, the reader's own write keeps what the other process wrote (and the reader's own write
    needs no reload)."""
    reader = make_index()
    reader.index_path(kb, RulesGenerator())
    top_doc(reader, "chunk_dense")
    (kb / "cafeteria.md").write_text(CAFETERIA)
    index_in_another_process(reader.home, kb)
    reader.add_real_queries([{"text": "when can I get breakfast", "doc_id": "cafeteria.md"}])
    assert {leg: top_doc(reader, leg) for leg in DENSE} == dict.fromkeys(DENSE, "cafeteria.md")
    assert reader.query("when can I get breakfast", k=1, profile=single_leg("query_dense", 10))[0].doc_id \
        == "cafeteria.md"


def test_llamaindex_retriever_sees_another_process_documents(make_index, kb):
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra")
    from rag_augment.integrations.llamaindex import RagAugmentRetriever

    index = make_index()
    index.index_path(kb, RulesGenerator())
    retrievers = {leg: RagAugmentRetriever(index, similarity_top_k=1, profile=single_leg(leg, 10))
                  for leg in (*DENSE, "chunk_lexical")}
    assert all(r.retrieve(QUESTION)[0].node.metadata.get("doc_id") != "cafeteria.md" for r in retrievers.values())
    (kb / "cafeteria.md").write_text(CAFETERIA)
    index_in_another_process(index.home, kb)
    found = {leg: r.retrieve(QUESTION)[0].node.metadata.get("doc_id") for leg, r in retrievers.items()}
    assert found == dict.fromkeys(retrievers, "cafeteria.md")


# ---- 7a, 7b: review serve ------------------------------------------------------------------------------------
def test_review_serve_on_a_busy_port_is_one_line_and_shows_no_token(make_index, capsys):
    pytest.importorskip("starlette", reason="the review page needs the web extra")
    home = make_index().home
    with socket.socket() as holder:  # another program on the port
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        rc = main(["review", "serve", "--home", str(home), *CLI_INDEX, "--host", "0.0.0.0", "--port", str(port)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "token" not in out and "Review page" not in out
    assert err.count("\n") == 1 and str(port) in err and "--port" in err


def test_review_serve_stops_on_ctrl_c_with_its_own_message(make_index):
    pytest.importorskip("starlette", reason="the review page needs the web extra")
    from rag_augment.testing import free_port

    home, port = make_index().home, free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag_augment.cli", "review", "serve", "--home", str(home),
                             *CLI_INDEX, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert "Review page" in proc.stdout.readline()
        deadline = time.time() + 60
        while True:  # listening: uvicorn's signal handlers are in place
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "generated queries" not in err and "review page stopped" in err


# ---- 7c: a killed lexical save ---------------------------------------------------------------------------------
def test_a_lexical_save_killed_before_its_swap_leaves_no_temp_folder(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    home = index.home
    script = textwrap.dedent(f"""
        import os
        from rag_augment.augment_index import AugmentIndex
        from rag_augment.testing import HashEmbedder
        real = os.replace
        def killed(src, dst):  # the process dies as the new folder is swapped in
            if ".new-" in str(src):
                os._exit(9)
            real(src, dst)
        os.replace = killed
        AugmentIndex({str(home)!r}, embedder=HashEmbedder(128)).rebuild_lexical()
    """)
    assert subprocess.run([sys.executable, "-c", script], timeout=300).returncode == 9
    assert list(home.glob("lexical-*.new-*"))
    reopened = make_index()  # opening removes it (no writer running)
    assert not list(home.glob("lexical-*.new-*"))
    assert reopened.query("transit benefit", k=1)
    (home / "lexical-rag_augment.new-dead1234").mkdir()
    with reopened._writing():  # a writer holds the lock: an open leaves the folders alone...
        make_index()
        assert list(home.glob("lexical-*.new-*"))
    reopened.rebuild_lexical()  # ...and the next save removes them
    assert not list(home.glob("lexical-*.new-*"))


# ---- 7d: a damaged HNSW file -------------------------------------------------------------------------------------
def test_a_garbled_hnsw_file_is_a_one_line_error_naming_its_folder(make_index, kb):
    index = make_index()
    index.index_path(kb, RulesGenerator())
    # past Chroma's sync threshold (1000 vectors) the HNSW files, not the write log, hold the vectors
    index.add_real_queries([{"text": f"question {i} on sick leave", "doc_id": "travel-and-leave/leave.md"}
                            for i in range(600)])
    pickles = sorted(index.home.glob("chroma/*/index_metadata.pickle"))
    assert pickles, "the query vectors live in HNSW files"
    folder = pickles[0].parent
    rnd = random.Random(7)
    header = folder / "header.bin"
    header.write_bytes(bytes(rnd.randrange(256) for _ in range(header.stat().st_size)))
    # a new process (this one holds the index in memory already)
    probe = textwrap.dedent(f"""
        from rag_augment.augment_index import AugmentIndex
        from rag_augment.testing import HashEmbedder
        AugmentIndex({str(index.home)!r}, embedder=HashEmbedder(128)).query("sick leave", k=3)
    """)
    err = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300).stderr
    assert re.search(f"StoreError: .*{re.escape(str(folder))} are damaged .* re-index", err), err[-2000:]
    cli = subprocess.run([sys.executable, "-m", "rag_augment.cli", "stats", "--home", str(index.home), *CLI_INDEX],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1, cli.stderr[-2000:]
    assert str(folder) in cli.stderr and "Traceback" not in cli.stderr


# ---- 7e: rebuild_lexical takes the lock ---------------------------------------------------------------------------
def test_concurrent_lexical_rebuilds_are_serialised(make_index, kb, monkeypatch):
    from rag_augment import lexical

    index = make_index(lock_timeout=300)
    index.index_path(kb, RulesGenerator())
    slow_save = lexical.Bm25.save

    def save(self, folder):  # a slower disk: rebuilds overlap
        time.sleep(0.02)
        slow_save(self, folder)
    monkeypatch.setattr(lexical.Bm25, "save", save)
    errors: list[Exception] = []

    def rebuild():
        try:
            index.rebuild_lexical()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=rebuild) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not list(index.home.glob("lexical-*.new-*")) and not list(index.home.glob("lexical-*.old"))
    fresh = make_index()
    assert fresh.query("transit benefit", k=1, profile=single_leg("chunk_lexical", 10))
    assert fresh.lexical.sizes()["queries"] == fresh.store.counts()["queries"]
