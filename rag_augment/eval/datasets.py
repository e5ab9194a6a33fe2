"""Labelled retrieval sets: BEIR layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and sample_kb's layout
(docs/ folder, document id = relative path under docs/). Plus a deterministic subset builder.

Qrels may be graded (any integer score); a score <= 0 marks a judged but non-relevant document. A query with no
relevant document in a split is not evaluated in that split (BEIR does the same).
"""
from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag_augment.chunking import load_documents
from rag_augment.errors import InputError
from rag_augment.types import Document

Qrels = dict[str, dict[str, int]]  # query id -> doc id -> grade
SAMPLE_KB = "sample_kb"


@dataclass
class EvalDataset:
    name: str
    documents: list[Document]
    queries: dict[str, str]                                   # query id -> text
    qrels: dict[str, Qrels] = field(default_factory=dict)     # split -> qrels
    source: str = ""
    notes: dict = field(default_factory=dict)                 # how it was built (subset spec, ...)

    def split(self, name: str) -> Qrels:
        """Qrels of one split, only queries with at least one relevant (grade > 0) document."""
        if name not in self.qrels:
            raise InputError(f"data set {self.name!r} has no split {name!r}; it has {sorted(self.qrels) or 'none'}")
        return {q: rels for q, rels in self.qrels[name].items() if any(g > 0 for g in rels.values())}

    def split_queries(self, name: str) -> dict[str, str]:
        return {q: self.queries[q] for q in sorted(self.split(name))}

    @property
    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]


# ---------------------------------------------------------------- loading

def resolve_dataset_path(spec: str | Path) -> Path:
    """'sample_kb' means the repository's sample_kb/ (from the working folder or beside the package)."""
    path = Path(spec)
    if str(spec) == SAMPLE_KB and not path.exists():
        path = Path(__file__).resolve().parents[2] / SAMPLE_KB
    if not path.is_dir():
        raise InputError(f"data set: {spec} is not a folder (give a BEIR folder or 'sample_kb')")
    return path


def load_dataset(spec: str | Path, title_in_text: bool = True, docs_folder: str | Path | None = None
                 ) -> EvalDataset:
    """A BEIR folder (corpus.jsonl) or a folder with docs/ (sample_kb layout), with queries.jsonl and qrels/.

    title_in_text: BEIR convention (and the shared SciFact experiment): a document's title is part of the text that
    is embedded and matched ("title. text"); the Document keeps its title as well.
    docs_folder: another folder of documents to search instead (ids = relative paths), e.g. the whole handbook that
    sample_kb was cut from: the labelled documents must be in it, the rest are unlabelled distractors."""
    root = resolve_dataset_path(spec)
    if docs_folder is not None:
        docs, _ = load_documents(docs_folder)
    elif (root / "corpus.jsonl").exists():
        docs, _ = load_documents(root / "corpus.jsonl")
        if title_in_text:
            docs = [_fold_title(d) for d in docs]
    elif (root / "docs").is_dir():
        docs, _ = load_documents(root / "docs")
    else:
        raise InputError(f"data set {root}: neither corpus.jsonl nor a docs/ folder")
    if not docs:
        raise InputError(f"data set {root}: no documents")
    queries = read_queries(root / "queries.jsonl")
    doc_ids = {d.doc_id for d in docs}
    qrels = {p.stem: read_qrels(p, queries, doc_ids) for p in sorted((root / "qrels").glob("*.tsv"))}
    if not qrels:
        raise InputError(f"data set {root}: no qrels/<split>.tsv files")
    return EvalDataset(name=root.name, documents=docs, queries=queries, qrels=qrels, source=str(root),
                       notes={"title_in_text": title_in_text and (root / "corpus.jsonl").exists(),
                              **({"docs_folder": str(docs_folder)} if docs_folder else {})})


def _fold_title(doc: Document) -> Document:
    """"title. text", verbatim even when the title ends with a period: the shared SciFact experiment embedded
    exactly that, and the pool cross-check reproduces its figures only with the same text."""
    title = doc.title.strip()
    if not title or doc.text == title:
        return doc
    return replace(doc, text=f"{title}. {doc.text}")


def read_queries(path: Path) -> dict[str, str]:
    if not path.exists():
        raise InputError(f"{path}: missing (one JSON object per line: {{\"_id\": ..., \"text\": ...}})")
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: line {lineno}: not valid JSON ({exc})") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str) or rec.get("_id") in (None, ""):
                raise InputError(f"{path}: line {lineno}: expected {{\"_id\": ..., \"text\": \"...\"}}")
            qid = str(rec["_id"])
            if qid in out:
                raise InputError(f"{path}: line {lineno}: query id {qid!r} appears twice")
            out[qid] = rec["text"]
    return out


