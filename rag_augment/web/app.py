"""The review web app: Queue, Search playground, Feedback and Diversity pages over one AugmentIndex.

Server-rendered (Starlette + Jinja2); one small static script adds keyboard shortcuts and in-place decisions,
and every form also works without it. Reads go through rag_augment.trust and an in-memory catalog of the queries
that follows `index.version`; writes go through the index's own write paths (`apply_review`, `record_feedback`)
on one writer thread (see writes.py).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from rag_augment.errors import InputError, RagAugmentError, StoreError
from rag_augment.trust import reviewing
from rag_augment.trust.provenance import shown
from rag_augment.trust.review import DECISIONS, edited
from rag_augment.web import charts
from rag_augment.web.catalog import QueryCatalog, QueueFilter
from rag_augment.web.highlight import highlight, stems
from rag_augment.web.security import Guard, add_headers, check_post, new_token
from rag_augment.web.writes import BatchedWriter

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024
MAX_K = 50


class ReviewApp:
    """The state behind the routes: the index, its query catalog, the writer thread and the page tokens."""

    def __init__(self, index, token: str | None, csrf: str | None = None, writer_idle: float = 20.0):
        self.index = index
        self.token = token
        self.csrf = csrf or new_token()
        self.catalog = QueryCatalog(index)
        self.writer = BatchedWriter(index, idle=writer_idle, on_close=self.catalog.adopt)
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                               autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(qs=_qs, csrf=self.csrf)
        self._diversity: tuple[int, dict] | None = None
        self._diversity_lock = threading.Lock()

    # ---- helpers ---------------------------------------------------------------------------------------------
    def render(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("collection", self.index.files.collection)
        ctx.setdefault("to_review", self.catalog.matching_count(QueueFilter()))
        return HTMLResponse(self.env.get_template(name).render(**ctx), status)

    def error(self, request: Request, message: str, status: int) -> Response:
        if _wants_json(request):
            return JSONResponse({"ok": False, "error": message}, status)
        return self.render("error.html", status=status, message=message, page="")

    # ---- queue -------------------------------------------------------------------------------------------
    def queue(self, request: Request) -> Response:
        flt = QueueFilter.from_params(request.query_params)
        self.catalog.refresh()
        chunks = self.catalog.matching_chunks(flt)
        chunk_id = request.query_params.get("chunk") or (chunks[0] if chunks else "")
        facets = self.catalog.facets()
        if not chunk_id:
            return self.render("queue.html", page="queue", flt=flt, facets=facets, chunk=None, pos=None,
                               total_queries=0)
        chunk, queries = reviewing.show(self.index, chunk_id)
        planted = self.catalog.planted(chunk_id)
        listed: list[dict[str, Any]] = []
        hidden = 0
        for q in queries:
            entry = reviewing.entry_of(q, planted)
            if not flt.matches(entry):
                hidden += 1
                continue
            listed.append({"q": q, "entry": entry, "stems": " ".join(stems(q.text)), "prov": shown(q.provenance)})
        meta = chunk.get("metadata") or {}
        return self.render(
            "queue.html", page="queue", flt=flt, facets=facets, pos=self.catalog.position(flt, chunk_id),
            total_queries=self.catalog.matching_count(flt), queries=listed, hidden=hidden,
            chunk={"id": chunk_id, "doc_id": meta.get("doc_id", ""), "title": meta.get("title", ""),
                   "section": meta.get("section", ""), "position": meta.get("position", 0),
                   "html": highlight(chunk.get("text") or "", [s["q"].text for s in listed])})

    def decide(self, form: dict[str, str]) -> dict[str, Any]:
        qid, decision = form.get("query_id", ""), form.get("decision", "").strip().lower()
        if decision not in DECISIONS:
            raise InputError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        stored = reviewing.stored_queries(self.index, [qid]) if qid else []
        if not stored:
            raise InputError(f"query {qid!r} is no longer in the index (decided already, or re-indexed); "
                             "reload the page")
        q = stored[0]
        text = form.get("edited_text", "").strip()
        if decision == "edit" and (not text or text == q.text.strip()):
            raise InputError("edit: write the new wording (it must differ from the query)")
        row = {"query_id": q.query_id, "parent_id": q.parent_id, "text": q.text, "decision": decision,
               "edited_text": text if decision == "edit" else "", "reviewer_note": form.get("note", "").strip()}
        counts = self.writer.submit(self.index.apply_review, [row])
        self.catalog.reload_chunks([q.parent_id])
        out = {"ok": True, "decision": decision, "query_id": q.query_id, "counts": counts}
        if decision == "edit":
            out.update(new_query_id=edited(q, text).query_id, text=text)
        return out

    def approve_chunk(self, form: dict[str, list[str]]) -> dict[str, Any]:
        ids = [i for i in form.get("query_id", []) if i]
        if not ids:
            raise InputError("approve chunk: no query ids given")
        stored = [q for q in reviewing.stored_queries(self.index, ids) if not q.review_status.by_person]
        parents = {q.parent_id for q in stored}
        if len(parents) > 1:
            raise InputError("approve chunk: the queries belong to more than one chunk")
        rows = [{"query_id": q.query_id, "parent_id": q.parent_id, "text": q.text, "decision": "approve"}
                for q in stored]
        counts = self.writer.submit(self.index.apply_review, rows) if rows else {"rows": 0, "approved": 0}
        self.catalog.reload_chunks(parents)
        return {"ok": True, "approved": [q.query_id for q in stored], "counts": counts}

    # ---- search playground -------------------------------------------------------------------------------
    def search(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        k = _int(request.query_params.get("k"), 10, 1, MAX_K)
        hits, took = [], None
        if text:
            self.writer.flush()  # the lexical leg must see the decisions made so far
            started = time.perf_counter()
            hits = self.index.query(text, k=k)
            took = round((time.perf_counter() - started) * 1000, 1)
        view = [{"hit": h, "html": highlight(h.text, [text]),
                 "legs": sorted(h.legs.items(), key=lambda kv: kv[1].rank)} for h in hits]
        return self.render("search.html", page="search", q=text, k=k, hits=view, took_ms=took,
                           recorded=request.query_params.get("recorded", ""))

    def record_failure(self, form: dict[str, str]) -> dict[str, Any]:
        text = form.get("query", "").strip()
        chunk_id = form.get("chunk_id", "").strip()
        if not text:
            raise InputError("feedback: the failed query text is empty")
        if not chunk_id:
            raise InputError("feedback: name the chunk that should have answered")
        try:
            chunk, _ = reviewing.show(self.index, chunk_id)
        except InputError as exc:
            raise InputError(f"feedback: {exc}") from None
        doc_id = (chunk.get("metadata") or {}).get("doc_id") or None
        fid = self.index.record_feedback(text, "flagged_wrong", chunk_id=chunk_id, doc_id=doc_id,
                                         session_id="review-page")
        return {"ok": True, "feedback_id": fid, "query": text, "chunk_id": chunk_id}

    # ---- feedback ----------------------------------------------------------------------------------------
    def feedback(self, request: Request) -> Response:
        collection = self.index.files.collection
        with self.index.feedback_store() as fb:
            records = [r.to_dict() for r in fb.list(collection)]
            rounds = fb.rounds(collection, with_summary=True)
        for r in rounds:
            r["items"] = (r.pop("summary") or {}).get("items", [])
        review = [r for r in records if r.get("note") == "needs_review"]
        return self.render("feedback.html", page="feedback", records=list(reversed(records)),
                           rounds=list(reversed(rounds)), needs_review=review)

    # ---- diversity ---------------------------------------------------------------------------------------
    def diversity(self, request: Request) -> Response:
        self.catalog.refresh()
        with self._diversity_lock:  # one computation at a time: it reads every vector
            cached = self._diversity
            if cached is None or cached[0] != self.catalog.version:
                cached = self._diversity = (self.catalog.version, self.index.diversity(m=3))
        rep = cached[1]
        docs = self.catalog.doc_coverage(m=3)
        figs = diversity_charts(rep, docs)
        return self.render("diversity.html", page="diversity", rep=rep, charts=figs, docs=docs[:25],
                           docs_total=len(docs))


def diversity_charts(rep: dict, docs: list[dict]) -> list:
    kinds = sorted(rep.get("by_kind", {}).items(), key=lambda kv: -kv[1])
    personas = rep.get("personas", {})
    types = sorted(rep.get("query_types", {}).get("counts", {}).items(), key=lambda kv: -kv[1])
    coverage = [(f"chunks with ≥ {c['m']} quer{'y' if c['m'] == 1 else 'ies'}", c["share"])
                for c in rep.get("coverage", [])]
    mean_persona = (sum(p["queries"] for p in personas.values()) / len(personas)) if personas else 0
    out = [charts.bar_chart(kinds, "Queries per kind")]
    if personas:  # a generator run without personas has none to compare
        out += [charts.bar_chart([(p, v["queries"]) for p, v in personas.items()], "Queries per persona",
                                 low_below=mean_persona / 2),
                charts.bar_chart([(p, v["chunk_share"]) for p, v in personas.items()], "Chunks each persona covers",
                                 value_format="{:.0%}", max_value=1.0, low_below=0.5)]
    out += [
        charts.bar_chart(types, "Query types (by opening words)"),
        charts.bar_chart([("distinct-1", rep.get("distinct_1", 0.0)), ("distinct-2", rep.get("distinct_2", 0.0))],
                         "Distinct n-grams (share of all)", value_format="{:.2f}", max_value=1.0),
        charts.bar_chart(coverage, "Coverage of chunks", value_format="{:.0%}", max_value=1.0, low_below=0.8),
        charts.bar_chart([(t["topic"], t["covered_share"]) for t in rep.get("topics", [])[:25]],
                         "Least covered topics (k-means over chunks; share with ≥ 3 queries)",
                         value_format="{:.0%}", max_value=1.0, low_below=0.5),
        charts.bar_chart([(d["doc_id"], d["share"]) for d in docs[:25]],
                         "Least covered documents (share of chunks with ≥ 3 queries)", value_format="{:.0%}",
                         max_value=1.0, low_below=0.5),
    ]
    return out


# ---- request plumbing ----------------------------------------------------------------------------------------
def _qs(params: dict | None = None, **changes: Any) -> str:
    data = {**(params or {}), **changes}
    return urlencode({k: v for k, v in data.items() if v not in (None, "")})


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value))) if value else default
    except ValueError:
        return default


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _safe_next(target: str | None, default: str) -> str:
    """Only a path on this server: never "//host" or "scheme:" (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


async def _read_form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError("the form is too large")
    ctype = request.headers.get("content-type", "")
    if body and not ctype.startswith("application/x-www-form-urlencoded"):
        raise InputError("send the form as application/x-www-form-urlencoded")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def create_app(index, token: str | None = None, *, loopback_only: bool = True, csrf: str | None = None,
               writer_idle: float = 20.0) -> Starlette:
    """The review app over `index`. With a token, every request must carry it (see security.py); with
    loopback_only, requests must name a loopback host. serve() sets both from the address it binds."""
    state = ReviewApp(index, token, csrf, writer_idle)

    def page(handler):
        def endpoint(request: Request) -> Response:
            try:
                return add_headers(handler(request))
            except RagAugmentError as exc:
                status = 503 if isinstance(exc, StoreError) else 400
                return add_headers(state.error(request, str(exc), status))
        return endpoint

    def action(handler, multi: bool = False, back: str = "/queue"):
        async def endpoint(request: Request) -> Response:
            try:
                form = await _read_form(request)
            except InputError as exc:
                return add_headers(PlainTextResponse(str(exc) + "\n", 400))
            flat = {k: v[-1] for k, v in form.items()}
            refused = check_post(request, flat, state.csrf)
            if refused is not None:
                return add_headers(refused)
            try:
                result = await run_in_threadpool(handler, form if multi else flat)
            except RagAugmentError as exc:
                status = 503 if isinstance(exc, StoreError) else 400
                return add_headers(await run_in_threadpool(state.error, request, str(exc), status))
            if _wants_json(request):
                return add_headers(JSONResponse(result))
            target = _safe_next(flat.get("next"), back)
            if "feedback_id" in result:
                target += ("&" if "?" in target else "?") + _qs(recorded=result["feedback_id"])
            return add_headers(RedirectResponse(target, 303))
        return endpoint

    routes = [
        Route("/", lambda request: RedirectResponse("/queue", 303)),
        Route("/queue", page(state.queue)),
        Route("/review", action(state.decide), methods=["POST"]),
        Route("/review/chunk", action(state.approve_chunk, multi=True), methods=["POST"]),
        Route("/search", page(state.search)),
        Route("/feedback", page(state.feedback)),
        Route("/feedback/record", action(state.record_failure, back="/search"), methods=["POST"]),
        Route("/diversity", page(state.diversity)),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(state.writer.close)  # the last batch's lexical rebuild happens here

    app = Starlette(routes=routes, middleware=[Middleware(Guard, token=token, loopback_only=loopback_only)],
                    lifespan=lifespan)
    app.state.review = state
    return app
