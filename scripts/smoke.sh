#!/usr/bin/env bash
# One chunk through the packaged default model (the canary runs first, in a child process), into a throwaway home.
# Fails with the canary's one line where this llama.cpp build crashes on this CPU. Needs the installed venv.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${VIRTUAL_ENV:-}" ] || . .venv/bin/activate
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '# Annual leave\n\nStaff may carry over up to 240 hours of annual leave into the next leave year.\n' \
  > "$work/leave.md"
HF_HUB_OFFLINE=1 rag-augment index "$work/leave.md" --home "$work/home" --generator local --json > "$work/report.json"
python - "$work/report.json" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
assert rep["chunks_generated"] == 1 and rep["queries_kept"] >= 1, rep
print(f"smoke: the packaged model wrote {rep['queries_kept']} queries for one chunk in {rep['seconds']:.1f} s")
PY
