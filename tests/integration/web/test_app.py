"""The review app through Starlette's TestClient over a real index (Chroma, lexical index, review book)."""
from __future__ import annotations

import html as html_lib
import re

import pytest
from conftest import open_index, rules
from support import SAMPLE_DOCS

JSON = {"Accept": "application/json"}


def post(client, path, data, csrf=True, headers=None):
    data = dict(data)
    if csrf:
        data["csrf"] = client.csrf
    return client.post(path, data=data, headers={**JSON, **(headers or {})}, follow_redirects=False)


def chunk_queries(index, chunk_id):
    return {q["query_id"]: q for q in index.show(chunk_id)["queries"]}


def first_chunk_with(index, n=3, kind="question"):
    for row in index.export_rows():
        qs = [q for q in chunk_queries(index, row["parent_id"]).values() if q["kind"] == kind]
        if len(qs) >= n:
            return row["parent_id"], qs
    raise AssertionError("no chunk with enough queries")


# ---- pages ---------------------------------------------------------------------------------------------------
def test_every_page_renders_with_security_headers(client):
    for path in ("/queue", "/search", "/search?q=how+do+I+get+a+PIV+card", "/feedback", "/diversity"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.text[:500])
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        assert resp.headers["x-frame-options"] == "DENY"
        assert client.csrf in resp.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/queue"
    assert client.get("/static/app.js").status_code == 200


def test_queue_shows_first_chunk_with_provenance_and_highlights(client, index):
    html = client.get("/queue").text
    chunk_id = re.search(r'title="every query of this chunk">chunk <code>([^<]+)</code>', html).group(1)
    shown = set(re.findall(r'data-id="([^"]+)"', html))
    stored = chunk_queries(index, chunk_id)
    assert shown and shown <= set(stored)
    assert "rules-v2" in html or "rules" in html  # generator / prompt version shown per query
    assert "<mark data-w=" in html             # query words highlighted in the chunk text
    assert "Chunk <b>1</b> of" in html


def test_filters_narrow_the_queue(client, index):
    html = client.get("/queue?kind=keyword").text
    kinds = re.findall(r'<span class="badge kind">([^<]+)</span>', html)
    assert kinds and set(kinds) == {"keyword"}
    doc = next(index.export_rows())["doc_id"]
    html = client.get("/queue", params={"doc": doc, "status": "any"}).text
    assert f"<code>{doc}</code>" in html
    # nothing is approved yet
    assert "Nothing to review" in client.get("/queue?status=approved").text
    bad = client.get("/queue?status=sideways")
    assert bad.status_code == 400 and "status filter 'sideways'" in html_lib.unescape(bad.text)


def test_next_links_walk_every_matching_chunk_once(client, index):
    doc = "tools/zoom.md"
    expected = sorted({r["parent_id"] for r in index.export_rows() if r["doc_id"] == doc})
    assert len(expected) >= 2
    seen, url = [], f"/queue?doc={doc}"
    while url:
        html = client.get(url).text
        seen.append(re.search(r'title="every query of this chunk">chunk <code>([^<]+)</code>', html).group(1))
        m = re.search(r'id="next-chunk" rel="next" href="([^"]+)"', html)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert sorted(seen) == expected and len(seen) == len(set(seen))


# ---- decisions ---------------------------------------------------------------------------------------------
def test_reject_edit_approve_land_in_index_and_review_book_and_survive_reindex(client, index):
    chunk_id, qs = first_chunk_with(index, 3)
    rejected, edited, approved = qs[0], qs[1], qs[2]
    r = post(client, "/review", {"query_id": rejected["query_id"], "decision": "reject"})
    assert r.status_code == 200 and r.json()["counts"]["rejected"] == 1
    r = post(client, "/review", {"query_id": edited["query_id"], "decision": "edit",
                                 "edited_text": "How do I renew it before it lapses?", "note": "clearer"})
    assert r.status_code == 200, r.text
    new_id = r.json()["new_query_id"]
    r = post(client, "/review", {"query_id": approved["query_id"], "decision": "approve"})
    assert r.json()["counts"]["approved"] == 1

    after = chunk_queries(index, chunk_id)
    assert rejected["query_id"] not in after and edited["query_id"] not in after
    assert after[new_id]["text"] == "How do I renew it before it lapses?"
    assert after[new_id]["provenance"]["review_status"] == "edited"
    assert after[approved["query_id"]]["provenance"]["review_status"] == "approved"
    book = index.review_book.decisions
    assert {r["decision"] for r in book.values()} == {"reject", "edit", "approve"} and len(book) == 3
    assert any(r.get("note") == "clearer" for r in book.values())

    # the queue shows the new state; the page's catalog followed the writes
    html = client.get("/queue", params={"chunk": chunk_id, "status": "any"}).text
    assert rejected["text"] not in html.split('id="qlist"')[1] and "How do I renew it before it lapses?" in html

    # regenerate the document's queries: the review book re-applies every decision
    client.review.writer.flush()
    doc_id = after[new_id]["provenance"].get("doc_id") or next(
        r["doc_id"] for r in index.export_rows() if r["parent_id"] == chunk_id)
    index.delete_document(doc_id)
    index.index_path(SAMPLE_DOCS, rules())
    again = chunk_queries(index, chunk_id)
    texts = {q["text"]: q for q in again.values()}
    assert rejected["text"] not in texts
    assert edited["text"] not in texts
    assert texts["How do I renew it before it lapses?"]["provenance"]["review_status"] == "edited"
    assert texts[approved["text"]]["provenance"]["review_status"] == "approved"


