"""Who may use the review page, and which requests may write.

- Bound to loopback: only requests whose Host is a loopback name are served, so a web page elsewhere cannot reach
  the server through DNS rebinding. Bound anywhere else: every request must carry the access token (from the URL
  printed at start, then an HttpOnly cookie, or an `Authorization: Bearer` header).
- Every write is a POST carrying the page's CSRF token (form field `csrf` or header `X-CSRF-Token`), and a POST
  whose Origin names another site is refused. GET never writes.
- The token never reaches logs: the access log is off, and the token leaves the address bar by a redirect.
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "rag_review_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# No inline script or style anywhere: the page's own static files only. Inline SVG charts use attributes.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same(a: str | None, b: str) -> bool:
    return bool(a) and hmac.compare_digest(str(a).encode(), b.encode())


def _host_name(host_header: str) -> str:
    """The name part of a Host header ("127.0.0.1:8765" -> "127.0.0.1", "[::1]:80" -> "::1")."""
    return urlsplit("//" + host_header).hostname or ""


class Guard:
    """ASGI middleware: host check (loopback binding) and token check (when a token is set)."""

    def __init__(self, app, token: str | None, loopback_only: bool):
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refused = self.check(request)
        if refused is not None:
            return await refused(scope, receive, send)
        return await self.app(scope, receive, send)

    def check(self, request: Request) -> Response | None:
        if self.loopback_only and not is_loopback(_host_name(request.headers.get("host", ""))):
            return PlainTextResponse("refused: this review server answers only on 127.0.0.1 / localhost\n", 421)
        if not self.token:
            return None
        auth = request.headers.get("authorization", "")
        if same(request.cookies.get(TOKEN_COOKIE), self.token) or \
                (auth.lower().startswith("bearer ") and same(auth[7:].strip(), self.token)):
            return None
        if request.method == "GET" and same(request.query_params.get("token"), self.token):
            # Trade the token in the address for a cookie, so it leaves the address bar and history.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            resp = RedirectResponse(request.url.path + ("?" + urlencode(rest) if rest else ""), 303)
            resp.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return resp
        return PlainTextResponse("refused: this review server needs its access token; open the address it "
                                 "printed at start (…/?token=…)\n", 401)


def check_post(request: Request, form: dict[str, str], csrf: str) -> Response | None:
    """None when a POST may write; else the refusal."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        return PlainTextResponse("refused: cross-site request\n", 403)
    if not (same(form.get("csrf"), csrf) or same(request.headers.get("x-csrf-token"), csrf)):
        return PlainTextResponse("refused: missing or wrong CSRF token; reload the page\n", 403)
    return None


def add_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
