"""LlamaIndex adapters: add rag_augment's synthetic-query search to an app that already retrieves with LlamaIndex.

- `augment_nodes` / `augment_vector_store_index`: generate and store synthetic queries for the nodes an app already
  parsed; node ids become rag_augment parent ids, so every hit maps straight back to the app's own node.
- `QueryAugmentPostprocessor`: after any retriever, search the synthetic-query vectors (and the other legs of the
  fusion profile), add the parent chunks the retriever missed, and re-rank by rag_augment's fusion, in which the
  retriever's own ranking is one more leg ("base").
- `RagAugmentRetriever`: a LlamaIndex retriever over an `AugmentIndex`, for apps that start from scratch.
- Both take `rerank=True`: the fused top-N (20 by default) is reranked by the index's trained reranker
  (`rag-augment train`, rag_augment.rerank) before the top k are returned; the explanation gains a "rerank" leg.
- `RagAugmentEmbedding`: rag_augment's embedder (the packaged MiniLM) as a LlamaIndex embed model, so the app and
  rag_augment share one model. `ChatBackendLLM` / `local_llm`: the local GGUF model for answer synthesis.

Async, honestly: the embedder (sentence-transformers), the Chroma client and BM25 are synchronous libraries. The
async methods run each blocking step in a worker thread (asyncio.to_thread) and await it, so the event loop stays
free. Within one query the dense legs (embedding, two Chroma searches) and the lexical legs run in two threads at
once; concurrent queries overlap as far as those libraries release the GIL (torch, Chroma's Rust core and numpy do
for their heavy work). Fusion is pure Python and runs on the loop (well under a millisecond).

Every returned node carries an explanation under metadata["rag_augment"] (legs with rank and score, matched
synthetic queries, "added": not among the base retriever's nodes, so always true from RagAugmentRetriever),
excluded from the embed and LLM metadata. Scores are fusion scores
(RRF by default, about 0.01-0.05), not cosines: put score-cutoff postprocessors before this one.
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from rag_augment.augment_index import AugmentIndex
from rag_augment.chunking import clean_markup
from rag_augment.embedding import Embedder, SentenceTransformerEmbedder
from rag_augment.errors import ConfigError, GenerationError, InputError
from rag_augment.filters import FilterConfig
from rag_augment.fusion import LEG_NAMES, FusionProfile, Ranked
from rag_augment.generators.base import QueryGenerator, SamplingParams
from rag_augment.hashing import sha1_hex
from rag_augment.profiles import load_profile
from rag_augment.rerank.stage import RerankStage, load_reranker
from rag_augment.search.explain import fetch_matched_texts
from rag_augment.search.legs import LegResults
from rag_augment.search.pipeline import Plan, SearchPipeline, explained, restage
from rag_augment.types import Chunk, IndexReport

log = logging.getLogger(__name__)
EXPLAIN_KEY = "rag_augment"
_DENSE = ("dense", "chunk_dense", "query_dense")
_LEXICAL = ("chunk_lexical", "query_lexical", "doc2query_lexical")
# ChromaStore and indexer bookkeeping, not the app's metadata
_STORE_ONLY = ("content_hash", "position", "seeds", "gen_key", "soft_failures", "retry_wait", "filters_version")
_MARKUP = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
_HEADING = re.compile(r"^#{1,6}\s+(.+?)[\s#]*$", re.M)


# ---------------------------------------------------------------- app nodes <-> rag_augment chunks

def nodes_to_chunks(nodes: Sequence[BaseNode], clean: bool = True) -> list[Chunk]:
    """LlamaIndex nodes as rag_augment chunks: chunk id = node.node_id, doc id = node.ref_doc_id (or the node id).

    With `clean`, markdown/HTML markup (front matter, template tags, link URLs) is removed from the text rag_augment
    embeds, indexes and generates from; the node itself is kept verbatim in the chunk metadata (LlamaIndex's
    `_node_content` convention), so a node added at query time is exactly the app's node. Nodes with no words
    (images, empty nodes) are skipped: there is nothing to ask about them.
    """
    prepared = []
    for node in nodes:
        raw = node.get_content(MetadataMode.NONE)
        text, found_title = _clean(node, raw) if clean else (raw, "")
        if re.search(r"\w", text):
            prepared.append((node, node.ref_doc_id or node.node_id, raw, text, found_title))
    doc_titles: dict[str, str] = {}  # front matter or H1 sits in a document's first node only: share it
    for _node, doc, _, _, found in sorted(prepared, key=lambda p: getattr(p[0], "start_char_idx", None) or 0):
        if found:
            doc_titles.setdefault(doc, found)
    chunks: list[Chunk] = []
    positions: dict[str, int] = {}
    for node, doc, raw, text, _ in prepared:
        title = str(node.metadata.get("title") or doc_titles.get(doc)
                    or Path(str(node.metadata.get("file_name", ""))).stem)
        positions[doc] = positions.get(doc, -1) + 1
        meta = node_to_metadata_dict(node, remove_text=text == raw)
        for key in ("doc_id", "document_id", "ref_doc_id"):  # ChromaStore writes its own doc_id
            meta.pop(key, None)
        chunks.append(Chunk(chunk_id=node.node_id, doc_id=doc, text=text, content_hash=sha1_hex(text + "\x00" + title),
                            position=positions[doc], title=title, seeds=_seeds(node, text), metadata=meta))
    return chunks


def _clean(node: BaseNode, raw: str) -> tuple[str, str]:
    fmt = _format_of(node)
    if (getattr(node, "start_char_idx", None) or 0) > 0:
        raw = "\n" + raw  # front matter opens a document only: a later node opening with a '---' rule keeps its text
    return clean_markup(raw, fmt)


def _format_of(node: BaseNode) -> str:
    meta = node.metadata
    ext = Path(str(meta.get("file_name") or meta.get("file_path") or "")).suffix.lower()
    if ext in _MARKUP:
        return _MARKUP[ext]
    file_type = str(meta.get("file_type") or "")
    if "html" in file_type:
        return "html"
    return "markdown" if "markdown" in file_type or "header_path" in meta else "text"


def _seeds(node: BaseNode, text: str) -> tuple[str, ...]:
    """Section headings (MarkdownNodeParser's header_path, then headings inside the text): the known questions
    and topics generators paraphrase."""
    out: list[str] = []
    for heading in str(node.metadata.get("header_path", "")).split("/") + _HEADING.findall(text):
        h = re.sub(r"[*_`]+", "", heading).strip()
        if h and h.lower() not in (o.lower() for o in out):
            out.append(h)
    return tuple(out)


def node_from_store(chunk_id: str, text: str, metadata: dict[str, Any]) -> BaseNode:
    """A stored chunk as a LlamaIndex node: the app's own node when augment_nodes stored it, else a TextNode."""
    if "_node_content" in metadata:
        node = metadata_dict_to_node(metadata)
        if not node.get_content(MetadataMode.NONE):  # stored without its text (the text is the Chroma document)
            node.set_content(text)
        return node
    doc_id = metadata.get("doc_id") or ""
    meta = {k: v for k, v in metadata.items() if k not in _STORE_ONLY}
    rel = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)} if doc_id else {}
    return TextNode(id_=chunk_id, text=text, metadata=meta, relationships=rel)


