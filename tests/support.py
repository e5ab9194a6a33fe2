"""Paths every test lane shares (tests/ is on the import path: pyproject's pytest `pythonpath`)."""
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = REPO / "sample_kb" / "docs"
TEST_DATA = REPO / "tests" / "data"


def copy_sample_docs(dest: Path, rels) -> Path:
    """A copy of these sample_kb documents (paths under sample_kb/docs) in `dest`, which tests may edit."""
    import shutil

    for rel in rels:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DOCS / rel, dest / rel)
    return dest


@contextmanager
def served(cmd: list[str], ready_url: str, log: Path, name: str, wait_s: float):
    """A server process for the length of the block: its output goes to `log` (a file, not a pipe: a full pipe
    blocks it), it is ready when `ready_url` answers 200, and a test fails with the log's tail when it exits or
    `wait_s` passes first."""
    import subprocess
    import time
    import urllib.request

    import pytest

    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.time() + wait_s
    while True:
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"{name} did not start within {wait_s:.0f} s: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
