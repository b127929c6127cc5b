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
  from trainer import data, probe, train  # TensorFlow starts here, after flag checks
  results = {}
  try:
    if cfg.mode in ("pretrain", "all"):
      results["pretrain"] = m = train.pretrain(cfg)
      print(f"pretrained {m['steps']} steps; loss {m['first_logged_loss']:.4f} -> "
            f"{m['final_loss']:.4f}; model: {cfg.model_dir}", flush=True)
    if cfg.mode in ("probe", "all"):
      results["probe"] = p = probe.run_probe(cfg, results.get("pretrain"))
      print(probe.summary_table(p["probe"]), flush=True)
      if "report" in p:
        path = p["report"] if "://" in p["report"] else os.path.abspath(p["report"])
        print(f"report: {path}", flush=True)
  except data.DataError as e:
    raise SystemExit(f"error: {e}") from None
  return results


if __name__ == "__main__":
  main()
