"""Secrets (issue 15, finding 6): an API key planted in the environment variable the OpenAI back end reads must
not reach any file, output or log, whole or as any 8+ character fragment, whatever a hostile endpoint does:
echo it in error bodies (past the 300-character cut), write it into answers, invent URLs and e-mail addresses."""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from faults_openai_server import FaultServerProcess, key_fragments
from support import REPO

from rag_augment.generators.openai import openai_generator

# Drawn at run time, not written here: a literal would sit in this module's source text, which the test process
# reads and frees on import, and test_faults_openai's in-process server echoes another planted key that shares
# "sk-test-PLANTED" with the old literal. Either can be recycled by malloc into a buffer that Chroma's hnswlib
# writes out whole, unwritten bytes included (the CI failure of session 10), and be found in the index files.
KEY = "sk-" + secrets.token_urlsafe(30)
KEY_ENV = "RAG_SECRETS_TEST_KEY"
DOCS = {
    "leave.md": "# Leave\n\nAnnual leave requests go through the portal two weeks ahead of the first day off.\n",
    "travel.md": "# Travel\n\nBook flights through the travel desk and keep every receipt for the voucher.\n",
    "laptop.md": "# Laptops\n\nSecurity patches install overnight; restart your laptop every Friday afternoon.\n",
    "badge.md": "# Badges\n\nLost badges are replaced at the security office on the ground floor.\n",
}


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


def fragments_in_tree(root: Path) -> dict[str, list[str]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            hits = key_fragments(path.read_bytes(), KEY)
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_no_fragment_of_the_key_anywhere(tmp_path, monkeypatch, caplog, capsys):
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder

    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)  # every logger, the OpenAI client's and httpx's included
    docs = write_docs(tmp_path / "docs")
    index = AugmentIndex(tmp_path / "home", embedder=HashEmbedder())
    reports = []
    for schedule in ("every_fault", "every_fault", "healthy"):
        with FaultServerProcess(schedule, key=KEY, hang_s=1.0) as srv:
            gen = openai_generator("fault-model", base_url=srv.url, api_key_env=KEY_ENV, timeout=0.4, max_retries=1,
                                   backoff_base=0.001, backoff_max=0.01)
            report = index.index_path(docs, gen)
        reports.append(report)
        print(json.dumps(report.to_dict(), default=str), repr(gen), repr(gen.backend), gen.identity())
        logging.getLogger("rag_augment").warning("report: %s", report.to_dict())
    assert reports[0].generation_errors  # the hostile runs did fail some chunks ...
    assert reports[-1].generation_errors == []  # ... and the healthy one completed them
    out = capsys.readouterr()
    assert fragments_in_tree(tmp_path) == {}
    assert key_fragments(out.out + out.err, KEY) == []
    assert key_fragments(caplog.text, KEY) == []
    assert index.stats()["chunks_with_queries"] == len(DOCS)


@pytest.mark.slow
def test_no_fragment_of_the_key_in_the_cli_output_or_home(tmp_path):
    """The real command, as a user runs it: stdout, stderr (with debug logging on) and every file it writes."""
    docs = write_docs(tmp_path / "docs")
    env = {**os.environ, KEY_ENV: KEY, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    outputs = []
    for schedule in ("every_fault", "healthy"):
        with FaultServerProcess(schedule, key=KEY, hang_s=1.0) as srv:
            cmd = [sys.executable, "-c", "import logging, sys; logging.basicConfig(level=logging.DEBUG); "
                   "from rag_augment.cli import main; sys.exit(main())",
                   "index", str(docs), "--home", str(tmp_path / "home"), "--generator", "openai",
                   "--model", "fault-model", "--base-url", srv.url, "--api-key-env", KEY_ENV,
                   "--timeout", "0.5", "--max-retries", "1"]
            run = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        outputs.append(run)
    assert outputs[0].returncode != 0, outputs[0].stderr[-2000:]  # chunks failed: said so
    assert outputs[1].returncode == 0, outputs[1].stderr[-2000:]
    for run in outputs:
        assert key_fragments(run.stdout + run.stderr, KEY) == []
    assert fragments_in_tree(tmp_path) == {}