def read_qrels(path: Path, queries: Mapping[str, str], doc_ids: set[str]) -> Qrels:
    """Tab-separated with a header line: query-id, corpus-id, score (an integer grade)."""
    out: Qrels = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if [h.strip().lower() for h in header[:2]] != ["query-id", "corpus-id"]:
            raise InputError(f"{path}: line 1: expected the header 'query-id<TAB>corpus-id<TAB>score', "
                             f"got {header!r}")
        for lineno, line in enumerate(f, 2):
            if not line.strip():
                continue
            qid, did, grade = _qrels_row(line, path, lineno)
            if qid not in queries:
                raise InputError(f"{path}: line {lineno}: query id {qid!r} is not in queries.jsonl")
            if did not in doc_ids:
                raise InputError(f"{path}: line {lineno}: document id {did!r} is not in the corpus")
            out.setdefault(qid, {})[did] = grade
    return out


def _qrels_row(line: str, path: Path, lineno: int) -> tuple[str, str, int]:
    cols = line.rstrip("\n").split("\t")
    if len(cols) != 3:
        raise InputError(f"{path}: line {lineno}: expected 3 tab-separated columns, got {len(cols)}")
    try:
        grade = int(cols[2])
    except ValueError as exc:
        raise InputError(f"{path}: line {lineno}: score {cols[2]!r} is not an integer") from exc
    return cols[0].strip(), cols[1].strip(), grade


# ---------------------------------------------------------------- subsets

def restrict(ds: EvalDataset, doc_ids: Sequence[str], query_ids: Sequence[str] | None = None,
             note: dict | None = None) -> EvalDataset:
    """The data set cut to these documents (in corpus order) and, optionally, these queries."""
    keep_docs = set(doc_ids)
    missing = keep_docs - set(ds.doc_ids)
    if missing:
        raise InputError(f"subset: {len(missing)} document ids are not in {ds.name}, e.g. {sorted(missing)[0]!r}")
    keep_q = set(query_ids) if query_ids is not None else set(ds.queries)
    qrels = {split: {q: {d: g for d, g in rels.items() if d in keep_docs} for q, rels in table.items() if q in keep_q}
             for split, table in ds.qrels.items()}
    return EvalDataset(name=ds.name, documents=[d for d in ds.documents if d.doc_id in keep_docs],
                       queries={q: t for q, t in ds.queries.items() if q in keep_q}, qrels=qrels, source=ds.source,
                       notes={**ds.notes, **(note or {})})


def build_subset(ds: EvalDataset, splits: Sequence[str], n_docs: int, seed: int = 0,
                 hard: Mapping[str, Sequence[str]] | None = None, hard_per_query: int = 0) -> EvalDataset:
    """Every document relevant to a query of `splits`, then the top `hard_per_query` documents of each such query
    in the given ranking (hard distractors, optional), then seeded random distractors up to n_docs. Deterministic:
    the same inputs give the same subset on any machine. Queries of other splits are dropped."""
    queries = sorted({q for s in splits for q in ds.split(s)})
    chosen = {d for s in splits for q, rels in ds.split(s).items() for d, g in rels.items() if g > 0}
    n_relevant = len(chosen)
    for q in queries:
        chosen.update(list((hard or {}).get(q, ()))[:hard_per_query])
    n_hard = len(chosen) - n_relevant
    rest = sorted(set(ds.doc_ids) - chosen)
    need = max(0, n_docs - len(chosen))
    chosen.update(random.Random(seed).sample(rest, min(need, len(rest))))
    note = {"subset": {"splits": list(splits), "n_docs": len(chosen), "requested": n_docs, "seed": seed,
                       "relevant": n_relevant, "hard": n_hard, "random": len(chosen) - n_relevant - n_hard}}
    sub = restrict(ds, sorted(chosen), queries, note)
    sub.qrels = {s: t for s, t in sub.qrels.items() if s in splits}
    return sub


def bm25_top_documents(ds: EvalDataset, query_ids: Sequence[str], k: int) -> dict[str, list[str]]:
    """Each query's top k documents by BM25 over the whole corpus: hard distractors for build_subset."""
    import tempfile

    from rag_augment.lexical import LexicalIndex

    with tempfile.TemporaryDirectory() as tmp:  # built in memory; the folder is only named, never written
        lex = LexicalIndex(tmp)
        lex.build(ds.doc_ids, [d.text for d in ds.documents], [], [], [])
        return {q: [d for d, _ in lex.search("chunks", ds.queries[q], k)] for q in query_ids}
