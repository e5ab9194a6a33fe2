"""Adapters to RAG frameworks. Each lives in one module and imports its framework only when that module is imported:
`rag_augment.integrations.llamaindex` (needs llama-index-core; ChromaVectorStore support needs the `llamaindex` extra).
"""
