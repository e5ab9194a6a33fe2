"""A LlamaIndex app on Chroma, augmented by rag_augment in two calls (augment, postprocessor). Run from the repo root:

    python examples/llamaindex_app.py ["your question"] [--generator local] [--retrieval-only]

Retrieval needs no LLM. With the `local` extra (llama-cpp-python) installed, the local model also writes an answer.
"""
import argparse
import tempfile

import chromadb
from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.schema import QueryBundle
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag_augment.augment_index import AugmentIndex
from rag_augment.generators.factory import make_generator
from rag_augment.integrations.llamaindex import (
    QueryAugmentPostprocessor,
    RagAugmentEmbedding,
    augment_vector_store_index,
    local_llm,
)

ap = argparse.ArgumentParser()
ap.add_argument("question", nargs="?", default="how much vacation time do I earn per pay period as a new employee")
ap.add_argument("--generator", choices=["rules", "local"], default="rules")
ap.add_argument("--retrieval-only", action="store_true", help="no answer synthesis even when the local LLM is there")
args = ap.parse_args()

with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as work:  # a fresh app each run
    # generations are cached by chunk content in .rag_augment/, so a rerun generates nothing
    augment = AugmentIndex(f"{work}/rag_augment", cache_path=".rag_augment/llamaindex_example.jsonl")
    Settings.embed_model = RagAugmentEmbedding(augment.embedder)  # one local MiniLM for the app and rag_augment
    llm = None if args.retrieval_only else local_llm()  # None without the `local` extra: retrieval only
    Settings.llm = llm  # None makes LlamaIndex use its MockLLM; retrieval never calls it

    # The app as it already was: documents -> VectorStoreIndex on Chroma.
    docs = SimpleDirectoryReader("sample_kb/docs", recursive=True).load_data()
    chroma = chromadb.PersistentClient(path=f"{work}/app").get_or_create_collection("app")
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(
        vector_store=ChromaVectorStore(chroma_collection=chroma)))

    # What rag_augment adds: synthetic queries for the app's nodes, and a postprocessor on its query engine.
    report = augment_vector_store_index(index, augment, make_generator(args.generator))
    print(f"{report.queries_kept} synthetic queries for {report.chunks_total} nodes")
    rerank = QueryAugmentPostprocessor(index=augment, top_n=3, reuse_query_embedding=True)
    engine = index.as_query_engine(similarity_top_k=10, node_postprocessors=[rerank])

    if llm is not None:
        response = engine.query(args.question)
        print(response)
        sources = response.source_nodes
    else:
        sources = engine.retrieve(QueryBundle(args.question))  # retriever + postprocessors, no synthesis
    for n in sources:
        why = n.node.metadata["rag_augment"]
        matched = why["matched_queries"][0]["text"] if why["matched_queries"] else "-"
        print(f"{n.score:.4f}  {n.node.metadata['file_name']:<32} added={why['added']!s:<5}  matched: {matched}")
