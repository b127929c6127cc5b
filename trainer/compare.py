"""Comparison runner: the same data, several training settings, several seeds.

  python -m trainer.compare --data=out/demo/stylized --job-dir=runs/compare \\
      --seeds=0,1,2 [any trainer flag, e.g. --max_steps=300 --image_size=64]

Contrastive settings (`--settings=contrastive`, the default): `majority/chance` (the
probe's majority class and chance retrieval), `random-init` (no pretraining: the
probe's random encoder), `augment-only` (SimCLR on crop/colour augmentations of the
original view, no stylization), `style-contrastive` (positives are two styles of one
content, light augmentation), `style+augment` (both). `--settings=style-p`:
majority/chance, random-init, augment-only and `augment+style-p0.25` / `-p0.5`
(SASSL-style: the second view replaced by a stylized view of the content with
probability p). Each is pretrained and probed the same way: the probe's balanced
accuracy, kNN accuracy, content/style retrieval mAP, and the style robustness columns
(probe balanced accuracy on the test originals, on its stylized views, their ratio).

Supervised settings (`--settings=supervised`): a classifier trained on the original
views only (`sup-originals/...`) or on originals + stylized views (`sup+stylized/...`),
under full data, the class-imbalanced regime (--imbalance) and the scarce one
(--scarce), all for the same number of steps; beside them the majority class and a
random-init network. Scored on the test split's original views, its stylized views
and their ratio.

Every table gives the mean and sample standard deviation over seeds, then, seed by
seed, each setting's difference against its baselines (contrastive: random-init and
augment-only; supervised: originals only of the same regime, and random-init), and says
in words whether the mean difference is larger than the spread (the larger of the two
settings' standard deviations over seeds). Writes comparison.json and comparison.html
into --job-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

SETTINGS = {
    "augment-only": ["--pair_mode=augment", "--augment_strength=strong"],
    "style-contrastive": ["--pair_mode=styles", "--augment_strength=light"],
    "style+augment": ["--pair_mode=styles", "--augment_strength=strong"],
    "augment+style-p0.25": ["--pair_mode=augment", "--augment_strength=strong",
                            "--style_probability=0.25"],
    "augment+style-p0.5": ["--pair_mode=augment", "--augment_strength=strong",
                           "--style_probability=0.5"],
}
REGIMES = ("full", "imbalanced", "scarce")
VIEWS = {"sup-originals": ["--mode=supervised", "--train_views=originals"],
         "sup+stylized": ["--mode=supervised", "--train_views=all"]}
SUPERVISED = {f"{v}/{r}": args for r in REGIMES for v, args in VIEWS.items()}
SUP_BASELINES = ("majority class", "random-init network")
GROUPS = {
    "contrastive": ["majority/chance", "random-init", "augment-only", "style-contrastive",
                    "style+augment"],
    "style-p": ["majority/chance", "random-init", "augment-only", "augment+style-p0.25",
                "augment+style-p0.5"],
    "supervised": [*SUP_BASELINES, *SUPERVISED],
}
ROBUSTNESS = ("orig_balanced_accuracy", "styl_balanced_accuracy", "style_ratio")
METRICS = ("balanced_accuracy", "knn_accuracy", "content_map", "style_map", *ROBUSTNESS)
SUP_METRICS = (*ROBUSTNESS, "orig_accuracy")
LABELS = {"balanced_accuracy": "probe bal.acc", "knn_accuracy": "kNN acc",
          "content_map": "content mAP", "style_map": "style mAP",
          "orig_balanced_accuracy": "orig bal.acc", "styl_balanced_accuracy": "styl bal.acc",
          "style_ratio": "styl/orig", "orig_accuracy": "orig acc"}
BASELINES = ("random-init", "augment-only")


def _nan(v):
  return float("nan") if v is None else v


def _robustness(rob: dict) -> dict:
  return {"orig_balanced_accuracy": _nan(rob["original"]["balanced_accuracy"]),
          "styl_balanced_accuracy": _nan(rob["stylized"]["balanced_accuracy"]),
          "style_ratio": _nan(rob["ratio"])}


def _row_metrics(probe: dict, encoder: str) -> dict:
  row = next(r for r in probe["rows"] if r["name"] == encoder)
  emb = next((r for r in probe["retrieval"]
              if r["encoder"] == encoder and r["representation"] == "embedding"), None)
  return {"balanced_accuracy": row["metrics"]["linear/balanced_accuracy"],
          "knn_accuracy": row["metrics"]["knn/accuracy"],
          **{f"{kind}_map": emb[kind]["map"] if emb and emb[kind]["map"] is not None
             else float("nan") for kind in ("content", "style")},
          **_robustness(row["robustness"]["linear"])}


def _chance_metrics(probe: dict) -> dict:
  """The probe's majority-class row and chance retrieval, as a row of the table (its
  kNN column: the majority class's plain accuracy)."""
  row = next(r for r in probe["rows"] if r["name"] == "majority class")
  chance = next((r for r in probe["retrieval"] if r["encoder"] == "chance"), None)
  return {"balanced_accuracy": row["linear"]["balanced_accuracy"],
          "knn_accuracy": row["linear"]["accuracy"],
          **{f"{kind}_map": _nan(chance[kind]["map"]) if chance else float("nan")
             for kind in ("content", "style")},
          **_robustness(row["robustness"]["linear"])}


