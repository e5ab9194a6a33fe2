"""One exception family, so the CLI can turn every expected failure into one clear line."""


class RagAugmentError(Exception):
    """Base class of every error rag_augment raises on purpose."""


class ConfigError(RagAugmentError):
    """A setting is missing or invalid (names the setting)."""


class InputError(RagAugmentError):
    """A document or data file cannot be used (names the file or field)."""


class GenerationError(RagAugmentError):
    """A generator failed in a way retries could not fix."""


class StoreError(RagAugmentError):
    """The vector store or lexical index cannot be read or written."""
