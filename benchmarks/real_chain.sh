#!/usr/bin/env bash
# The whole chain on real data: the 128 COCO train2017 photos of ../shared/data/coco256,
# labelled by their official annotation file, x 191 public-domain paintings
# (../shared/data/paintings_aic, period as style name), the real Magenta TF Lite stylizer,
# then pretraining (small CNN), the linear probe on the COCO primary label with its
# baselines, and the report. Not a test: it prints figures and the report's path.
# About 5-10 minutes on 2 cores.   bash benchmarks/real_chain.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared
[ -d "$SHARED/models/magenta_v1_256_tflite" ] || {
  echo "benchmarks/real_chain.sh: needs $SHARED (real model and images); absent here" >&2
  exit 2; }
OUT=${1:-out/real_chain}
PY=.venv/bin/python
start=$(date +%s)
"$PY" -m beam_jobs.stylize --content="$SHARED/data/coco256/images/train2017" \
  --coco_annotations="$SHARED/data/coco256/instances_train2017_subset128.json" \
  --styles="$SHARED/data/paintings_aic/labels.csv" --manifest_style_column=label \
  --stylizer="tflite:$SHARED/models/magenta_v1_256_tflite" --styles_per_content=2 \
  --include_original --image_size=128 --split_fractions=0.7,0.1,0.2 \
  --holdout_style_fraction=0.2 --output="$OUT/stylized" --overwrite
"$PY" -m tfrecords_schema.validate "$OUT/stylized"
mid=$(date +%s)
"$PY" -m trainer.task --config=real_chain --data="$OUT/stylized" --job-dir="$OUT/run"
end=$(date +%s)
echo "dataset job + validation: $((mid - start)) s; pretrain + probe + report: $((end - mid)) s"
