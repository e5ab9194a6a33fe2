"""The review app on a real uvicorn server and socket (127.0.0.1 only)."""
from __future__ import annotations

import http.client
import json
import urllib.parse

from conftest import chunk_queries_of


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def test_off_loopback_binding_refuses_requests_without_the_token(running, index):
    server = running(host="0.0.0.0")  # every interface: the token is generated and required
    assert server.token and len(server.token) >= 20
    status, _, body = request(server, "GET", "/queue")
    assert status == 401 and server.token not in body
    assert request(server, "GET", "/queue?token=wrong")[0] == 401
    assert request(server, "POST", "/review", "decision=approve",
                   {"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
    status, headers, _ = request(server, "GET", f"/queue?token={server.token}")
    assert status == 303 and headers["location"] == "/queue"
    cookie = headers["set-cookie"].split(";")[0]
    assert request(server, "GET", "/queue", headers={"Cookie": cookie})[0] == 200
    assert request(server, "GET", "/queue", headers={"Authorization": f"Bearer {server.token}"})[0] == 200


def test_a_given_token_is_kept_and_loopback_needs_none(running):
    from rag_augment.web.server import announcement

    assert running(host="0.0.0.0", token="given-token-123").token == "given-token-123"
    local = running()
    assert local.token is None and local.get("/queue")[0] == 200
    assert announcement("127.0.0.1", 8765, None)[0] == "Review page: http://127.0.0.1:8765/ (this machine only)"
    assert "?token=abc" in announcement("0.0.0.0", 8765, "abc")[0]


def test_decisions_over_http_are_durable_and_the_lexical_index_follows_on_shutdown(running, index):
    server = running()
    status, _, html = request(server, "GET", "/queue")
    csrf = html.split('name="csrf-token" content="')[1].split('"')[0]
    qid = html.split('data-id="')[1].split('"')[0]
    parent = qid.split("::")[0]
    body = urllib.parse.urlencode({"csrf": csrf, "query_id": qid, "decision": "reject"})
    status, _, out = request(server, "POST", "/review", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        "Origin": server.url})
    assert status == 200 and json.loads(out)["counts"]["rejected"] == 1
    assert qid not in chunk_queries_of(index, parent)          # Chroma at once
    assert any(r["query_id"] == qid for r in index.review_book.decisions.values())  # the book at once
    server.stop()                                              # the writer's last batch ends: lexical rebuilt
    assert qid not in index.lexical.query_parent
    assert not index._state().get("lexical_dirty")
