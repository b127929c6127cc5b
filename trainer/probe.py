"""Linear probing and retrieval of a frozen encoder, always beside its baselines.

`python -m trainer.task --mode=probe` (after pretraining) or `--mode=all`. The encoder
is rebuilt from the configuration saved with its checkpoints (trainer.checkpoints): a
model flag that disagrees with it is an error, and every weight must be restored. The
probe trains a softmax classifier on frozen backbone features of one split and tests it
on another; the same is done for a randomly initialised encoder of the same
architecture, and the majority-class predictor sits in the same table. All numbers come
from the evaluator registry (trainer.evaluators). For stylized data the splits are
content-disjoint by construction (the dataset job splits by content id); for a labelled
image folder, images are split by a hash of their path, so train and test never share
an image.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from tfrecords_schema import files
from trainer import checkpoints
from trainer import evaluators
from trainer import records
from trainer import regimes
from trainer.config import Config
from trainer.probe_data import Embedded, load_splits

SCALARS = ("linear/accuracy", "linear/balanced_accuracy", "linear/macro_f1",
           "linear/train_accuracy", "knn/accuracy", "knn/balanced_accuracy")


def _label_index(train: Embedded) -> dict[str, int]:
  return {n: i for i, n in enumerate(sorted({t for t in train.labels if t}))}


def _split(e: Embedded, rep: str, index: dict[str, int]) -> evaluators.Split:
  labels = np.array([index.get(t, -1) for t in e.labels], np.int64)
  return evaluators.Split(e.features[rep], labels, e.content_ids, e.style_ids)


def test_view_groups(train: Embedded, test: Embedded, plan=None) -> tuple[dict, dict]:
  """(masks of the test views: "original", "stylized" in held-out styles; a summary
  for the table): the robustness columns' two groups."""
  held, how = regimes.held_out_styles(train.style_ids, test.style_ids, plan)
  groups = regimes.view_groups(test.style_ids, held)
  used = sorted({int(s) for s in test.style_ids[groups["stylized"]].tolist()})
  return groups, {"stylized_styles": how, "n_original": int(groups["original"].sum()),
                  "n_stylized": int(groups["stylized"].sum()),
                  "stylized_style_ids": used}


def probe_rows(train: dict[str, Embedded], test: dict[str, Embedded], cfg: Config,
               plan=None):
  """The probe table: majority, then every encoder, on the same images and labels,
  with the style robustness columns (test originals vs stylized views)."""
  any_name = next(iter(train))
  groups, robustness = test_view_groups(train[any_name], test[any_name], plan)
  index = _label_index(train[any_name])
  names = list(index)
  n_test = sum(1 for t in test[any_name].labels if t in index)
  n_train = sum(1 for t in train[any_name].labels if t in index)
  unseen = sum(1 for t in test[any_name].labels if t and t not in index)
  if len(names) < 2 or n_test == 0:
    raise records.DataError(
        f"probe needs >= 2 classes in the training split and labelled test images; got "
        f"{len(names)} classes, {n_test} test images (label {cfg.probe_label!r})")
  opts = evaluators.Options(num_classes=len(names), knn_k=cfg.knn_k,
                            probe_steps=cfg.probe_steps, probe_l2=cfg.probe_l2,
                            groups=groups)
  base = evaluators.evaluate(["chance"], _split(train[any_name], "features", index),
                             _split(test[any_name], "features", index), opts)
  rows = [{"name": "majority class", "kind": "baseline", "linear": base["majority/report"],
           "train_accuracy": base["majority/train_accuracy"],
           "robustness": {"linear": base["majority/robustness"]}}]
  for name in train:
    v = evaluators.evaluate(["linear_probe", "knn"], _split(train[name], "features", index),
                            _split(test[name], "features", index), opts)
    rows.append({
        "name": name, "kind": "baseline" if name.startswith("random") else "model",
        "linear": v["linear/report"],
        "knn": {"k": cfg.knn_k, "accuracy": v["knn/accuracy"],
                "balanced_accuracy": v["knn/balanced_accuracy"]},
        "train_accuracy": v["linear/train_accuracy"],
        "metrics": {k: v[k] for k in SCALARS},
        "robustness": {"linear": v["linear/robustness"], "knn": v["knn/robustness"]},
    })
  info = {"class_names": names, "n_train": int(n_train), "n_test": int(n_test),
          "test_labels_unseen_in_train": int(unseen), "robustness": robustness}
  return rows, info