def _with_explain(node: BaseNode, key: str, explain: dict[str, Any]) -> BaseNode:
    # A copy: retrievers backed by a docstore hand out shared node objects, which must not collect our notes.
    return node.model_copy(update={
        "metadata": {**node.metadata, key: explain},
        "excluded_embed_metadata_keys": list(dict.fromkeys([*node.excluded_embed_metadata_keys, key])),
        "excluded_llm_metadata_keys": list(dict.fromkeys([*node.excluded_llm_metadata_keys, key])),
    })


# ---------------------------------------------------------------- augment what the app already has

def augment_nodes(nodes: Sequence[BaseNode], index: AugmentIndex, generator: QueryGenerator, *,
                  clean: bool = True, replace_documents: bool = True, filters: FilterConfig | None = None,
                  progress=None, batch_size: int = 8) -> IndexReport:
    """Generate, filter and store synthetic queries for nodes an app parsed, keeping node ids as parent ids.

    Incremental like every rag_augment index: unchanged nodes are skipped, generations are cached by content.
    With `replace_documents`, pass all nodes of each document: a document's stored nodes that are not in `nodes`
    (an edited page's old chunks) leave the index with their queries. Without it, nodes are only added/updated.
    """
    chunks = nodes_to_chunks(nodes, clean=clean)
    seen: set[str] = set()
    for c in chunks:
        if c.chunk_id in seen:
            raise InputError(f"node id {c.chunk_id!r} occurs twice in the nodes to augment")
        seen.add(c.chunk_id)
    doc_ids = {c.doc_id for c in chunks} if replace_documents else set()
    return index.index_chunks(chunks, generator, filters=filters, progress=progress, batch_size=batch_size,
                              doc_ids=doc_ids)


