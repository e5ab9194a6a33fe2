"""Paths every test lane shares (tests/ is on the import path: pyproject's pytest `pythonpath`)."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = REPO / "sample_kb" / "docs"
TEST_DATA = REPO / "tests" / "data"
