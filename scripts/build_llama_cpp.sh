#!/usr/bin/env bash
# (Re)build llama-cpp-python in the active environment for this CPU, without ggml's AMX kernels on x86-64.
# Rebuilds when it is missing, or when the installed build reports AMX (a build from an older setup, or a wheel
# built elsewhere). ARM64 and macOS keep llama.cpp's own defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
# the project's venv unless another environment is active (scripts/setup.sh calls this with .venv active)
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then . .venv/bin/activate; fi
spec="$(grep -o '"llama-cpp-python==[0-9.]*"' pyproject.toml | head -1 | tr -d '"')"
state="$(python - <<'PY' 2>/dev/null || echo missing
import llama_cpp
info = llama_cpp.llama_print_system_info().decode()
print("amx" if "AMX" in info.upper() else "ok")
PY
)"
[ "$state" = ok ] && [ -z "${RAG_AUGMENT_REBUILD_LLAMA:-}" ] && exit 0
cmake_args="${CMAKE_ARGS:-}"
case "$(uname -m)" in
  x86_64|amd64|AMD64)
    noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    cmake_args="$cmake_args -DCMAKE_C_FLAGS='$noamx' -DCMAKE_CXX_FLAGS='$noamx'" ;;
esac
echo "building $spec for this CPU (${state}; about 6 minutes on 2 cores)" >&2
# --no-cache-dir: pip's wheel cache is keyed by the source, not the flags, so it would hand back an AMX build
CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  python -m pip install -q --no-cache-dir --force-reinstall --no-deps "$spec"
