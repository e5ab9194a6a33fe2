"""Fixtures for the review page: a sample_kb index built once (rules generator, hash embedder), copied per test
so each test may write; a real uvicorn server on 127.0.0.1 for the tests that need a socket or a browser."""
from __future__ import annotations

import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support import REPO

pytest.importorskip("starlette", reason="the review page needs the web extra")
pytest.importorskip("jinja2", reason="the review page needs the web extra")

ROOT = REPO
SAMPLE_DOCS = ROOT / "sample_kb" / "docs"
EMBED_DIM = 128


def open_index(home: Path):
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.testing import HashEmbedder
    return AugmentIndex(home, embedder=HashEmbedder(EMBED_DIM))


def rules():
    from rag_augment.generators.factory import make_generator
    return make_generator("rules")


@pytest.fixture(scope="session")
def built_home(tmp_path_factory) -> Path:
    """sample_kb/docs indexed once with the rules generator; tests get copies."""
    home = tmp_path_factory.mktemp("web-index") / "home"
    index = open_index(home)
    index.index_path(SAMPLE_DOCS, rules())
    assert index.store.counts()["queries"] > 500
    del index
    return home


@pytest.fixture
def index(built_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built_home, home)
    return open_index(home)


@pytest.fixture
def client(index):
    from starlette.testclient import TestClient

    from rag_augment.web import create_app

    app = create_app(index, writer_idle=0.2)
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        c.csrf = app.state.review.csrf
        c.review = app.state.review
        yield c


def chunk_queries_of(index, chunk_id: str) -> dict[str, dict]:
    return {q["query_id"]: q for q in index.show(chunk_id)["queries"]}


class RunningServer:
    def __init__(self, index, host: str = "127.0.0.1", token: str | None = None, **options):
        from rag_augment.testing import free_port
        from rag_augment.web import make_server

        self.port = free_port()
        self.server, self.token = make_server(index, host, self.port, token, **options)
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the review server did not start")
            time.sleep(0.05)

    @property
    def app(self):
        return self.server.config.app

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.server.should_exit = True
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the review server did not stop"


@pytest.fixture
def running(index):
    servers = []

    def start(**kw) -> RunningServer:
        s = RunningServer(index, **kw)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()