def read_index_nodes(vector_store_index, page_size: int = 1000) -> list[BaseNode]:
    """The nodes of a VectorStoreIndex: from Chroma when it is built on ChromaVectorStore (which keeps the text and
    the whole node, so the docstore is normally empty), else from the docstore."""
    store = vector_store_index.vector_store
    if store.class_name() == "ChromaVectorStore":
        collection, nodes = store.client, []
        for offset in range(0, collection.count(), page_size):
            page = collection.get(include=["documents", "metadatas"], limit=page_size, offset=offset)
            nodes += [metadata_dict_to_node(m, text=d) for d, m in zip(page["documents"], page["metadatas"])]
        return nodes
    ids = list(vector_store_index.index_struct.nodes_dict.values())
    nodes = [n for n in vector_store_index.docstore.get_nodes(ids, raise_error=False) if n is not None]
    if not nodes:
        raise InputError(f"the index's docstore holds no nodes and its vector store ({store.class_name()}) is not "
                         "ChromaVectorStore: pass the app's nodes to augment_nodes instead")
    return nodes


def augment_vector_store_index(vector_store_index, index: AugmentIndex, generator: QueryGenerator,
                               **kwargs: Any) -> IndexReport:
    """augment_nodes over every node of a VectorStoreIndex (see read_index_nodes)."""
    return augment_nodes(read_index_nodes(vector_store_index), index, generator, **kwargs)


# ---------------------------------------------------------------- search and fusion shared by both adapters

@dataclass
class _Request:
    query: str
    embedding: np.ndarray | None
    base_nodes: dict[str, NodeWithScore]  # the base retriever's nodes by id (first occurrence)
    base: Ranked                          # their ranking, as one more fusion leg
    base_weight: float
    k: int
    add_missing: bool
    key: str


def _merge(parts: list[LegResults]) -> LegResults:
    out = LegResults()
    for part in parts:
        out.legs.update(part.legs)
        for parent, matches in part.matched.items():
            out.matched.setdefault(parent, []).extend(matches)
        out.query_text.update(part.query_text)
        out.child_rank.update(part.child_rank)
    return out


def _base_ranking(nodes: Sequence[NodeWithScore]) -> tuple[dict[str, NodeWithScore], Ranked]:
    first: dict[str, NodeWithScore] = {}
    for n in nodes:
        first.setdefault(n.node.node_id, n)  # a repeated id counts once, so metrics stay within [0, 1]
    scored = all(n.score is not None for n in first.values())
    # The order given is the ranking; scores matter only to the "weighted" method.
    return first, [(nid, float(n.score) if scored and n.score is not None else 1.0 / (i + 1))
                   for i, (nid, n) in enumerate(first.items())]


