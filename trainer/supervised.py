"""Evaluation of the supervised mode (`python -m trainer.task --mode=supervised`).

The classifier of the latest checkpoint (encoder rebuilt from its saved configuration,
every weight checked, classes from classes.json) predicts the test split. The headline
is balanced accuracy on the test split's ORIGINAL views; beside it, the same on its
stylized views (in styles never seen in training, when the dataset holds styles out:
trainer.regimes.held_out_styles) and their ratio. The same table holds the majority
class of the training contents actually used (so an imbalanced regime's majority) and
a random-init network of the same architecture. Writes supervised.json.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from trainer import checkpoints
from trainer import metrics, records, regimes
from trainer.config import Config


CLASSES_FILE = "classes.json"


def write_classes(selection: dict, folder: str) -> None:
  checkpoints.write_json(os.path.join(folder, CLASSES_FILE),
                         {"label_field": selection["label_field"],
                          "class_names": selection["class_names"]})


def read_classes(folder: str) -> dict | None:
  return checkpoints.read_json(os.path.join(folder, CLASSES_FILE))


def check_classes(selection: dict, ckpt_dir: str) -> None:
  saved = read_classes(ckpt_dir)
  if saved and saved["class_names"] != selection["class_names"]:
    raise checkpoints.ModelConfigError(
        f"the classes of --label={selection['label_field']} in this data "
        f"({selection['class_names']}) differ from the checkpoint's "
        f"({saved['class_names']}, {os.path.join(ckpt_dir, CLASSES_FILE)})")


def _restore(mcfg, ckpt_dir: str, num_classes: int):
  """(encoder, classifier) of the latest checkpoint, every weight checked."""
  from trainer.model import build_model
  from trainer.steps import classifier_head
  path = tf.train.latest_checkpoint(ckpt_dir)
  if not path:
    raise checkpoints.ModelConfigError(f"no checkpoint in {ckpt_dir}: train first "
                                       "(--mode=supervised)")
  model = build_model(mcfg)
  head = classifier_head(model, num_classes)
  status = tf.train.Checkpoint(model=model, classifier=head).restore(path)
  checkpoints.check_every_weight(status, model, path)
  return model, head


def predict(model, head, files: list[str], image_size: int, label_field: str,
            class_names: list[str]) -> dict:
  """Predicted class, true class (-1: not a training class), style id per record."""
  pred, true, styles = [], [], []
  index = {n: i for i, n in enumerate(class_names)}
  for b in records.make_record_dataset(files, image_size, 64, extra=[label_field]):
    out = model(b["image"], training=False)
    pred.append(tf.argmax(head(out["features"], training=False), -1).numpy())
    true.extend(index.get(v.decode(), -1) for v in b[label_field].numpy())
    styles.append(b["style_id"].numpy())
  return {"pred": np.concatenate(pred), "true": np.array(true, np.int64),
          "style_ids": np.concatenate(styles)}


def _row(name: str, kind: str, y_true, y_pred, groups: dict, k: int) -> dict:
  orig = groups["original"]
  rep = metrics.classification_report(y_true[orig], y_pred[orig], k)
  return {"name": name, "kind": kind, "linear": rep,
          "robustness": metrics.style_robustness(y_true, y_pred, groups, k)}


def evaluate(cfg: Config) -> dict:
  """The supervised table on cfg.probe_test_split; writes supervised.json."""
  import keras
  from trainer.model import build_model
  from trainer.steps import classifier_head
  mcfg = checkpoints.saved_model_config(cfg, cfg.checkpoint_dir)
  cfg = checkpoints.adopt(cfg, mcfg)
  classes = read_classes(cfg.checkpoint_dir)
  if classes is None:
    raise checkpoints.ModelConfigError(
        f"no {CLASSES_FILE} in {cfg.checkpoint_dir}: not a supervised run")
  names, label_field = classes["class_names"], classes["label_field"]
  k = len(names)
  trained = _restore(mcfg, cfg.checkpoint_dir, k)
  keras.utils.set_random_seed(cfg.seed + 1)
  random_model = build_model(mcfg)
  random_init = (random_model, classifier_head(random_model, k))

  train_files = records.resolve_files(cfg.data, cfg.split)
  test_files = records.resolve_files(cfg.data, cfg.probe_test_split)
  index = regimes.scan_split(train_files, label_field)
  selection = regimes.select_data(cfg, train_files, index)
  kept = selection.get("keep_content_ids")
  used = index.content_labels()
  if kept is not None:
    used = {c: used[c] for c in kept}
  counts = np.bincount([names.index(t) for t in used.values() if t in names],
                       minlength=k)

  preds = {"random-init network": predict(*random_init, test_files, cfg.image_size,
                                          label_field, names),
           "trained classifier": predict(*trained, test_files, cfg.image_size,
                                         label_field, names)}
  first = preds["trained classifier"]
  labelled = first["true"] >= 0
  meta = records.read_metadata(cfg.data)
  held, how = regimes.held_out_styles(index.style_ids, first["style_ids"],
                                      meta["plan"] if meta else None)
  groups = {g: m[labelled] for g, m in regimes.view_groups(first["style_ids"],
                                                            held).items()}
  y = first["true"][labelled]
  if not groups["original"].any():
    raise records.DataError(f"{cfg.data}: the {cfg.probe_test_split} split has no "
                            "labelled original views (the dataset job's "
                            "--include_original) to evaluate on")
  rows = [_row("majority class", "baseline", y, np.full(len(y), int(counts.argmax())),
               groups, k)]
  for name, p in preds.items():
    rows.append(_row(name, "baseline" if name.startswith("random") else "model",
                     y, p["pred"][labelled], groups, k))
  styl = first["style_ids"][labelled][groups["stylized"]]
  result = {"label_field": label_field, "class_names": names,
            "train_split": cfg.split, "test_split": cfg.probe_test_split,
            "train_views": cfg.train_views,
            "train_contents_per_class": dict(zip(names, counts.tolist())),
            "n_test": int(groups["original"].sum()), "rows": rows,
            "robustness": {"stylized_styles": how,
                           "n_original": int(groups["original"].sum()),
                           "n_stylized": int(groups["stylized"].sum()),
                           "stylized_style_ids": sorted(set(styl.tolist()))},
            "test_labels_unseen_in_train": int((~labelled).sum()),
            "model_config": dataclasses.asdict(mcfg)}
  tf.io.gfile.makedirs(cfg.job_dir)
  with tf.io.gfile.GFile(os.path.join(cfg.job_dir, "supervised.json"), "w") as f:
    json.dump(result, f, indent=2)
  return result


def summary_table(sup: dict) -> str:
  """The supervised table as text, baselines included, for the console."""
  from trainer.probe import robustness_cells, robustness_note
  per_class = ", ".join(f"{n} {c}" for n, c in sup["train_contents_per_class"].items())
  lines = [f"supervised classifier on {sup['label_field']} ({len(sup['class_names'])} "
           f"classes; trained on {sup['train_views']} views of {per_class} contents; "
           f"tested on {sup['n_test']} original {sup['test_split']} views; chance "
           f"balanced accuracy {1 / len(sup['class_names']):.3f})",
           f"  {'':22s} {'acc':>6s} {'bal.acc':>7s} {'macroF1':>7s} | {'orig':>6s} "
           f"{'styl':>6s} {'ratio':>5s}"]
  for r in sup["rows"]:
    lin = r["linear"]
    lines.append(f"  {r['name']:22s} {lin['accuracy']:6.3f} {lin['balanced_accuracy']:7.3f}"
                 f" {lin['macro_f1']:7.3f} | {robustness_cells(r['robustness'])}")
  lines.append(robustness_note(sup["robustness"]))
  return "\n".join(lines)