def test_bulk_approve_a_chunk(client, index):
    chunk_id, qs = first_chunk_with(index, 2)
    ids = [q["query_id"] for q in chunk_queries(index, chunk_id).values()]
    r = client.post("/review/chunk", data={"csrf": client.csrf, "query_id": ids}, headers=JSON)
    assert r.status_code == 200 and sorted(r.json()["approved"]) == sorted(ids)
    assert {q["provenance"]["review_status"] for q in chunk_queries(index, chunk_id).values()} == {"approved"}


def test_a_decision_without_a_real_query_or_wording_changes_nothing(client, index):
    chunk_id, qs = first_chunk_with(index, 1)
    assert post(client, "/review", {"query_id": "nope::x", "decision": "approve"}).status_code == 400
    assert post(client, "/review", {"query_id": qs[0]["query_id"], "decision": "maybe"}).status_code == 400
    r = post(client, "/review", {"query_id": qs[0]["query_id"], "decision": "edit", "edited_text": "  "})
    assert r.status_code == 400 and "new wording" in r.json()["error"]
    assert index.review_book.decisions == {}


def test_form_post_without_script_redirects_back(client, index):
    chunk_id, qs = first_chunk_with(index, 1)
    r = client.post("/review", data={"csrf": client.csrf, "query_id": qs[0]["query_id"], "decision": "approve",
                                     "next": f"/queue?chunk={chunk_id}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/queue?chunk={chunk_id}"
    r = client.post("/review", data={"csrf": client.csrf, "query_id": qs[1]["query_id"], "decision": "approve",
                                     "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/queue"  # never an open redirect


# ---- CSRF and tokens -----------------------------------------------------------------------------------------
def test_writes_need_the_csrf_token_and_same_origin(client, index):
    chunk_id, qs = first_chunk_with(index, 1)
    data = {"query_id": qs[0]["query_id"], "decision": "reject"}
    assert post(client, "/review", data, csrf=False).status_code == 403
    assert post(client, "/review", {**data, "csrf": "forged"}, csrf=False).status_code == 403
    assert post(client, "/review", data, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/review").status_code == 405  # no write by GET
    assert post(client, "/feedback/record", {"query": "x", "chunk_id": chunk_id}, csrf=False).status_code == 403
    assert qs[0]["query_id"] in chunk_queries(index, chunk_id)
    assert index.review_book.decisions == {}
    ok = client.post("/review", data=data, headers={**JSON, "X-CSRF-Token": client.csrf})
    assert ok.status_code == 200


def test_loopback_binding_refuses_other_host_names(client):
    # DNS rebinding: a page on another site reaching 127.0.0.1 under its own name
    assert client.get("/queue", headers={"Host": "evil.example:8765"}).status_code == 421
    assert client.get("/queue", headers={"Host": "localhost:8765"}).status_code == 200


def test_token_is_required_when_set(index):
    from starlette.testclient import TestClient

    from rag_augment.web import create_app

    app = create_app(index, token="s3cret-token", loopback_only=False)
    with TestClient(app, base_url="http://192.0.2.10:8765") as c:
        assert c.get("/queue").status_code == 401
        assert c.get("/static/app.js").status_code == 401
        assert c.get("/queue?token=wrong").status_code == 401
        assert c.post("/review", data={"decision": "approve"}).status_code == 401
        assert c.get("/queue", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        r = c.get("/queue?token=s3cret-token&status=any", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/queue?status=any"  # token leaves the URL
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        assert c.get("/queue").status_code == 200  # the cookie now carries it
        assert "s3cret-token" not in c.get("/queue").text


# ---- search playground and feedback --------------------------------------------------------------------------
def test_search_shows_legs_and_matched_queries_and_records_a_failure(client, index):
    html = client.get("/search", params={"q": "how do I get a PIV card", "k": 5}).text
    assert html.count('class="hit"') == 5
    assert "query_dense" in html and "chunk_lexical" in html  # the legs
    assert 'class="matched"' in html
    target = re.findall(r'name="chunk_id" value="([^"]+)"', html)[2]
    r = post(client, "/feedback/record", {"query": "how do I get a PIV card", "chunk_id": target})
    assert r.status_code == 200 and r.json()["feedback_id"] >= 1
    with index.feedback_store() as fb:
        recs = fb.list(index.store.name)
    assert [(x.query, x.chunk_id, x.verdict, x.status) for x in recs] == \
        [("how do I get a PIV card", target, "flagged_wrong", "open")]
    page = client.get("/feedback").text
    assert "how do I get a PIV card" in page and target in page
    bad = post(client, "/feedback/record", {"query": "x", "chunk_id": "no-such-chunk"})
    assert bad.status_code == 400 and "no-such-chunk" in bad.json()["error"]


def test_feedback_page_shows_rounds_before_and_after(client, index):
    chunk_id = next(index.export_rows())["parent_id"]
    index.record_feedback("zebra crossing policy for parrots", "thumbs_down", chunk_id=chunk_id)
    index.apply_feedback(rules())
    html = client.get("/feedback").text
    assert "Round 1" in html and "zebra crossing policy for parrots" in html
    assert re.search(r"<td>(\d+|–) → (\d+|–)</td>", html)


def test_search_sees_decisions_made_just_before(client, index):
    chunk_id, qs = first_chunk_with(index, 1, kind="keyword")
    text = qs[0]["text"]
    post(client, "/review", {"query_id": qs[0]["query_id"], "decision": "reject"})
    html = client.get("/search", params={"q": text, "k": 10}).text
    matched = re.findall(r'<span class="leg">[^<]+</span> [\d.]+ · ([^<]+)</li>', html)
    assert text not in [m.strip() for m in matched]


# ---- diversity ------------------------------------------------------------------------------------------------
def test_diversity_page_draws_charts(client):
    html = client.get("/diversity").text
    assert html.count("<svg") >= 4
    assert "Queries per kind" in html and "Least covered documents" in html and "Least covered topics" in html


# ---- catalog follows writes made elsewhere -------------------------------------------------------------------
def test_queue_follows_a_review_applied_from_the_cli(client, index):
    chunk_id, qs = first_chunk_with(index, 1)
    before = client.get("/queue").text
    total = int(re.search(r"([\d,]+) matching queries", before).group(1).replace(",", ""))
    index.apply_review([{"query_id": qs[0]["query_id"], "parent_id": chunk_id, "text": qs[0]["text"],
                         "decision": "approve"}])
    after = client.get("/queue").text
    assert int(re.search(r"([\d,]+) matching queries", after).group(1).replace(",", "")) == total - 1


def test_own_decisions_need_no_full_reload_after_the_write_section_closes(client, index):
    chunk_id, qs = first_chunk_with(index, 1)
    version = index.version
    assert post(client, "/review", {"query_id": qs[0]["query_id"], "decision": "approve"}).status_code == 200
    client.review.writer.flush()  # the section closes: one lexical rebuild, a new index version
    assert index.version != version
    assert not client.review.catalog.refresh()  # the catalog took its own write in already


# ---- escaping ----------------------------------------------------------------------------------------------------
def test_query_and_chunk_text_are_escaped(tmp_path):
    from starlette.testclient import TestClient

    from rag_augment.types import Document
    from rag_augment.web import create_app

    index = open_index(tmp_path / "home")
    index.index_documents([Document("evil.md", "# <script>alert(1)</script> Travel\n\nHow to book "
                                    "<img src=x onerror=alert(2)> travel for a conference trip.")], rules())
    with TestClient(create_app(index), base_url="http://127.0.0.1") as c:
        html = c.get("/queue?status=any&kind=all").text
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # a query quoting the heading, escaped
        assert "onerror=<mark" in html or "onerror=alert" in html.replace('<mark data-w="alert">', "")


def test_bad_port_is_a_one_line_error(index):
    from rag_augment.errors import ConfigError
    from rag_augment.web import make_server

    with pytest.raises(ConfigError, match="--port"):
        make_server(index, port=70000)