def _retrieval_entry(values: dict, prefix: str) -> dict:
  """{style|content: {map, recall_at_1[, queries]}}; None where nothing was queried."""
  return {kind: {"map": values.get(f"{prefix}/{kind}_map"),
                 "recall_at_1": values.get(f"{prefix}/{kind}_recall_at_1"),
                 **({"queries": values[f"{prefix}/{kind}_queries"]}
                    if f"{prefix}/{kind}_queries" in values else {})}
          for kind in ("style", "content")}


def retrieval_rows(test: dict[str, Embedded]) -> list[dict]:
  """ALADIN-NST retrieval on the test split: style (stylized views only) and content."""
  rows = []
  for name, e in test.items():
    for rep in e.features:
      s = _split(e, rep, {})
      rows.append({"encoder": name, "representation": rep,
                   **_retrieval_entry(evaluators.evaluate(["retrieval"], s, s), "retrieval")})
  s = _split(next(iter(test.values())), "features", {})
  return rows + [{"encoder": "chance", "representation": "-",
                  **_retrieval_entry(evaluators.evaluate(["chance"], s, s), "chance")}]


def retrieval_examples(e: Embedded, rep: str = "embedding", n: int = 2) -> list[dict]:
  """A few queries with their top 5, relevant ones marked, for the report."""
  x = e.features[rep] / np.maximum(
      np.linalg.norm(e.features[rep], axis=1, keepdims=True), 1e-12)
  out = []
  rng = np.random.default_rng(0)
  for kind, ids, mask in (("content", e.content_ids, np.ones(len(x), bool)),
                          ("style", e.style_ids, e.style_ids >= 0)):
    candidates = np.flatnonzero(mask)
    for q in rng.choice(candidates, size=min(n, len(candidates)), replace=False):
      sims = x @ x[q]
      sims[q] = -np.inf
      sims[~mask] = -np.inf
      top = np.argsort(-sims, kind="stable")[:5]
      out.append({"kind": kind, "query": e.thumbs[q], "query_caption": e.captions[q],
                  "results": [{"image": e.thumbs[t], "relevant": bool(ids[t] == ids[q]),
                               "caption": f"{'same' if ids[t] == ids[q] else 'other'} "
                                          f"{kind} · {e.captions[t]}"} for t in top]})
  return out


def run_probe(cfg: Config, pretrain_metrics: Optional[dict] = None) -> dict:
  """Probes the trained encoder (latest checkpoint) and a random-init twin; writes
  probe.json and report.html into the job dir; returns the results."""
  import keras
  from trainer.model import build_model
  mcfg = checkpoints.saved_model_config(cfg, cfg.checkpoint_dir)
  cfg = checkpoints.adopt(cfg, mcfg)
  trained = checkpoints.restore_encoder(mcfg, cfg.checkpoint_dir)
  keras.utils.set_random_seed(cfg.seed + 1)
  models = {"pretrained encoder": trained, "random-init encoder": build_model(mcfg)}

  start = time.time()
  source = cfg.probe_data or cfg.data
  train, test, label_field, splits, skipped = load_splits(source, cfg, models)
  stylized = records.is_stylized_dataset(source)
  meta = records.read_metadata(source) if stylized else None
  rows, info = probe_rows(train, test, cfg, meta["plan"] if meta else None)
  retrieval = retrieval_rows(test) if stylized else []
  results = {
      "probe": {"label_field": label_field, "train_split": splits[0],
                "test_split": splits[1], "rows": rows, "retrieval": retrieval,
                "skipped_images": skipped, "seconds": round(time.time() - start, 1),
                "model_config": dataclasses.asdict(mcfg), **info},
  }
  note = _split_note(meta, cfg)
  if note:
    results["probe"]["note"] = note
  tf.io.gfile.makedirs(cfg.job_dir)
  with tf.io.gfile.GFile(os.path.join(cfg.job_dir, "probe.json"), "w") as f:
    json.dump(results, f, indent=2)
  if cfg.report:
    results["report"] = _write_report(cfg, results["probe"], pretrain_metrics, meta, test)
  return results


