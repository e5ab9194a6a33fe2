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
# llama-cpp-python builds from source (about 6 minutes on 2 cores) the first time.
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python -m pip install -q -e ".[${extras}]"
