"""The lexical leg: BM25 (bm25s, Snowball stemming) over chunk text and over synthetic queries.

Three indexes are derived from what Chroma holds: chunk text alone, synthetic queries alone (hits collapse to
their parents), and chunk text with its queries appended (Doc2Query style). Once users' queries (real, feedback)
are indexed, a fourth holds chunk text with its generated queries only: the guard on users' queries
(rag_augment.search.legs) scores a chunk by it when none of its users' queries is close to the query. Chroma is
the source of truth; the lexical index is rebuilt from it and swapped in atomically, so a crash leaves the old or
the new index, never a mix. bm25s has no incremental update; rebuilding is a few seconds per 100k short documents.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag_augment.text import Tokenizer
from rag_augment.types import FEEDBACK, GENERATED_KINDS, REAL

LEGS = ("chunks", "queries", "doc2query")
SYNTHETIC_DOC2QUERY = "doc2query_synthetic"  # built and saved only when users' queries are indexed
# a query id ends in "::" + the first letter of its kind (rag_augment.indexer.query_id): users' kinds by that letter
USER_LETTERS = frozenset(k[:1] for k in (REAL, FEEDBACK))
assert not USER_LETTERS & {k[:1] for k in GENERATED_KINDS}, "query kinds must differ in their first letter"


def is_user_query(query_id: str) -> bool:
    return query_id.rpartition("::")[2][:1] in USER_LETTERS


def is_real_query(query_id: str) -> bool:
    return query_id.rpartition("::")[2][:1] == REAL[:1]


class Bm25:
    """One bm25s index plus the ids of its rows."""

    def __init__(self, model, ids: list[str]):
        self.model, self.ids = model, ids

    @classmethod
    def build(cls, ids: list[str], token_lists: list[list[str]]) -> Bm25:
        import bm25s

        model = bm25s.BM25()
        if ids:
            # an empty token list breaks bm25s' vocabulary; a placeholder token matches nothing real
            model.index([t or ["\x00"] for t in token_lists], show_progress=False)
        return cls(model, ids)

    def search(self, tokens: list[str], n: int) -> list[tuple[str, float]]:
        if not self.ids or n <= 0:
            return []
        vocab = self.model.vocab_dict
        known = [vocab[t] for t in tokens if t in vocab]
        if not known:
            return []
        scores = self.model.get_scores(known)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        if self.ids:
            self.model.save(str(folder), show_progress=False)
        (folder / "ids.json").write_text(json.dumps(self.ids))

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        import bm25s

        ids = json.loads((folder / "ids.json").read_text())
        model = bm25s.BM25.load(str(folder)) if ids else bm25s.BM25()
        return cls(model, ids)


class LexicalIndex:
    def __init__(self, folder: str | Path, tokenizer: Tokenizer | None = None):
        self.folder = Path(folder)
        self.tokenize = tokenizer or Tokenizer()
        self._legs: dict[str, Bm25] = {}
        self.query_parent: dict[str, str] = {}

    # ---- build ---------------------------------------------------------------------------------------------
    def build(self, chunk_ids: Sequence[str], chunk_texts: Sequence[str],
              query_ids: Sequence[str], query_texts: Sequence[str], query_parents: Sequence[str]) -> None:
        chunk_tokens = [self.tokenize(t) for t in chunk_texts]
        query_tokens = [self.tokenize(t) for t in query_texts]
        appended = {cid: list(toks) for cid, toks in zip(chunk_ids, chunk_tokens)}
        synthetic = {cid: list(toks) for cid, toks in zip(chunk_ids, chunk_tokens)}
        users = False
        for qid, parent, toks in zip(query_ids, query_parents, query_tokens):
            if parent in appended:
                appended[parent].extend(toks)
                if is_user_query(qid):
                    users = True
                else:
                    synthetic[parent].extend(toks)
        self._legs = {
            "chunks": Bm25.build(list(chunk_ids), chunk_tokens),
            "queries": Bm25.build(list(query_ids), query_tokens),
            "doc2query": Bm25.build(list(appended), list(appended.values())),
        }
        if users:
            self._legs[SYNTHETIC_DOC2QUERY] = Bm25.build(list(synthetic), list(synthetic.values()))
        self.query_parent = dict(zip(query_ids, query_parents))

    def save(self) -> None:
        """Write beside the old index, then swap directories: readers see old or new, never a mix. Callers hold
        the index's write lock; the temp folder is unique anyway, so a stray second writer cannot collide."""
        old = self.folder.with_name(self.folder.name + ".old")
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temps()
        tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=self.folder.name + ".new-"))
        try:
            for leg, index in self._legs.items():
                (tmp / leg).mkdir(parents=True)
                index.save(tmp / leg)
            (tmp / "parents.json").write_text(json.dumps(self.query_parent))
            (tmp / "COMPLETE").write_text("ok")
            shutil.rmtree(old, ignore_errors=True)
            if self.folder.exists():
                os.replace(self.folder, old)
            os.replace(tmp, self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def stale_temps(self) -> list[Path]:
        """Temp folders of a save that was killed before its swap (nothing else removes them)."""
        return [p for p in self.folder.parent.glob(glob.escape(self.folder.name) + ".new-*") if p.is_dir()]

    def remove_stale_temps(self) -> None:
        """Only under the index's write lock: then no save is running, so every temp folder is a dead one."""
        for tmp in self.stale_temps():
            shutil.rmtree(tmp, ignore_errors=True)

    def load(self) -> bool:
        """Load the saved index; False when there is none (or only a torn one). Never renames anything: a reader
        may run while a writer swaps folders, so it reads the current folder, else the previous one (left by a
        crash between the two renames of save(), or caught mid-swap), retrying briefly."""
        old = self.folder.with_name(self.folder.name + ".old")
        for attempt in range(3):
            for folder in (self.folder, old):
                if not (folder / "COMPLETE").exists():
                    continue
                try:
                    legs = {leg: Bm25.load(folder / leg) for leg in LEGS}
                    if (folder / SYNTHETIC_DOC2QUERY).is_dir():
                        legs[SYNTHETIC_DOC2QUERY] = Bm25.load(folder / SYNTHETIC_DOC2QUERY)
                    parents = json.loads((folder / "parents.json").read_text())
                except (OSError, ValueError):
                    continue  # swapped away while we read it
                if SYNTHETIC_DOC2QUERY not in legs and any(map(is_user_query, parents)):
                    return False  # saved before that leg existed: rebuilt from Chroma
                self._legs, self.query_parent = legs, parents
                return True
            time.sleep(0.05 * (attempt + 1))
        return False

    # ---- search ------------------------------------------------------------------------------------------
    def search(self, leg: str, text: str | list[str], n: int) -> list[tuple[str, float]]:
        """(id, bm25 score) best first; for the "queries" leg the ids are query ids (see query_parent). `text` may
        come tokenized already (self.tokenize), when several legs search one query."""
        index = self._legs.get(leg)
        if index is None and leg == SYNTHETIC_DOC2QUERY:
            index = self._legs.get("doc2query")  # no users' queries: the same documents
        if index is None:
            return []
        return index.search(self.tokenize(text) if isinstance(text, str) else text, n)

    def sizes(self) -> dict[str, int]:
        return {leg: len(idx.ids) for leg, idx in self._legs.items()}
