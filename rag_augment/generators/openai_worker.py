"""The OpenAI back end run in a child process, so that the API key never enters the indexing process's memory.

Why a process: a new Chroma HNSW segment writes its whole preallocated buffer to disk (hnswlib's
initPersistentIndex), unwritten bytes included, and those bytes can be recycled memory holding whatever the HTTP
client freed: request headers carrying the key, an error body that echoes it (a CI run found key fragments in
data_level0.bin). Masking text cannot reach freed memory; a process boundary can.
The child reads the key from the environment it inherits, talks to the endpoint, and masks every fragment of the key
in what it sends back, so the parent only ever holds masked text.

Protocol: one JSON line per message on the child's stdin and stdout. The first line is the back end's options; each
later line is a batch ({"conversations", "params"}) answered by {"completions"} or {"failed"}.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, Any

from rag_augment.errors import ConfigError
from rag_augment.generators.base import Completion, SamplingParams
from rag_augment.generators.openai_compat import ERROR_CHARS, OpenAIBackend, check_options

LEAK_MARK = "[api key masked]"  # what the child puts where a completion carried the key; the quality gate drops it
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from rag_augment.generators.openai_worker import main; main()"


class WorkerError(RuntimeError):
    """The child process died or answered out of protocol."""


class IsolatedOpenAIBackend:
    """OpenAIBackend's options and behaviour (retries, timeouts, masked errors), with every request made in a child
    process started on the first batch and kept for the next ones."""

    def __init__(self, model: str, base_url: str | None = None, **options: Any):
        """The same options as OpenAIBackend, checked here so that a bad one fails before any child starts."""
        bound = inspect.signature(OpenAIBackend).bind(model, base_url, **options)  # TypeError on an unknown option
        bound.apply_defaults()
        o = bound.arguments
        check_options(model, base_url, o["api_key_env"], o["timeout"], o["max_retries"], o["concurrency"],
                      o["azure_api_version"])
        self.model_id, self.model_hash, self.base_url = model, o["model_hash"], base_url
        self.concurrency, self.timeout, self.max_retries = o["concurrency"], float(o["timeout"]), o["max_retries"]
        self._options = dict(o)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"IsolatedOpenAIBackend(model={self.model_id!r}, base_url={self.base_url!r}, "
                f"concurrency={self.concurrency})")

    def leaks_secret(self, text: str) -> bool:
        """The child has already masked the key; the quality gate drops every line carrying the mark."""
        return LEAK_MARK in text

    def complete_batch(self, conversations: list[list[dict[str, str]]], params: SamplingParams) -> list[Completion]:
        if not conversations:
            return []
        with self._lock:
            try:
                reply = self._exchange({"conversations": conversations, "params": dataclasses.asdict(params)})
            except WorkerError as exc:
                self.close()  # the next batch starts a fresh child
                return [Completion(text="", error=f"WorkerError: {exc}") for _ in conversations]
        if "failed" in reply:
            return [Completion(text="", error=str(reply["failed"])) for _ in conversations]
        completions = [Completion(**c) for c in reply["completions"]]
        if len(completions) != len(conversations):
            raise WorkerError(f"the OpenAI worker answered {len(completions)} of {len(conversations)} requests")
        return completions

    def close(self) -> None:
        """Stop the child (it also stops when this object is collected or the interpreter exits)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc)

    def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc or self._start()
        _send(proc.stdin, message)
        return _receive(proc)

    def _start(self) -> subprocess.Popen[bytes]:
        # The child imports this very package, wherever the host found it. It inherits the environment as is: a
        # copy made here would put the key's value in this process's memory.
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, _PACKAGE_ROOT], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        weakref.finalize(self, _stop, proc)
        _send(proc.stdin, self._options)
        ready = _receive(proc)
        if "config_error" in ready:
            _stop(proc)
            raise ConfigError(str(ready["config_error"]))
        self._proc = proc
        return proc


def _send(stream: IO[bytes] | None, message: dict[str, Any]) -> None:
    try:
        assert stream is not None
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()
    except (BrokenPipeError, OSError) as exc:
        raise WorkerError(f"the OpenAI worker process is gone ({type(exc).__name__})") from None


def _receive(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise WorkerError(f"the OpenAI worker process exited (code {proc.poll()})")
    try:
        return dict(json.loads(line))
    except ValueError:
        raise WorkerError("the OpenAI worker answered something that is not one JSON line") from None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of input: the child's loop ends
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            try:
                stream.close()
            except OSError:  # unflushed input to a child that is gone
                pass


# ---- the child --------------------------------------------------------------------------------------------------

def _masked(backend: OpenAIBackend, comp: Completion) -> dict[str, Any]:
    out = dataclasses.asdict(comp)
    out["text"] = backend._secret.mask(comp.text, LEAK_MARK)
    out["error"] = backend._secret.mask(comp.error)
    return out


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    options = json.loads(stdin.readline() or b"{}")
    try:
        backend = OpenAIBackend(**options)
    except (ConfigError, TypeError) as exc:
        _send(stdout, {"config_error": str(exc)})
        return
    _send(stdout, {"ready": True})
    for line in stdin:
        try:
            batch = json.loads(line)
            comps = backend.complete_batch(batch["conversations"], SamplingParams(**batch["params"]))
            reply: dict[str, Any] = {"completions": [_masked(backend, c) for c in comps]}
        except Exception as exc:  # noqa: BLE001 - report, masked, and keep serving
            detail = backend._secret.mask(" ".join(str(exc).split()))[:ERROR_CHARS]
            reply = {"failed": f"{type(exc).__name__}: {detail}"}
        _send(stdout, reply)


def main() -> None:
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the protocol
    serve(sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    main()
