from rag_augment.store.chroma import ChromaStore, open_chroma_client

__all__ = ["ChromaStore", "open_chroma_client"]
