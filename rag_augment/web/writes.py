"""Every write the review page makes goes through one thread, in batches that share one lexical rebuild.

`AugmentIndex.apply_review` is the write path of `review apply`: it records the decisions in the review book
(so they survive re-indexing), then changes Chroma inside the index's write section, whose end rebuilds the
lexical index from Chroma. That rebuild reads every query and took 3.2 s on the 21,000-query handbook index --
far too slow to pay per keystroke, and a decision that arrives while it runs waits for it. The index's write
section is re-entrant and only the outermost one rebuilds, so this writer keeps one outer section open while a
reviewer is at work: each decision is durable (book fsynced, Chroma written) when its request returns, and the
lexical index is rebuilt once, when the reviewer has paused for `idle` seconds (long enough that reading a chunk
does not trigger it), after `max_open` seconds at most, before a search (which must see the decisions), and at
shutdown. A crash while the section is open leaves the index marked stale, and the next reader rebuilds it from
Chroma -- the same guarantee as the CLI. While the section is open, other writers to the same index home (the
CLI's `index`, `review apply`, `feedback apply`) wait for the index's lock and are refused after its timeout with
a message saying the index is being written.

The file lock behind the write section belongs to the thread that took it, so one thread does all the writing.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)
_STOP = object()


class BatchedWriter:
    def __init__(self, index, idle: float = 20.0, max_open: float = 300.0,
                 on_close: Callable[[str, str], None] | None = None):
        self.index = index
        self.on_close = on_close  # told the index versions a closed section went from and to
        self.idle = idle
        self.max_open = max_open
        self._jobs: queue.Queue = queue.Queue()
        self._section = None
        self._opened_at = 0.0
        self._version = ""
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="rag-augment-review-writer", daemon=True)
        self._thread.start()

    # ---- called from request threads ---------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(*args) on the writer thread inside the open write section; return its result or raise."""
        if self._stopped:
            raise RuntimeError("the review writer has stopped")
        fut: Future = Future()
        self._jobs.put((fn, args, fut, True))
        return fut.result()

    def flush(self) -> None:
        """End the open write section now (the lexical index is rebuilt before this returns)."""
        if self._stopped:
            return
        fut: Future = Future()
        self._jobs.put((self._close, (), fut, False))
        fut.result()

    @property
    def pending(self) -> bool:
        return self._section is not None

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._jobs.put(_STOP)
        self._thread.join(timeout=120)

    # ---- the writer thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            timeout = None
            if self._section is not None:
                timeout = max(0.0, min(self.idle, self._opened_at + self.max_open - time.monotonic()))
            try:
                job = self._jobs.get(timeout=timeout)
            except queue.Empty:
                self._close()
                continue
            if job is _STOP:
                self._close()
                return
            fn, args, fut, in_section = job
            try:
                if in_section:
                    self._open()
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting request, which reports it
                fut.set_exception(exc)

    def _open(self) -> None:
        if self._section is not None:
            return
        section = self.index.writing()
        section.__enter__()  # may raise StoreError: another process holds the index; the request says so
        self._section, self._opened_at, self._version = section, time.monotonic(), self.index.version

    def _close(self) -> None:
        section, self._section = self._section, None
        if section is None:
            return
        started = time.perf_counter()
        try:
            section.__exit__(None, None, None)
        except Exception:  # the index stays marked stale; the next reader rebuilds the lexical index
            log.exception("review page: rebuilding the lexical index failed; it is rebuilt on the next search")
        if self.on_close is not None:
            self.on_close(self._version, self.index.version)
        log.debug("review page: lexical index rebuilt in %.2f s", time.perf_counter() - started)
