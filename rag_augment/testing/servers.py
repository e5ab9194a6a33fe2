"""A scripted OpenAI-compatible chat server on 127.0.0.1: the real HTTP client, retries and concurrency of
OpenAIBackend meet a real socket, while the test decides every answer."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (request number from 0, JSON body, request headers) -> (status, response headers, body, delay in seconds)
Script = Callable[[int, dict, Any], tuple[int, dict[str, str], Any, float]]


def free_port() -> int:
    """A port nothing listens on now (for a server the test starts, or to test an unreachable one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_reply(content: str | None, finish: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    """A chat.completion body as OpenAI sends it."""
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        msg["refusal"] = refusal
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


class FakeOpenAIServer:
    """Answers each POST with script(n, body, headers); records request count, peak concurrency, the auth header
    and body of every request. A bytes body is sent as is (to simulate a proxy's HTML error page)."""

    def __init__(self, script: Script):
        self.script, self.count, self.inflight, self.max_inflight = script, 0, 0, 0
        self.auth: list[str] = []
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with fake.lock:
                    n = fake.count
                    fake.count += 1
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                    fake.auth.append(self.headers.get("authorization") or self.headers.get("api-key") or "")
                    fake.bodies.append(body)
                try:
                    status, headers, payload, delay = fake.script(n, body, self.headers)
                    time.sleep(delay)
                    with fake.lock:  # done before replying: the client may send its next request at once
                        fake.inflight -= 1
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @classmethod
    def answering(cls, answer: Callable[[list[dict[str, str]]], str]) -> FakeOpenAIServer:
        """A well-behaved server: 200 with answer(messages) as the assistant's text, at once."""
        return cls(lambda n, body, headers: (200, {}, chat_reply(answer(body["messages"])), 0.0))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
