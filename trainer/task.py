"""Entry point: `python -m trainer.task --config=NAME|FILE [--data=DIR --job-dir=DIR ...]`.

Recipes live in trainer/configs/ (`--config=demo`, `real_chain`, `gpu_resnet50`,
`tpu_resnet50`); each file's docstring gives its command, runtime and expected result.
Any flag overrides one key of the recipe: `python -m trainer.task --help`. Outputs under
--job-dir (or the AIP_* dirs Vertex AI sets): checkpoints/ (with model_config.json and
the curves), tensorboard/, model/ (SavedModel: uint8 images -> L2-normalised
embeddings; assets/model_config.json), metrics.json, and with --mode=probe|all
probe.json and report.html; with --mode=supervised the model also outputs class
probabilities (assets/classes.json) and supervised.json holds the test table.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def pretrain_summary(m: dict) -> str:
  """The pretraining result in two lines: the loss, and the online monitor beside its
  baselines (first value: the random-init encoder at step 0)."""
  verb = "trained the classifier" if m.get("mode") == "supervised" else "pretrained"
  text = (f"{verb} {m['steps']} steps; loss {m['first_logged_loss']:.4f} -> "
          f"{m['final_loss']:.4f}; model: {m['export_dir']}")
  mon = m.get("monitor")
  if mon and mon["curve"]:
    first, last, base = mon["curve"][0], mon["curve"][-1], mon["baselines"]
    parts = []
    if "knn/accuracy" in last:
      parts.append(f"kNN accuracy {first['knn/accuracy']:.3f} -> "
                   f"{last['knn/accuracy']:.3f} (majority class "
                   f"{base.get('majority/accuracy', float('nan')):.3f})")
    parts.append(f"content mAP {first['retrieval/content_map']:.3f} -> "
                 f"{last['retrieval/content_map']:.3f} (chance "
                 f"{base['chance/content_map']:.3f})")
    text += (f"\nonline monitor ({mon['images']} {mon['split']} images, step "
             f"{first['step']} -> {last['step']}): " + "; ".join(parts) +
             f"; {mon['seconds']:.1f} s of {m['train_seconds']:.1f} s")
  return text


def main(argv=None) -> dict:
  from trainer import choices, config, console
  try:
    cfg = config.parse(argv)
  except choices.ConfigError as e:  # a wrong flag or config file, before TensorFlow
    raise SystemExit(f"error: {e}") from None
  with console.Console(cfg.verbose):
    return _run(cfg)


def _run(cfg) -> dict:
  # TensorFlow starts here, after flag checks and with its logs going to the log file.
  from trainer import checkpoints, probe, records, train
  results = {}
  try:
    if cfg.mode == "supervised":
      from trainer import supervised
      results["train"] = m = train.pretrain(cfg)
      print(pretrain_summary(m), flush=True)
      results["supervised"] = sup = supervised.evaluate(cfg)
      print(supervised.summary_table(sup), flush=True)
    if cfg.mode in ("pretrain", "all"):
      results["pretrain"] = m = train.pretrain(cfg)
      print(pretrain_summary(m), flush=True)
    if cfg.mode in ("probe", "all"):
      results["probe"] = p = probe.run_probe(cfg, results.get("pretrain"))
      print(probe.summary_table(p["probe"]), flush=True)
      if "report" in p:
        path = p["report"] if "://" in p["report"] else os.path.abspath(p["report"])
        print(f"report: {path}", flush=True)
  except (records.DataError, checkpoints.ModelConfigError) as e:
    raise SystemExit(f"error: {e}") from None
  return results


if __name__ == "__main__":
  main()
