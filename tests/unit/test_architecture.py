"""The package's shape: no import cycle, and a query never loads training code (docs/architecture.md)."""
import ast
import subprocess
import sys
from pathlib import Path

from support import REPO

PACKAGE = REPO / "rag_augment"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of import nodes under `if TYPE_CHECKING:` (never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def import_graph() -> dict[str, set[str]]:
    """module -> the rag_augment modules it imports anywhere (lazily inside functions too), TYPE_CHECKING aside."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_blocks(tree)
        out = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("rag_augment"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    out.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name.startswith("rag_augment")}
        graph[name] = {m for m in out if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


QUERY_PATH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("rag_augment.rerank.training", "rag_augment.eval", "benchmarks")):
            raise ImportError("the query path imported " + name)
sys.meta_path.insert(0, Block())
from rag_augment.augment_index import AugmentIndex
from rag_augment.testing import HashEmbedder
from rag_augment.generators.rules import RulesGenerator
from rag_augment.integrations import llamaindex
index = AugmentIndex(sys.argv[1], embedder=HashEmbedder(64))
index.index_path(sys.argv[2], RulesGenerator())
hits = index.query("annual leave carry over", k=3)
assert hits, "no hit"
print("ok", len(hits))
"""


def test_the_query_path_imports_no_training_or_eval_code(tmp_path, kb):
    out = subprocess.run([sys.executable, "-c", QUERY_PATH, str(tmp_path / "home"), str(kb)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]


def test_the_store_is_searched_for_a_leg_in_one_place():
    """Leg retrieval lives in rag_augment/search/legs.py; everything else asks LegSearch. (eval/datasets.py
    searches a BM25 index of its own over a data set, to pick distractor documents, not the index's legs.)"""
    import re
    call = re.compile(r"""\.search\(\s*["'](chunks|queries)["']""")
    found = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
             if call.search(p.read_text()) and p.parent.name != "store"}
    assert found == {"rag_augment/search/legs.py", "rag_augment/eval/datasets.py"}


def test_no_module_reaches_into_the_index_s_private_parts():
    """Code outside augment_index.py writes through `index.writing()` and reads `index.version`,
    `index.lexical_state()`: never `index._something`."""
    import re
    private = re.compile(r"\bindex\._[a-z]")
    found = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
             if p.name != "augment_index.py" and private.search(p.read_text())}
    assert found == set(), found
