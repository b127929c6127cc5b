"""Comparison runner: the same data, several training settings, several seeds.

  python -m trainer.compare --data=out/demo/stylized --job-dir=runs/compare \\
      --seeds=0,1,2 [any trainer flag, e.g. --max_steps=300 --image_size=64]

Settings: `random-init` (no pretraining: the probe's random encoder), `augment-only`
(SimCLR on crop/colour augmentations of the original view, no stylization),
`style-contrastive` (positives are two styles of one content, light augmentation), and
`style+augment` (both). Each is pretrained and probed the same way; the table gives the
mean and sample standard deviation over seeds of the probe's balanced accuracy, kNN
accuracy and content/style retrieval mAP on the test split, then, seed by seed, the
difference of each setting against random-init and augment-only, and says in words
whether the mean difference is larger than the spread (the larger of the two settings'
standard deviations over seeds). Writes comparison.json and comparison.html into
--job-dir.
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
BASELINES = ("random-init", "augment-only")


def _row_metrics(probe: dict, encoder: str) -> dict:
  row = next(r for r in probe["rows"] if r["name"] == encoder)
  emb = next((r for r in probe["retrieval"]
              if r["encoder"] == encoder and r["representation"] == "embedding"), None)
  return {"balanced_accuracy": row["metrics"]["linear/balanced_accuracy"],
          "knn_accuracy": row["metrics"]["knn/accuracy"],
          **{f"{kind}_map": emb[kind]["map"] if emb and emb[kind]["map"] is not None
             else float("nan") for kind in ("content", "style")}}


def difference(a: list, b: list) -> dict:
  """Per-seed a - b, its mean, and whether that mean exceeds the spread of a and b."""
  from trainer import metrics
  per_seed = [x - y for x, y in zip(a, b)]
  mean, std = metrics.mean_and_spread(per_seed)
  spread = max(metrics.mean_and_spread(a)[1], metrics.mean_and_spread(b)[1])
  higher = sum(d > 0 for d in per_seed)
  larger = abs(mean) > spread
  words = (f"{'larger than' if larger else 'within'} the spread (|{mean:+.3f}| "
           f"{'>' if larger else '<='} {spread:.3f}); higher on {higher} of "
           f"{len(per_seed)} seeds")
  if larger and higher in (0, len(per_seed)):
    words += ": a difference these seeds support"
  elif not larger:
    words += ": not distinguishable from seed-to-seed variation"
  return {"per_seed": per_seed, "mean": mean, "std": std, "spread": spread,
          "larger_than_spread": larger, "seeds_higher": higher, "words": words}


def differences(values: dict) -> list[dict]:
  """Every trained setting against each baseline present, for every metric."""
  out = []
  for base in BASELINES:
    if base not in values:
      continue
    for setting in values:
      if setting in BASELINES[:BASELINES.index(base) + 1]:
        continue
      for m in METRICS:
        out.append({"setting": setting, "baseline": base, "metric": m,
                    **difference(values[setting][m], values[base][m])})
  return out


def print_table(rows: list[dict], diffs: list[dict], seeds: list[int]) -> None:
  header = f"{'setting':20s}" + "".join(f"{m:>24s}" for m in METRICS)
  print(f"comparison over seeds {seeds} (mean ± std)\n{header}")
  for r in rows:
    print(f"{r['setting']:20s}" + "".join(
        f"{r[m]['mean']:>15.3f} ± {r[m]['std']:<6.3f}" for m in METRICS))
  if diffs:
    print(f"per-seed differences (seeds {', '.join(str(s) for s in seeds)}):")
  for d in diffs:
    print(f"  {d['metric']:17s} {d['setting']} - {d['baseline']}: "
          f"{' '.join(f'{v:+.3f}' for v in d['per_seed'])}; {d['words']}")


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
  diffs = differences(values)
  result = {"seeds": seeds, "rows": rows, "metric_names": list(METRICS),
            "differences": diffs}
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
                               for r in rows],
                      "differences": [d for d in diffs
                                      if d["metric"] == "balanced_accuracy"]}})
  print_table(rows, diffs, seeds)
  print(f"written: {os.path.join(args.job_dir, 'comparison.json')}")
  return result


if __name__ == "__main__":
  main()
