"""The review page (rag_augment/web) is a view: it reads the index through rag_augment.trust and `index.version`,
and writes through the index's own write paths. It never reaches into the store or the index's private parts, nor
re-implements what trust owns (docs/architecture.md)."""
import ast

from support import REPO

WEB = REPO / "rag_augment" / "web"

# What web/ may import from rag_augment, and why:
ALLOWED = (
    "rag_augment.web",     # itself
    "rag_augment.trust",   # every read of the index: review entries, chunks, provenance, decisions
    "rag_augment.types",   # the plain data it shows (SyntheticQuery, ReviewStatus, the query kinds)
    "rag_augment.errors",  # the error family it turns into 400 / 503 answers
    "rag_augment.text",    # the one tokenizer, which the highlighting must share with the lexical legs
)
# Attributes of the index that web/ must not touch: the store and the file names behind it (`files.collection`,
# the collection's name, is the one home accessor it reads).
FORBIDDEN_ATTRIBUTES = ("store", "lexical", "review_book", "batch", "settings")


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            out.add(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            out.add("rag_augment.web")  # relative: within web/
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m.split(".")[0] == "rag_augment"}


def _allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


def problems_in(source: str, name: str) -> list[str]:
    tree = ast.parse(source)
    problems = [f"{name} imports {m}" for m in sorted(_imports(tree)) if not _allowed(m)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr in FORBIDDEN_ATTRIBUTES or (
                node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")))):
            problems.append(f"{name}:{node.lineno} reaches {ast.unparse(node)}")
    return problems


def test_web_reads_only_through_trust_and_the_index_version():
    problems = [p for path in sorted(WEB.rglob("*.py")) for p in problems_in(path.read_text(), path.name)]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_reach_into_the_store():
    source = ("from rag_augment.indexer import query_id\nfrom rag_augment.trust import reviewing\n"
              "index.store.get_chunks([])\nindex._state()\nself._snap\nindex.version\n")
    assert sorted(problems_in(source, "x.py")) == ["x.py imports rag_augment.indexer", "x.py:3 reaches index.store",
                                           "x.py:4 reaches index._state"]
