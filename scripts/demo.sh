#!/usr/bin/env bash
# The README demo, end to end on a sample the project generates itself (no network, no
# model files, no ../shared): dataset job (classical stylizer) -> contrastive pretraining
# (small CNN) -> linear probe with baselines -> report. A few minutes on 2 cores.
#   bash scripts/demo.sh [OUT_DIR]        (default out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
PY=.venv/bin/python
"$PY" -m beam_jobs.demo --out "$OUT"
"$PY" -m trainer.task --config=demo --data="$OUT/stylized" --job-dir="$OUT/run"
