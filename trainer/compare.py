"""Comparison runner: the same data, several training settings, several seeds.

  python -m trainer.compare --data=out/demo/stylized --job-dir=runs/compare \\
      --seeds=0,1,2 [any trainer flag, e.g. --max_steps=300 --image_size=64]

Settings: `random-init` (no pretraining: the probe's random encoder), `augment-only`
(SimCLR on crop/colour augmentations of the original view, no stylization),
`style-contrastive` (positives are two styles of one content, light augmentation), and
`style+augment` (both). Each is pretrained and probed the same way; the table gives the
mean and sample standard deviation over seeds of the probe's balanced accuracy, kNN
accuracy and content/style retrieval mAP on the test split. Writes comparison.json and
comparison.html into --job-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

SETTINGS = {
    "augment-only": ["--pair_mode=augment", "--augment_strength=strong"],
    "style-contrastive": ["--pair_mode=styles", "--augment_strength=light"],
    "style+augment": ["--pair_mode=styles", "--augment_strength=strong"],
}
METRICS = ("balanced_accuracy", "knn_accuracy", "content_map", "style_map")


def _row_metrics(probe: dict, encoder: str) -> dict:
  row = next(r for r in probe["rows"] if r["name"] == encoder)
  emb = next((r for r in probe["retrieval"]
              if r["encoder"] == encoder and r["representation"] == "embedding"), None)
  return {"balanced_accuracy": row["linear"]["balanced_accuracy"],
          "knn_accuracy": row["knn"]["accuracy"],
          "content_map": emb["content"]["map"] if emb else float("nan"),
          "style_map": emb["style"]["map"] if emb else float("nan")}


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(prog="python -m trainer.compare", description=__doc__)
  p.add_argument("--job-dir", "--job_dir", dest="job_dir", required=True)
  p.add_argument("--seeds", default="0,1,2", help="comma-separated, at least 3")
  p.add_argument("--settings", default=",".join(["random-init", *SETTINGS]))
  args, trainer_args = p.parse_known_args(argv)
  seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
  settings = [s for s in args.settings.split(",") if s]
  unknown = set(settings) - set(SETTINGS) - {"random-init"}
  if unknown or len(seeds) < 1:
    raise SystemExit(f"error: unknown settings {sorted(unknown)} or no seeds")
  if len(seeds) < 3:
    print("warning: fewer than 3 seeds: the spread means little", file=sys.stderr)
  from trainer import metrics, task
  values: dict[str, dict[str, list]] = {s: {m: [] for m in METRICS} for s in settings}
  trained = [s for s in settings if s != "random-init"] or ["augment-only"]
  for seed in seeds:
    for setting in trained:
      job = os.path.join(args.job_dir, setting, f"seed_{seed}")
      out = task.main(trainer_args + SETTINGS[setting] + [
          f"--job-dir={job}", f"--seed={seed}", "--mode=all", "--no-report"])
      probe = out["probe"]["probe"]
      if setting in values:
        for m, v in _row_metrics(probe, "pretrained encoder").items():
          values[setting][m].append(v)
      if "random-init" in values and setting == trained[0]:
        for m, v in _row_metrics(probe, "random-init encoder").items():
          values["random-init"][m].append(v)
  rows = []
  for setting in settings:
    row = {"setting": setting}
    for m in METRICS:
      mean, std = metrics.mean_and_spread(values[setting][m])
      row[m] = {"mean": mean, "std": std, "values": values[setting][m]}
    rows.append(row)
  result = {"seeds": seeds, "rows": rows, "metric_names": list(METRICS)}
  os.makedirs(args.job_dir, exist_ok=True)
  with open(os.path.join(args.job_dir, "comparison.json"), "w") as f:
    json.dump(result, f, indent=2)
  from trainer import report
  report.write_report(
      os.path.join(args.job_dir, "comparison.html"),
      {"run": {"title": "Comparison of training settings", "created": "",
               "job_dir": args.job_dir, "data": "", "config": {},
               "command": "python -m trainer.compare " + " ".join(argv or sys.argv[1:])},
       "comparison": {"metric": "linear probe balanced accuracy (test split)",
                      "seeds": seeds,
                      "rows": [{"setting": r["setting"],
                                **{k: r["balanced_accuracy"][k]
                                   for k in ("mean", "std", "values")}}
                               for r in rows]}})
  header = f"{'setting':20s}" + "".join(f"{m:>24s}" for m in METRICS)
  print(f"comparison over seeds {seeds} (mean ± std)\n{header}")
  for r in rows:
    print(f"{r['setting']:20s}" + "".join(
        f"{r[m]['mean']:>15.3f} ± {r[m]['std']:<6.3f}" for m in METRICS))
  print(f"written: {os.path.join(args.job_dir, 'comparison.json')}")
  return result


if __name__ == "__main__":
  main()
