#!/usr/bin/env bash
# The main job on the embedded defaults: no API key, no network at run time.
# Indexes sample_kb/ (18F handbook pages) with the packaged Qwen2.5-Coder-1.5B GGUF writing the queries and the
# packaged all-MiniLM-L6-v2 embedding them into an embedded Chroma under ./.rag_augment, then asks questions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local
. .venv/bin/activate
export HF_HUB_OFFLINE=1
# Seed the generation cache with the queries this model and prompt already wrote for sample_kb (committed with
# their provenance); the chunks not in it are generated now. Delete .rag_augment to start from nothing.
mkdir -p .rag_augment
[ -s .rag_augment/generations.jsonl ] || cp eval/cache/sample_kb_qwen15b_hr_policy_partial.jsonl .rag_augment/generations.jsonl
rag-augment index sample_kb/docs --profile-prompt hr_policy
rag-augment stats
for q in "can I carry over vacation days to next year" "lost my badge, what do I do" "does the government pay for my commute"; do
  echo; echo "Q: $q"
  rag-augment query "$q" -k 3 --explain
done
