"""Document ids that stay unique when several folders share one index.

A document's id is its path inside the folder indexed (a corpus record's own _id), as it always was. Only where
that id already belongs to another folder's document with other content does the newcomer get
"<folder name>/<path>" instead, so neither overwrites the other and no real query moves between them. The same
content under the same path (a moved or copied folder) is the same document: it keeps its id, chunks and queries,
and changes owner. The id a document got is kept with its chunks (metadata "doc_key": its path, when that differs
from its id), so it never changes while the document stays indexed, whatever later happens to the other folder.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rag_augment.chunking import ChunkingConfig, chunk_document, readable_name
from rag_augment.types import Chunk, Document


class DocIds:
    """The ids one source's documents have (or get) in an index whose chunks are `states`."""

    def __init__(self, states: dict[str, dict], source: str, label: str, chunking: ChunkingConfig | None = None):
        self.source, self.label, self.chunking = source, label or source[:8], chunking
        self.mine: dict[str, str] = {}  # path (doc key) -> doc id, of documents this source already holds
        self.others = others_content(states, source)
        for meta in states.values():
            doc_id = meta.get("doc_id")
            # chunks stored before sources were recorded count as this source's, as pruning has it
            if isinstance(doc_id, str) and meta.get("source") in (None, source):
                self.mine[meta.get("doc_key", doc_id)] = doc_id

    def assign(self, docs: list[Document]) -> list[Document]:
        """`docs` (ids = their keys) under their ids in this index; a renamed one records its key."""
        keys = {d.doc_id for d in docs}
        used = set(self.others) | set(self.mine.values())
        out = []
        for d in docs:
            doc_id = self.mine.get(d.doc_id) or (d.doc_id if self._same(d) else self._free(d.doc_id, used, keys))
            used.add(doc_id)
            out.append(d if doc_id == d.doc_id else
                       replace(d, doc_id=doc_id, metadata={**d.metadata, "doc_key": d.doc_id}))
        return out

    def _same(self, doc: Document) -> bool:
        """Whether another folder holds this very document (same path, same chunks)."""
        if doc.doc_id not in self.others:
            return False
        try:
            return content(chunk_document(doc, self.chunking)).get(doc.doc_id) == self.others[doc.doc_id]
        except (TimeoutError, RecursionError, UnicodeError):  # it will be skipped when chunked for real
            return False

    def _free(self, key: str, used: set[str], keys: set[str]) -> str:
        named = f"{self.label}/{key}"
        if key not in used:
            return key
        if named not in used and named not in keys:  # nor the plain id of another document of this run
            return named
        return f"{self.label}-{self.source[:8]}/{key}"


def folder_label(path: str | Path) -> str:
    """The name a folder's documents are prefixed with when their ids are taken: the folder's own name (a single
    file's folder)."""
    p = Path(path).resolve()
    return readable_name((p if p.is_dir() else p.parent).name)


def others_content(states: dict[str, dict], source: str) -> dict[str, set[str]]:
    """doc id -> the content hashes of its chunks, for documents indexed from other sources than `source`."""
    out: dict[str, set[str]] = {}
    for meta in states.values():
        doc_id, src = meta.get("doc_id"), meta.get("source")
        if isinstance(doc_id, str) and src not in (None, source):
            out.setdefault(doc_id, set()).add(str(meta.get("content_hash", "")))
    return out


def content(chunks: list[Chunk]) -> dict[str, set[str]]:
    """doc id -> the content hashes of its chunks."""
    out: dict[str, set[str]] = {}
    for c in chunks:
        out.setdefault(c.doc_id, set()).add(c.content_hash)
    return out