class _Search:
    def __init__(self, index: AugmentIndex, profile: FusionProfile | None, rerank: bool | RerankStage = False):
        """`rerank`: True loads the index's trained reranker on first use; a RerankStage is used as given."""
        self.index = index
        self.profile = profile or index.profile
        self._retriever: SearchPipeline | None = None
        self._lock = threading.Lock()
        self._rerank = rerank
        self._stage: RerankStage | None = rerank if isinstance(rerank, RerankStage) else None

    def stage(self) -> RerankStage | None:
        """None also when the index's reranker was switched off by its self-check: nodes rank as without it, and
        the reason is logged once, as `AugmentIndex.query(rerank=True)` does."""
        if self._rerank is False:
            return None
        with self._lock:
            if self._stage is None:
                self._stage = load_reranker(self.index)
                if self._stage.off_reason:
                    log.warning("%s", self._stage.off_reason)
            return None if self._stage.off_reason else self._stage

    def retriever(self) -> SearchPipeline:
        # index.retriever loads (or rebuilds) the lexical index on first use: once, even under concurrency
        with self._lock:
            retriever = self._retriever
            if retriever is None:
                retriever = self._retriever = self.index.retriever
            return retriever

    def legs(self, req: _Request) -> LegResults:
        return self.retriever().legs_for(req.query, embedding=req.embedding, profile=self.profile)

    async def alegs(self, req: _Request) -> LegResults:
        retriever = self._retriever if self._retriever is not None else await asyncio.to_thread(self.retriever)
        enabled = [leg for leg in LEG_NAMES if self.profile.leg_enabled(leg)]
        groups = [g for g in ([leg for leg in enabled if leg in _DENSE], [leg for leg in enabled if leg in _LEXICAL])
                  if g]
        parts = await asyncio.gather(*(asyncio.to_thread(retriever.legs.search, req.query, req.embedding,
                                                         self.profile, g) for g in groups))
        return _merge(list(parts))

    def plan(self, res: LegResults, req: _Request, stage: RerankStage | None = None) -> Plan:
        """The fused top k, the app's ranking as the leg "base"; with a reranker, the fused top max(k, top_n)."""
        extra = {"base": (req.base, req.base_weight)} if req.base else None
        return self.retriever().plan(res, self.profile, req.k, stage, extra,
                                     None if req.add_missing else req.base_nodes)

    def fetch(self, plan: Plan, res: LegResults, req: _Request, stage: RerankStage | None
              ) -> dict[str, dict[str, Any]]:
        """The blocking reads: text and metadata of added parents (of every candidate for a reranker, which scores
        the text rag_augment indexed), text of lexically matched queries."""
        fetch_matched_texts(self.index.store, res, [p for p, _ in plan.ranked])
        to_fetch = [p for p, _ in plan.ranked if stage is not None or p not in req.base_nodes]
        return self.index.store.get_chunks(to_fetch) if to_fetch else {}

    @staticmethod
    def rerank(plan: Plan, stored: dict[str, dict[str, Any]], req: _Request, stage: RerankStage | None) -> Plan:
        """Score the candidates (the stored text; a base node rag_augment never indexed: the node's own text),
        fuse with their fused score, keep the top k. Blocking: the model runs here."""
        if stage is None:
            return plan
        texts = {p: (stored[p].get("text") if p in stored else None) or
                 (req.base_nodes[p].node.get_content(MetadataMode.NONE) if p in req.base_nodes else "")
                 for p, _ in plan.ranked}
        return restage(plan, req.query, texts, stage, req.k)

    @staticmethod
    def build(plan: Plan, res: LegResults, stored: dict[str, dict[str, Any]], req: _Request) -> list[NodeWithScore]:
        out = []
        for hit in explained(plan, res, stored):
            if hit.chunk_id in req.base_nodes:
                node = req.base_nodes[hit.chunk_id].node
            elif hit.chunk_id in stored:
                node = node_from_store(hit.chunk_id, hit.text, hit.metadata)
            else:
                continue  # deleted from the store between the search and the fetch
            shown = hit.to_dict()
            explain = {"score": shown["score"], "added": hit.chunk_id not in req.base_nodes, "legs": shown["legs"],
                       "matched_queries": shown["matched_queries"]}
            out.append(NodeWithScore(node=_with_explain(node, req.key, explain), score=hit.score))
        return out

    def run(self, req: _Request) -> list[NodeWithScore]:
        stage = self.stage()
        res = self.legs(req)
        plan = self.plan(res, req, stage)
        stored = self.fetch(plan, res, req, stage)
        return self.build(self.rerank(plan, stored, req, stage), res, stored, req)

    async def arun(self, req: _Request) -> list[NodeWithScore]:
        stage = self.stage() if self._stage is not None or self._rerank is False else \
            await asyncio.to_thread(self.stage)  # the first load reads the model from disk
        res = await self.alegs(req)
        plan = self.plan(res, req, stage)
        stored = await asyncio.to_thread(self.fetch, plan, res, req, stage)
        if stage is not None:
            plan = await asyncio.to_thread(self.rerank, plan, stored, req, stage)
        return self.build(plan, res, stored, req)