def _sup_metrics(sup: dict, name: str) -> dict:
  row = next(r for r in sup["rows"] if r["name"] == name)
  return {**_robustness(row["robustness"]), "orig_accuracy": row["linear"]["accuracy"]}


def difference(a: list, b: list) -> dict:
  """Per-seed a - b, its mean, and whether that mean exceeds the spread of a and b."""
  from trainer import metrics
  per_seed = [x - y for x, y in zip(a, b)]
  mean, std = metrics.mean_and_spread(per_seed)
  spread = max(metrics.mean_and_spread(a)[1], metrics.mean_and_spread(b)[1])
  higher = sum(d > 0 for d in per_seed)
  larger = abs(mean) > spread and len(per_seed) > 1
  words = (f"{'larger than' if larger else 'within'} the spread (|{mean:+.3f}| "
           f"{'>' if larger else '<='} {spread:.3f}); higher on {higher} of "
           f"{len(per_seed)} seeds")
  if larger and higher in (0, len(per_seed)):
    words += ": a difference these seeds support"
  elif len(per_seed) < 2:
    words += ": one seed, no spread to judge it by"
  elif not larger:
    words += ": not distinguishable from seed-to-seed variation"
  return {"per_seed": per_seed, "mean": mean, "std": std, "spread": spread,
          "larger_than_spread": larger, "seeds_higher": higher, "words": words}


def differences(values: dict) -> list[dict]:
  """Every trained contrastive setting against each baseline present, for every
  metric; each supervised setting with stylized views against the same regime's
  originals only (every metric) and against the random-init network."""
  out = []

  def add(setting, base, metrics_):
    for m in metrics_:
      out.append({"setting": setting, "baseline": base, "metric": m,
                  **difference(values[setting][m], values[base][m])})
  contrastive = [s for s in values if s in SETTINGS or s == "random-init"]
  for base in BASELINES:
    if base not in values:
      continue
    for setting in contrastive:
      if setting not in BASELINES[:BASELINES.index(base) + 1]:
        add(setting, base, METRICS)
  for regime in REGIMES:
    orig, styl = f"sup-originals/{regime}", f"sup+stylized/{regime}"
    if orig in values and styl in values:
      add(styl, orig, SUP_METRICS)
  if "random-init network" in values:
    for setting in (s for s in values if s in SUPERVISED):
      add(setting, "random-init network", ("orig_balanced_accuracy",))
  return out


def print_table(rows: list[dict], diffs: list[dict], seeds: list[int],
                metrics_=METRICS, title: str = "") -> None:
  header = f"{'setting':26s}" + "".join(f"{LABELS[m]:>17s}" for m in metrics_)
  print(f"{title or 'comparison'} over seeds {seeds} (mean ± std)\n{header}")
  for r in rows:
    print(f"{r['setting']:26s}" + "".join(
        f"{r[m]['mean']:>9.3f} ± {r[m]['std']:<5.3f}" for m in metrics_))
  if diffs:
    print(f"per-seed differences (seeds {', '.join(str(s) for s in seeds)}):")
  for d in diffs:
    print(f"  {LABELS[d['metric']]:13s} {d['setting']} - {d['baseline']}: "
          f"{' '.join(f'{v:+.3f}' for v in d['per_seed'])}; {d['words']}")


def _expand(spec: str) -> list[str]:
  out = []
  for s in (x.strip() for x in spec.split(",")):
    for name in GROUPS.get(s, [s] if s else []):
      if name not in out:
        out.append(name)
  return out


def _run(setting, seed, args, trainer_args) -> dict:
  job = os.path.join(args.job_dir, setting.replace("/", "_"), f"seed_{seed}")
  from trainer import task
  if setting in SUPERVISED:
    regime = setting.split("/")[1]
    extra = {"full": [], "imbalanced": [f"--imbalance_fraction={args.imbalance}"],
             "scarce": [f"--scarce_fraction={args.scarce}"]}[regime]
    return task.main(trainer_args + SUPERVISED[setting] + extra + [
        f"--job-dir={job}", f"--seed={seed}", "--no-report"])
  return task.main(trainer_args + SETTINGS[setting] + [
      f"--job-dir={job}", f"--seed={seed}", "--mode=all", "--no-report"])


def _table_rows(values: dict, names: list[str], metrics_) -> list[dict]:
  from trainer import metrics
  rows = []
  for setting in names:
    row = {"setting": setting}
    for m in metrics_:
      mean, std = metrics.mean_and_spread(values[setting][m])
      row[m] = {"mean": mean, "std": std, "values": values[setting][m]}
    rows.append(row)
  return rows


