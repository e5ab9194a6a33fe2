#!/usr/bin/env bash
# Create ./.venv and install rag_augment with the extras given (comma-separated), e.g. `scripts/setup.sh local`.
# torch goes first: the CPU wheel on this machine's disk. pyproject.toml asks only for a range (torch>=2.2), so pip keeps
# the torch already there instead of fetching a multi-GB CUDA build (and a host app keeps its own torch).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
# llama-cpp-python builds from source (about 6 minutes on 2 cores) the first time, for this machine's CPU, with
# ggml's AMX kernels left out: on Sapphire Rapids-class CPUs (AMX) they segfault at the first decode
# (ggml-org/llama.cpp#20824). Without AMX the flags are what -march=native gives anyway. The same command is in
# rag_augment/generators/llama_build.py (REBUILD_HINT), which `rag-augment doctor` and the canary print.
bash scripts/build_llama_cpp.sh
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python -m pip install -q -e ".[${extras}]"