def _resolve_profile(profile: FusionProfile | str | None) -> FusionProfile | None:
    return profile if isinstance(profile, FusionProfile) or profile is None else load_profile(profile)


# ---------------------------------------------------------------- the LlamaIndex components

class QueryAugmentPostprocessor(BaseNodePostprocessor):
    """Re-rank any retriever's nodes with rag_augment: synthetic-query matches boost their parent nodes, parents the
    retriever missed are added (the app's own node, restored from the rag_augment store), and the retriever's
    ranking is fused with rag_augment's legs as one more leg, "base".

    The async path runs the blocking searches (embedding, Chroma, BM25) in worker threads via asyncio.to_thread:
    the event loop is never blocked and concurrent queries overlap; see the module docstring.
    """

    top_n: int = Field(default=5, description="Number of nodes returned after fusion.")
    base_weight: float = Field(default=1.0, description="Fusion weight of the base retriever's ranking (leg 'base').")
    add_missing: bool = Field(default=True, description="Add parent chunks rag_augment found that the base "
                                                        "retriever missed; False only re-ranks the given nodes.")
    reuse_query_embedding: bool = Field(
        default=False, description="Use the query embedding the base retriever left in the QueryBundle. Only when "
                                   "the app embeds with the rag_augment index's model (e.g. RagAugmentEmbedding).")
    explain_key: str = Field(default=EXPLAIN_KEY, description="Node metadata key of the explanation (legs, matched "
                                                              "synthetic queries); excluded from embed/LLM text.")
    profile_name: str | None = Field(default=None, description="rag_augment fusion profile (shipped name or JSON "
                                                                  "path); None uses the index's profile.")
    rerank: bool = Field(default=False, description="Rerank the fused top-N with the index's trained reranker "
                                                    "(`rag-augment train`) before keeping top_n.")
    _search: _Search = PrivateAttr()

    def __init__(self, index: AugmentIndex, profile: FusionProfile | str | None = None,
                 reranker: RerankStage | None = None, **kwargs: Any) -> None:
        """`reranker`: a ready RerankStage (another model, weight or depth) instead of the index's own."""
        name = profile.name if isinstance(profile, FusionProfile) else profile
        if reranker is not None:
            kwargs["rerank"] = True
        super().__init__(profile_name=name, **kwargs)  # type: ignore[call-arg]  # pydantic fields of this class
        self._search = _Search(index, _resolve_profile(profile), reranker or self.rerank)

    @classmethod
    def class_name(cls) -> str:
        return "QueryAugmentPostprocessor"

    def _request(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> _Request | None:
        if query_bundle is None:
            raise ValueError("QueryAugmentPostprocessor needs the query: pass query_bundle or query_str")
        if not query_bundle.query_str.strip():
            return None
        base_nodes, base = _base_ranking(nodes)
        embedding = None
        if self.reuse_query_embedding and query_bundle.embedding is not None:
            embedding = np.asarray(query_bundle.embedding, dtype=np.float32)
            dim = getattr(self._search.index.embedder, "dim", len(embedding))
            if len(embedding) != dim:
                raise ConfigError(f"reuse_query_embedding: the query embedding has {len(embedding)} dimensions, the "
                                  f"rag_augment index's model {dim}: the app embeds with another model")
        return _Request(query_bundle.query_str, embedding, base_nodes, base, self.base_weight, self.top_n,
                        self.add_missing, self.explain_key)

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        req = self._request(nodes, query_bundle)
        return nodes[:self.top_n] if req is None else self._search.run(req)

    async def _apostprocess_nodes(self, nodes: list[NodeWithScore],
                                  query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        req = self._request(nodes, query_bundle)
        return nodes[:self.top_n] if req is None else await self._search.arun(req)


class RagAugmentRetriever(BaseRetriever):
    """A LlamaIndex retriever over an AugmentIndex: chunks and synthetic queries searched, collapsed to parents and
    fused; `similarity_top_k` counts distinct parent chunks. Async runs the blocking searches in worker threads."""

    def __init__(self, index: AugmentIndex, similarity_top_k: int = 10, profile: FusionProfile | str | None = None,
                 explain_key: str = EXPLAIN_KEY, callback_manager: CallbackManager | None = None,
                 verbose: bool = False, rerank: bool | RerankStage = False) -> None:
        """`rerank`: True reranks with the index's trained reranker; a RerankStage is used as given."""
        self._search = _Search(index, _resolve_profile(profile), rerank)
        self.similarity_top_k = similarity_top_k
        self.explain_key = explain_key
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _request(self, query_bundle: QueryBundle) -> _Request:
        return _Request(query_bundle.query_str, None, {}, [], 0.0, self.similarity_top_k, True, self.explain_key)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not query_bundle.query_str.strip():
            return []
        return self._search.run(self._request(query_bundle))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not query_bundle.query_str.strip():
            return []
        return await self._search.arun(self._request(query_bundle))


class RagAugmentEmbedding(BaseEmbedding):
    """rag_augment's embedder as a LlamaIndex embed model (the packaged all-MiniLM-L6-v2 by default, offline).
    Give it `augment_index.embedder` so the app and rag_augment load the model once and embed queries alike."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, embed_batch_size: int = 64, **kwargs: Any) -> None:
        embedder = embedder or SentenceTransformerEmbedder()
        super().__init__(model_name=embedder.name, embed_batch_size=embed_batch_size, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "RagAugmentEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


class ChatBackendLLM(CustomLLM):
    """A rag_augment chat back end (the local llama.cpp model, an OpenAI-compatible server) as a LlamaIndex LLM,
    for answer synthesis. Each prompt is sent as one user message through the model's chat template."""

    context_window: int = Field(default=4096, description="Context window of the back end's model, in tokens.")
    num_output: int = Field(default=256, description="Maximum tokens of an answer.")
    temperature: float = Field(default=0.2, description="Sampling temperature.")
    seed: int = Field(default=1, description="Sampling seed.")
    _backend: Any = PrivateAttr()

    def __init__(self, backend: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backend = backend

    @classmethod
    def class_name(cls) -> str:
        return "ChatBackendLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.num_output,
                           model_name=getattr(self._backend, "model_id", "rag_augment"))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        params = SamplingParams(temperature=self.temperature, max_tokens=self.num_output, seed=self.seed)
        [done] = self._backend.complete_batch([[{"role": "user", "content": prompt}]], params)
        if done.error:
            raise GenerationError(f"answer synthesis failed: {done.error}")
        return CompletionResponse(text=done.text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self.complete(prompt, formatted=formatted, **kwargs).text  # the back ends do not stream
        yield CompletionResponse(text=text, delta=text)

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        # CustomLLM's default would run the blocking llama.cpp call on the event loop.
        return await asyncio.to_thread(self.complete, prompt, formatted, **kwargs)


def local_llm(model_path: str | None = None, n_ctx: int = 4096, **kwargs: Any) -> ChatBackendLLM | None:
    """The local GGUF model (the verified default unless model_path) as a LlamaIndex LLM, or None when
    llama-cpp-python (extra `local`) is not installed: then use retrieval only, which needs no LLM."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    from rag_augment.generators.llama_cpp import LlamaCppBackend
    return ChatBackendLLM(LlamaCppBackend(model_path, n_ctx=n_ctx, parallel=1), context_window=n_ctx, **kwargs)
