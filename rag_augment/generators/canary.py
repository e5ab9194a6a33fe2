"""A one-token generation in a child process before this process first loads a local model.

A llama.cpp build can crash the whole process on some CPUs (ggml's AMX kernels segfault at the first decode on
Sapphire Rapids-class hosts, ggml-org/llama.cpp#20824). A crash in a child becomes one line with what to do,
never a segfault in the user's shell or in a host app that imported rag_augment. The result is recorded under the
models cache per llama.cpp build, model file and CPU flags, so the check costs a few seconds once.

Run as `python -m rag_augment.generators.canary MODEL.gguf`: the child itself.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag_augment import models
from rag_augment.errors import ConfigError
from rag_augment.hashing import sha1_hex

NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"  # the same flags as scripts/build_llama_cpp.sh
# The flags that decide which ggml kernels a native build compiles in.
RELEVANT_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                  "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "asimd", "sve", "sve2")
CHILD_TIMEOUT_S = 180.0
# Long enough that the prompt is decoded as a batch (the matrix path that crashed), short enough to take a second.
PROMPT = ("Write one question a new employee could ask about this policy. Policy: staff may carry over up to "
          "240 hours of annual leave into the next leave year; hours above that are forfeited unless restored.")

# the child imports this package from where the parent found it (a host app may have put it on sys.path itself)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); from rag_augment.generators.canary import _child; "
          "sys.exit(_child(sys.argv[2]))")
_checked: set[str] = set()
_lock = threading.Lock()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The relevant ISA flags this CPU reports (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return []
    have: set[str] = set()
    for line in text.splitlines():
        if line.lower().startswith(("flags", "features")):
            have.update(line.split(":", 1)[1].split())
            break
    return [f for f in RELEVANT_FLAGS if f in have]


def build_info() -> dict[str, Any]:
    """llama.cpp's own report of the installed build (importing and asking runs no kernel), or why none."""
    try:
        import llama_cpp
    except ImportError as exc:
        return {"installed": False, "error": f"llama-cpp-python is not importable ({exc})"}
    info = llama_cpp.llama_print_system_info()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    lib = getattr(getattr(llama_cpp, "llama_cpp", None), "_lib", None)
    lib_path = getattr(lib, "_name", None) or ""
    features = sorted({part.split("=")[0].strip() for part in text.split("|")
                       if part.strip().endswith("= 1")})
    return {"installed": True, "version": getattr(llama_cpp, "__version__", "?"), "library": lib_path,
            "system_info": " ".join(text.split()), "features": features,
            "amx": any("AMX" in f.upper() for f in features)}


def rebuild_command(version: str = "0.3.36") -> str:
    """pip's wheel cache is keyed by the source, not the flags: --no-cache-dir, or it hands back the same build."""
    return (f"CMAKE_ARGS=\"-DCMAKE_C_FLAGS='{NO_AMX}' -DCMAKE_CXX_FLAGS='{NO_AMX}'\" "
            f"pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python=={version}")


def _build_fingerprint(lib_path: str) -> str:
    """Names, sizes and times of the shared libraries next to libllama: a rebuild changes it."""
    folder = Path(lib_path).parent if lib_path else None
    if folder is None or not folder.is_dir():
        return lib_path
    parts = []
    for p in sorted(folder.iterdir()):
        try:
            st = p.stat()
        except OSError:
            continue
        parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def record_path() -> Path:
    return models.model_dir() / "canary.json"


def read_records() -> dict[str, Any]:
    try:
        data = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_record(key: str, record: dict[str, Any]) -> None:
    path = record_path()
    data = read_records()
    data[key] = record
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="canary.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the check runs again next time, nothing else is lost
        pass


def canary_key(model_path: str, build: dict[str, Any], flags: list[str]) -> str:
    return sha1_hex(json.dumps([_build_fingerprint(build.get("library", "")), build.get("version"),
                                models.file_hash(model_path), flags]), 16)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def crash_message(model_path: str, what: str, build: dict[str, Any], flags: list[str]) -> str:
    amx_cpu = [f for f in flags if f.startswith(("amx", "avx512"))]
    amx_build = [f for f in build.get("features", []) if "AMX" in f.upper()]
    why = (f"This llama.cpp build has {', '.join(amx_build)} kernels, which crash on CPUs like this one. "
           if amx_build else "")
    head = f"the local model {os.path.basename(model_path)} {what} in a one-token test in a child process"
    other = "--generator openai (any OpenAI-compatible endpoint) or --generator rules (no model)"
    if not what.startswith("crashed") and not amx_build:  # a Python-level failure: the model file, not the build
        reader = f"llama-cpp-python {build.get('version', '')}"
        return f"{head}. Check the model file (a GGUF that {reader} reads), or use {other}"
    fix = rebuild_command(build.get("version", "0.3.36"))
    return (f"{head} (CPU: {cpu_model()}; flags: {' '.join(amx_cpu) or ' '.join(flags) or 'unknown'}). {why}"
            f"Rebuild llama-cpp-python without AMX: {fix} ; or use {other}")


def run_child(model_path: str, timeout: float = CHILD_TIMEOUT_S,
              argv: list[str] | None = None) -> tuple[bool, str]:
    """(ok, what happened) of one test generation in a child process; `argv` replaces the child's command."""
    cmd = argv or [sys.executable, "-c", _CHILD, _PACKAGE_ROOT, model_path]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"did not finish within {timeout:.0f} s"
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return True, f"generated in {seconds:.1f} s"
    if proc.returncode < 0:
        return False, f"crashed llama.cpp ({_signal_name(proc.returncode)})"
    last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return False, f"failed to generate ({last[:300]})"


def ensure_model_runs(model_path: str, force: bool = False) -> dict[str, Any]:
    """Raise ConfigError (one line) unless a test generation with this build, model and CPU succeeds. Checked once
    per process and recorded per build, model file and CPU flags; a failure is always tried again."""
    build, flags = build_info(), cpu_flags()
    if not build["installed"]:
        raise ConfigError(f'the local generator needs llama-cpp-python: pip install "rag-augment[local]" '
                          f"({build['error']})")
    key = canary_key(model_path, build, flags)
    with _lock:
        if key in _checked and not force:
            return {"ok": True, "cached": True}
        recorded = read_records().get(key)
        if recorded and recorded.get("ok") and not force:
            _checked.add(key)
            return recorded
        ok, what = run_child(model_path)
        record = {"ok": ok, "result": what, "model": os.path.basename(model_path), "cpu": cpu_model(),
                  "flags": flags, "build": build.get("version"), "build_amx": build.get("amx"),
                  "library": build.get("library"),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _write_record(key, record)
        if not ok:
            raise ConfigError(crash_message(model_path, what, build, flags))
        _checked.add(key)
        return record


def _child(model_path: str) -> int:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_batch=512, verbose=False)
    out: Any = llm.create_chat_completion(messages=[{"role": "user", "content": PROMPT}], max_tokens=2, temperature=0)
    print(json.dumps({"text": out["choices"][0]["message"].get("content") or ""}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
