"""`rag-augment review serve`: a local web page to review synthetic queries, try searches and record failures.

Needs the "web" extra (Starlette, Jinja2, uvicorn). `create_app(index, token)` is the ASGI app; `serve(index)`
runs it on 127.0.0.1:8765 until interrupted. Binding elsewhere than loopback requires an access token (one is
generated and announced when none is given).
"""
from __future__ import annotations

from rag_augment.web.server import create_app, make_server, serve

__all__ = ["create_app", "make_server", "serve"]