def _html_section(rows, diffs, seeds, metric, metrics_) -> Optional[dict]:
  """One comparison table of the report; None without rows (the report leaves it out)."""
  if not rows:
    return None
  return {"metric": f"{LABELS[metric]} (test split)", "seeds": seeds,
          "rows": [{"setting": r["setting"], **{k: r[metric][k]
                                                for k in ("mean", "std", "values")},
                    "columns": {LABELS[m]: {k: r[m][k] for k in ("mean", "std")}
                                for m in metrics_}} for r in rows],
          "differences": [d for d in diffs if d["metric"] == metric]}


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(prog="python -m trainer.compare", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="Any other flag (--config=demo, --max_steps=N, ...) "
                                     "goes to every training run: python -m "
                                     "trainer.task --help lists them.")
  p.add_argument("--job-dir", "--job_dir", dest="job_dir", required=True)
  p.add_argument("--seeds", default="0,1,2", help="comma-separated, at least 3")
  p.add_argument("--settings", default="contrastive",
                 help="comma-separated settings or groups (" + ", ".join(
                     f"{g}: {' '.join(v)}" for g, v in GROUPS.items()) + ")")
  p.add_argument("--imbalance", type=float, default=0.2,
                 help="imbalanced regime: fraction of the --imbalance_classes' (default: "
                      "the first half of the classes) training contents kept")
  p.add_argument("--scarce", type=float, default=0.25,
                 help="scarce regime: fraction of every class's training contents kept")
  args, trainer_args = p.parse_known_args(argv)
  seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
  settings = _expand(args.settings)
  known = {*SETTINGS, "random-init", "majority/chance", *SUPERVISED, *SUP_BASELINES}
  unknown = set(settings) - known
  if unknown or len(seeds) < 1:
    raise SystemExit(f"error: unknown settings {sorted(unknown)} or no seeds")
  if len(seeds) < 3:
    print("warning: fewer than 3 seeds: the spread means little", file=sys.stderr)
  contrastive = [s for s in settings
                 if s in SETTINGS or s in ("random-init", "majority/chance")]
  supervised = [s for s in settings if s in SUPERVISED or s in SUP_BASELINES]
  values: dict[str, dict[str, list]] = {
      s: {m: [] for m in (METRICS if s in contrastive else SUP_METRICS)} for s in settings}
  trained = [s for s in contrastive if s in SETTINGS] or (
      ["augment-only"] if contrastive else [])
  sup_trained = [s for s in supervised if s in SUPERVISED] or (
      ["sup-originals/full"] if supervised else [])
  for seed in seeds:
    for setting in trained:
      probe = _run(setting, seed, args, trainer_args)["probe"]["probe"]
      if setting in values:
        for m, v in _row_metrics(probe, "pretrained encoder").items():
          values[setting][m].append(v)
      if setting == trained[0]:
        for name, got in (("random-init", lambda: _row_metrics(probe, "random-init encoder")),
                          ("majority/chance", lambda: _chance_metrics(probe))):
          if name in values:
            for m, v in got().items():
              values[name][m].append(v)
    for setting in sup_trained:
      sup = _run(setting, seed, args, trainer_args)["supervised"]
      names = ([setting] if setting in values else []) + (
          [b for b in SUP_BASELINES if b in values] if setting == sup_trained[0] else [])
      for name in names:
        row = "trained classifier" if name == setting else name
        for m, v in _sup_metrics(sup, row).items():
          values[name][m].append(v)
  rows = _table_rows(values, contrastive, METRICS)
  sup_rows = _table_rows(values, supervised, SUP_METRICS)
  diffs = differences(values)
  result = {"seeds": seeds, "rows": rows, "metric_names": list(METRICS),
            "supervised_rows": sup_rows, "supervised_metric_names": list(SUP_METRICS),
            "regimes": {"imbalance_fraction": args.imbalance, "scarce_fraction": args.scarce},
            "differences": diffs}
  os.makedirs(args.job_dir, exist_ok=True)
  with open(os.path.join(args.job_dir, "comparison.json"), "w") as f:
    json.dump(result, f, indent=2)
  from trainer import report
  sup_diffs = [d for d in diffs if d["setting"] in SUPERVISED]
  other_diffs = [d for d in diffs if d not in sup_diffs]
  report.write(os.path.join(args.job_dir, "comparison.html"), report.Results(
      run=report.Run(title="Comparison of training settings", job_dir=args.job_dir,
                     command="python -m trainer.compare " + " ".join(argv or sys.argv[1:])),
      comparison=_html_section(rows, other_diffs, seeds, "balanced_accuracy", METRICS),
      supervised_comparison=_html_section(sup_rows, sup_diffs, seeds,
                                          "orig_balanced_accuracy", SUP_METRICS)))
  if rows:
    print_table(rows, other_diffs, seeds, METRICS,
                "linear probe / kNN / retrieval of pretrained encoders")
  if sup_rows:
    print_table(sup_rows, sup_diffs, seeds, SUP_METRICS,
                f"supervised classifiers (imbalanced: {args.imbalance:g} of the thinned "
                f"classes' contents; scarce: {args.scarce:g} of every class's)")
  print("orig / styl: balanced accuracy on the test split's original views / its "
        "stylized views (held-out styles when the dataset has them); styl/orig: their "
        "ratio")
  print(f"written: {os.path.join(args.job_dir, 'comparison.json')}")
  return result


if __name__ == "__main__":
  main()
