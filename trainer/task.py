"""Entry point: `python -m trainer.task --data=DIR --job-dir=DIR [...]`.

Pretraining on the small CNN, CPU, demo-sized data (a few hundred pairs): a minute or
two. Flags: `python -m trainer.task --help`; every flag can also come from `--config
file.json`. Outputs under --job-dir (or the AIP_* dirs Vertex AI sets): checkpoints/,
tensorboard/, model/ (SavedModel: uint8 images -> L2-normalised embeddings) and
metrics.json.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def main(argv=None) -> dict:
  from trainer import config
  cfg = config.parse(argv)
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                      stream=sys.stdout)
  from trainer import data, train  # TensorFlow starts here, after the flags are valid
  try:
    if cfg.mode in ("pretrain", "all"):
      metrics = train.pretrain(cfg)
      print(f"pretrained {metrics['steps']} steps; loss {metrics['first_logged_loss']:.4f}"
            f" -> {metrics['final_loss']:.4f}; model: {cfg.model_dir}", flush=True)
    if cfg.mode in ("probe", "all"):
      raise SystemExit("error: --mode=probe is not available yet")
  except data.DataError as e:
    raise SystemExit(f"error: {e}") from None
  return metrics


if __name__ == "__main__":
  main()
