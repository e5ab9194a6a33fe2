from rag_augment.testing.generators import FakeGenerator, Responses, default_response  # noqa: F401  (moved)