def _split_note(meta: Optional[dict], cfg: Config) -> str:
  if meta and meta["plan"].get("holdout_style_fraction", 0) > 0 and \
      cfg.probe_test_split != "train":
    return (f"The {cfg.probe_test_split} split's contents are unseen in pretraining and "
            "its styles are held out from pretraining.")
  if meta:
    return (f"The {cfg.probe_test_split} split's contents are unseen in pretraining "
            "(splits are content-disjoint).")
  return "Folder images are split by a hash of their path: no image is in both."


def _write_report(cfg: Config, probe: dict, pretrain_metrics: Optional[dict],
                  meta: Optional[dict], test: dict[str, Embedded]) -> str:
  """report.html from the results in hand (trainer.report owns the layout). Pretraining
  that ran in an earlier process (--mode=probe) is known by the metrics.json it wrote."""
  from trainer import report
  if pretrain_metrics is None:
    pretrain_metrics = checkpoints.read_json(os.path.join(cfg.job_dir, "metrics.json"))
  stylized = {} if not meta else {
      "dataset": meta, "retrieval_examples": retrieval_examples(test["pretrained encoder"]),
      "contact_sheet": records.read_dataset_file(cfg.probe_data or cfg.data,
                                                 files.SHEET_FILENAME)}
  return report.write(os.path.join(cfg.job_dir, "report.html"), report.Results(
      run=report.Run.of(cfg), pretrain=pretrain_metrics or None, probe=probe, **stylized))


def f3(v) -> str:
  return "  —  " if v is None else f"{v:.3f}"


def robustness_cells(rob: dict | None) -> str:
  """'orig  styl  ratio' balanced accuracies of one classifier, for text tables."""
  rob = rob or {}
  return (f"{f3((rob.get('original') or {}).get('balanced_accuracy')):>6s} "
          f"{f3((rob.get('stylized') or {}).get('balanced_accuracy')):>6s} "
          f"{f3(rob.get('ratio')):>5s}")


def robustness_note(info: dict | None) -> str:
  if not info:
    return ""
  if not info["n_stylized"]:
    return "  orig / styl: no stylized test views, so no style robustness to measure"
  return (f"  orig / styl: balanced accuracy on the test split's {info['n_original']} "
          f"original views / {info['n_stylized']} stylized views in "
          f"{info['stylized_styles']}; ratio = styl / orig")


def summary_table(probe: dict) -> str:
  """The probe table as text, baselines included, for the console."""
  chance = 1.0 / len(probe["class_names"])
  lines = [f"linear probe on {probe['label_field']} ({len(probe['class_names'])} "
           f"classes, {probe['n_train']} train / {probe['n_test']} test images; chance "
           f"balanced accuracy {chance:.3f})",
           f"  {'':22s} {'acc':>6s} {'bal.acc':>7s} {'macroF1':>7s} {'kNN acc':>7s} "
           f"{'train acc':>9s} | {'orig':>6s} {'styl':>6s} {'ratio':>5s} | kNN "
           f"{'orig':>6s} {'styl':>6s} {'ratio':>5s}"]
  for r in probe["rows"]:
    lin, knn = r["linear"], r.get("knn", {})
    rob = r.get("robustness") or {}
    lines.append(f"  {r['name']:22s} {lin['accuracy']:6.3f} {lin['balanced_accuracy']:7.3f}"
                 f" {lin['macro_f1']:7.3f} {knn.get('accuracy', float('nan')):7.3f} "
                 f"{r.get('train_accuracy', float('nan')):9.3f} | "
                 f"{robustness_cells(rob.get('linear'))} |     "
                 f"{robustness_cells(rob.get('knn')) if 'knn' in rob else ''}")
  if probe.get("robustness"):
    lines.append(robustness_note(probe["robustness"]))
  for r in probe.get("retrieval", []):
    lines.append(f"  retrieval {r['encoder']:>20s} {r['representation']:15s} style mAP "
                 f"{f3(r['style']['map'])} R@1 {f3(r['style']['recall_at_1'])} | content "
                 f"mAP {f3(r['content']['map'])} R@1 {f3(r['content']['recall_at_1'])}")
  return "\n".join(lines)
