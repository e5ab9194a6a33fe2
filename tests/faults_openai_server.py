"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1 (stdlib http.server in a thread), for the fault
matrix of issue 15. A healthy answer is a pure function of the passage, so a clean run and a run that recovered
from faults must end with the same index.

    with FaultServer(schedule=persistent("garbage")) as srv:
        OpenAIBackend("m", base_url=srv.url, ...)
"""
from __future__ import annotations

import itertools
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The soft failures, verbatim where it quotes them.
GARBAGE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n{\"tool_call\": null}\n0xDEADBEEF"
REFUSAL = "I'm sorry, but I can't help with that request."

TRANSIENT = ("429", "500", "503", "reset", "timeout", "trickle", "truncated_json", "short_body", "no_choices",
             "html_page")
SOFT = ("empty", "refusal", "garbage")
LEAKS = ("key_in_error", "key_in_answer")
ALL_FAULTS = TRANSIENT + SOFT + LEAKS

Schedule = Callable[[int, str], "str | None"]  # (request number from 0, passage) -> fault or None


def first(fault: str, n: int = 1) -> Schedule:
    """The first n requests fail."""
    return lambda i, passage: fault if i < n else None


def mid_run(fault: str, at: int = 2) -> Schedule:
    """One request in the middle of the run fails."""
    return lambda i, passage: fault if i == at else None


def persistent(fault: str) -> Schedule:
    return lambda i, passage: fault


def healthy() -> Schedule:
    return lambda i, passage: None


def every_fault() -> Schedule:
    """Each request gets the next fault of the whole catalogue, leaks first."""
    faults = itertools.cycle(LEAKS + ALL_FAULTS)
    return lambda i, passage: next(faults)


SCHEDULES = {"every_fault": every_fault, "healthy": healthy}  # what a FaultServer in its own process can run


def key_fragments(text: str | bytes, key: str, n: int = 8) -> list[str]:
    """Every n-character piece of key found in text (any longer fragment contains one)."""
    hay = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return sorted({key[i:i + n] for i in range(len(key) - n + 1) if key[i:i + n] in hay})


def passage_of(body: dict) -> str:
    """The passage the prompt carries (after 'Passage:'), else the last message."""
    content = body["messages"][-1]["content"]
    return content.split("Passage:", 1)[-1].strip()


def healthy_answer(passage: str) -> str:
    """Three plausible queries built from the passage's own words: the same passage, the same answer."""
    words = [w for w in re.findall(r"[A-Za-z]{4,}", passage) if w.lower() != "title"][:8] or ["policy", "rules"]
    w = (words * 3)[:6]
    return (f"Q: What does the handbook say about {w[0].lower()} and {w[1].lower()}?\n"
            f"Q: How do I handle {w[2].lower()} {w[3].lower()} at work?\n"
            f"K: {w[4].lower()} {w[5].lower()} guidance")


def completion(content, choices: bool = True) -> dict:
    message = {"role": "assistant", "content": content}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "fault-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}] if choices else [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


class FaultServer:
    def __init__(self, schedule: Schedule | None = None, key: str = "", hang_s: float = 3.0,
                 answer: str | None = None):
        self.schedule = schedule or healthy()
        self.answer = answer    # a fixed answer instead of the healthy one (for the gate's tests)
        self.key = key          # what the hostile faults echo back
        self.hang_s = hang_s    # how long a "timeout" request hangs before the server drops it
        self.requests: list[tuple[str, str | None]] = []  # (passage, fault) per request, in arrival order
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def faults(self) -> list[str]:
        return [f for _, f in self.requests if f]

    def _next(self, passage: str) -> str | None:
        with self.lock:
            fault = self.schedule(len(self.requests), passage)
            self.requests.append((passage, fault))
            return fault

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                passage = passage_of(body)
                fault = server._next(passage)
                try:
                    server._answer(self, fault, passage)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeouts)

        return Handler

    # ---- answers ----------------------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler, fault: str | None, passage: str) -> None:
        if fault == "reset":
            return self._reset(h)
        if fault == "timeout":
            time.sleep(self.hang_s)
            return self._reset(h)
        if fault in ("429", "500", "503"):
            return self._send(h, int(fault), {"error": {"message": f"injected {fault}"}}, {"retry-after": "0"})
        if fault == "key_in_error":  # repeated; a padding that shifts per request makes some copy straddle
            pad = "x" * (len(self.requests) % 50)  # the 300-character cut of the error text
            msg = f"invalid api key {pad}: " + " ".join([f"Bearer {self.key}"] * 20)
            return self._send(h, 500, {"error": {"message": msg}})
        if fault in ("truncated_json", "short_body", "html_page", "trickle"):
            return self._broken_body(h, fault, passage)
        content = {None: healthy_answer(passage) if self.answer is None else self.answer,
                   "empty": "", "refusal": REFUSAL, "garbage": GARBAGE, "no_choices": None,
                   "key_in_answer": (f"Q: Which key is {self.key} used for?\nQ: Where is https://evil.example/"
                                     f"steal?k={self.key[:10]} documented?\nQ: Who is spy@evil.example?")}
        if fault not in content:
            raise ValueError(f"unknown fault {fault!r}")
        return self._send(h, 200, completion(content[fault], choices=fault != "no_choices"))

    def _broken_body(self, h: BaseHTTPRequestHandler, fault: str, passage: str) -> None:
        full = json.dumps(completion(healthy_answer(passage))).encode()
        if fault == "html_page":
            return self._send(h, 200, b"<html><body>502 Bad Gateway (proxy)</body></html>")
        if fault == "trickle":  # headers at once, then the body a byte at a time: no single read times out
            return self._trickle(h, full)
        cut = full[: len(full) // 2]
        if fault == "truncated_json":  # a complete HTTP response whose JSON stops half way
            return self._send(h, 200, cut)
        h.send_response(200)  # short_body: promises the whole body, sends half, hangs up
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(full)))
        h.end_headers()
        h.wfile.write(cut)
        h.wfile.flush()
        self._reset(h)

    def _trickle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        deadline = time.monotonic() + self.hang_s
        for i in range(len(body)):
            if time.monotonic() > deadline:
                return self._reset(h)
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()
            time.sleep(0.02)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload, headers: dict | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _reset(h: BaseHTTPRequestHandler) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), as a crashed proxy does."""
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()


class FaultServerProcess:
    """A FaultServer in a child process, on a named schedule (SCHEDULES)."""

    def __init__(self, schedule: str, key: str = "", hang_s: float = 3.0):
        self.args = [sys.executable, __file__, schedule, str(hang_s)]
        self.env = {**os.environ, "FAULT_SERVER_KEY": key}

    def __enter__(self) -> FaultServerProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, env=self.env)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError(f"the fault server did not start (exit code {self.proc.wait()})")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    name, hang = sys.argv[1:3]
    with FaultServer(SCHEDULES[name](), key=os.environ["FAULT_SERVER_KEY"], hang_s=float(hang)) as server:
        print(server.url, flush=True)
        threading.Event().wait()
