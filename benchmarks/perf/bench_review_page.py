"""Latency of the review page (`rag-augment review serve`) on a handbook-sized index, over a real socket.

Builds (once, then reuses) an index of the 18F handbook with the rules generator and the hash embedder (no model:
the build takes a few minutes on 2 cores and the page's costs do not depend on the embedder), serves the review
app with uvicorn on 127.0.0.1, and times with a plain HTTP client:
- startup: reading the query catalog;
- queue page: the first page, random chunks, and filtered pages;
- a decision round-trip: POST approve / reject / edit and the JSON answer (the change is in Chroma and the
  review book when it returns), decisions made one after another as a reviewer would;
- the lexical rebuild the writer runs once the reviewer pauses (20 s without a decision), a decision that
  arrives while it runs, and a search right after decisions (which waits for it);
- for comparison, one decision through `AugmentIndex.apply_review` alone, which rebuilds the lexical index
  every time.
Prints the figures as JSON; asserts nothing.

    python benchmarks/perf/bench_review_page.py [--kb ../shared/kb/handbook_18f] [--home /tmp/...] [--samples 40]
"""
from __future__ import annotations

import argparse
import http.client
import json
import platform
import random
import re
import socket
import statistics
import threading
import time
import urllib.parse
from pathlib import Path

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.generators.factory import make_generator
from rag_augment.web import make_server
from rag_augment.web.catalog import QueueFilter

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stats_ms(xs: list[float]) -> dict:
    xs = sorted(x * 1000 for x in xs)
    return {"n": len(xs), "p50": round(statistics.median(xs), 1), "p95": round(xs[max(0, int(len(xs) * .95) - 1)], 1),
            "max": round(xs[-1], 1), "mean": round(statistics.fmean(xs), 1)}


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.csrf = ""

    def _send(self, method: str, path: str, body=None, headers=None):
        """One request; a keep-alive connection the server closed while idle (a long rebuild) is reopened."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                return self.conn.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.conn.host, self.conn.port, timeout=120)

    def get(self, path: str) -> tuple[float, str]:
        t = time.perf_counter()
        resp = self._send("GET", path)
        body = resp.read().decode()
        took = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:300]}")
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', body).group(1)
        return took, body

    def post(self, path: str, form: dict) -> tuple[float, dict]:
        body = urllib.parse.urlencode({**form, "csrf": self.csrf})
        t = time.perf_counter()
        resp = self._send("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                               "Accept": "application/json"})
        data = json.loads(resp.read().decode())
        took = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(f"POST {path}: {resp.status} {data}")
        return took, data


def build(kb: Path, home: Path) -> tuple[AugmentIndex, dict]:
    index = AugmentIndex(home, embedder=HashEmbedder(256))
    t = time.perf_counter()
    report = index.index_path(kb, make_generator("rules"))  # incremental: a second run reuses the index
    return index, {"seconds": round(time.perf_counter() - t, 1), "chunks_generated": report.chunks_generated,
                   **index.store.counts()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb", type=Path, default=REPO.parent / "shared" / "kb" / "handbook_18f")
    ap.add_argument("--home", type=Path, default=Path("/tmp/rag_augment_bench_review"))
    ap.add_argument("--samples", type=int, default=40, help="timed requests per figure (default 40)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    index, built = build(args.kb, args.home)
    t = time.perf_counter()
    server, _ = make_server(index, "127.0.0.1", free_port())
    port = server.config.port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    c = Client(port)
    first, html = c.get("/queue")
    startup = time.perf_counter() - t
    review = server.config.app.state.review
    catalog = review.catalog

    chunks = catalog.matching_chunks(QueueFilter())
    picks = rnd.sample(chunks, min(args.samples, len(chunks)))
    queue_random = [c.get("/queue?" + urllib.parse.urlencode({"chunk": p}))[0] for p in picks]
    docs = sorted({catalog.chunk(p).doc_id for p in picks})
    queue_filtered = []
    for i in range(args.samples):
        params = [{"kind": "question"}, {"kind": "keyword", "status": "any"}, {"doc": rnd.choice(docs)},
                  {"generator": "rules", "flagged": "any"}][i % 4]
        queue_filtered.append(c.get("/queue?" + urllib.parse.urlencode(params))[0])

    # decisions one after another, as a reviewer pressing a / r / e
    qids = []
    for p in rnd.sample(chunks, args.samples):
        entries = [e for e in catalog.entries_of(p) if e.status == "unreviewed"]
        if entries:
            qids.append(rnd.choice(entries).query_id)
    decide = {"approve": [], "reject": [], "edit": []}
    for i, qid in enumerate(qids):
        kind = ("approve", "reject", "edit")[i % 3]
        form = {"query_id": qid, "decision": kind}
        if kind == "edit":
            form["edited_text"] = f"reworded question number {i} about this part of the handbook?"
        took, data = c.post("/review", form)
        decide[kind].append(took)
    all_decisions = decide["approve"] + decide["reject"] + decide["edit"]

    t = time.perf_counter()
    review.writer.flush()  # what the writer does once the reviewer pauses: one lexical rebuild
    rebuild = time.perf_counter() - t
    # the unlucky case: a decision that arrives while that rebuild runs waits for it
    spare = [e.query_id for p in chunks[len(chunks) // 2:] for e in catalog.entries_of(p)
             if e.status == "unreviewed"][:2]
    c.post("/review", {"query_id": spare[0], "decision": "approve"})
    flusher = threading.Thread(target=review.writer.flush)
    flusher.start()
    time.sleep(0.1)
    during_rebuild, _ = c.post("/review", {"query_id": spare[1], "decision": "approve"})
    flusher.join()
    review.writer.flush()
    # a search right after a decision waits for that rebuild
    one = next(e.query_id for p in chunks[::-1] for e in catalog.entries_of(p) if e.status == "unreviewed")
    c.get("/queue")
    c.post("/review", {"query_id": one, "decision": "approve"})
    search_after_decision = c.get("/search?q=how+do+I+request+leave")[0]
    searches = [c.get("/search?" + urllib.parse.urlencode({"q": q}))[0]
                for q in ["how do I request leave", "travel card", "slack channels", "security training",
                          "onboarding laptop", "expense report deadline"]]
    feedback_page = c.get("/feedback")[0]
    diversity_pages = [c.get("/diversity")[0] for _ in range(2)]  # the first computes, the second is cached

    server.should_exit = True
    thread.join(timeout=300)

    # the library write path alone: each call rebuilds the lexical index
    direct = []
    for p in rnd.sample(chunks, 3):
        q = next((q for q in index.store.queries_of([p]) if q.provenance.get("review_status") == "unreviewed"), None)
        if q is None:
            continue
        t = time.perf_counter()
        index.apply_review([{"query_id": q.query_id, "parent_id": q.parent_id, "text": q.text,
                             "decision": "approve"}])
        direct.append(time.perf_counter() - t)

    print(json.dumps({
        "benchmark": "review_page", "kb": str(args.kb), "index": built,
        "catalog_queries": catalog.query_count(),
        "startup_to_first_queue_page_s": round(startup, 2), "first_queue_page_ms": round(first * 1000, 1),
        "queue_page_random_chunk_ms": stats_ms(queue_random),
        "queue_page_filtered_ms": stats_ms(queue_filtered),
        "decision_round_trip_ms": stats_ms(all_decisions),
        "decision_round_trip_by_kind_ms": {k: stats_ms(v) for k, v in decide.items() if v},
        "lexical_rebuild_after_burst_ms": round(rebuild * 1000, 1),
        "decision_arriving_during_that_rebuild_ms": round(during_rebuild * 1000, 1),
        "search_right_after_a_decision_ms": round(search_after_decision * 1000, 1),
        "search_ms": stats_ms(searches),
        "feedback_page_ms": round(feedback_page * 1000, 1),
        "diversity_page_ms_first_then_cached": [round(x * 1000, 1) for x in diversity_pages],
        "apply_review_alone_with_rebuild_ms": stats_ms(direct) if direct else None,
        "python": platform.python_version(), "machine": platform.machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
