"""Running the review app: uvicorn on one address, a token when that address is not loopback."""
from __future__ import annotations

import socket
from collections.abc import Callable

from rag_augment.errors import ConfigError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def _need_extra():
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise ConfigError(f"the review page needs the web extra: pip install 'rag-augment[web]' ({exc})") from exc
    return uvicorn


def create_app(index, token: str | None = None, **options):
    """The ASGI app over `index` (see rag_augment.web.app.create_app for the options)."""
    _need_extra()
    from rag_augment.web.app import create_app as _create
    return _create(index, token, **options)


def address(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def make_server(index, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str | None = None,
                **options):
    """(uvicorn.Server, token): the server is not started; run() blocks, or set should_exit to stop it.
    Off loopback a token is required: one is generated when none is given."""
    from rag_augment.web.security import is_loopback, new_token

    uvicorn = _need_extra()
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--port must be a number from 0 to 65535, not {port!r}")
    loopback = is_loopback(host)
    if not loopback and not token:
        token = new_token()
    app = create_app(index, token, loopback_only=loopback, **options)
    # access_log off: the first request's address carries the token
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(config), token


def serve(index, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str | None = None,
          announce: Callable[[str], None] = print, **options) -> None:
    """Serve the review page until interrupted (Ctrl+C). `announce` receives the address to open (with the
    token, when there is one) -- the one place the token is shown."""
    server, token = make_server(index, host, port, token, **options)
    sock = bind(host, port)  # before the address is shown: a busy port must not receive the token
    for line in announcement(host, sock.getsockname()[1], token):
        announce(line)
    server.run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """The listening address, bound now (uvicorn would bind it only inside run(), after we printed it)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {address(host, port)}: {exc.strerror or exc} (another program may "
                          "hold the port: stop it or choose another with --port)") from None
    return sock


def announcement(host: str, port: int, token: str | None) -> list[str]:
    url = address(host, port) + "/"
    if not token:
        return [f"Review page: {url} (this machine only)", "Press Ctrl+C to stop."]
    return [f"Review page: {url}?token={token}",
            "Anyone with this address can review and change the index; share it only with reviewers.",
            "Press Ctrl+C to stop."]
