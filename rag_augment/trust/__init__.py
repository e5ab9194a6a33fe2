"""What makes synthetic data earn trust: where each query came from (provenance), people's review decisions (review,
reviewing), real queries with known answers (real_queries), failed queries fed back as targeted paraphrases
(feedback), and how varied the generated queries are (diversity)."""
