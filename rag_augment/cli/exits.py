"""Exit statuses of `rag-augment` (kept apart so command modules need not import the CLI package itself)."""
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3  # the command ran, but left work undone (e.g. chunks whose generation failed)
