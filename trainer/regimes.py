"""Training data regimes and held-out styles, decided from the records themselves.

The earlier work augmented a classifier with style transfer under two regimes:
class-imbalanced (a fraction of some classes' training contents kept) and scarce (a
fraction of all training contents kept). Both select whole contents, seeded, so the
views of one content stay together: the trainer then reads only the selected content
ids (trainer.data's `keep_content_ids`).

Style robustness is measured on stylized test views whose styles the model never saw
in training. Which styles those are is read from the records (styles in the test split
that never occur in the train split), not from the job that wrote them: a consumer of
the dataset has only the shards.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class SplitIndex:
  """One entry per record of a split: its content, style and label (text)."""
  content_ids: np.ndarray
  style_ids: np.ndarray
  labels: np.ndarray  # object array of str ("" = unlabelled)

  def content_labels(self) -> dict[int, str]:
    return dict(zip(self.content_ids.tolist(), self.labels.tolist()))

  def class_names(self) -> tuple:
    return tuple(sorted({t for t in self.labels.tolist() if t}))


def scan_split(files: list[str], label_field: str = "view_primary_label") -> SplitIndex:
  """Reads ids and the label of every record of a split, no image decoded."""
  import tensorflow as tf
  from tfrecords_schema import feature_spec
  from trainer import records as records_lib
  full = feature_spec()
  spec = {k: full[k] for k in ("content_id", "style_id", label_field)}
  parts = {k: [] for k in spec}
  ds = records_lib.read_files(files).batch(1024).map(
      lambda s: tf.io.parse_example(s, spec), num_parallel_calls=tf.data.AUTOTUNE)
  for b in ds:
    for k in spec:
      parts[k].append(b[k].numpy())
  cat = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
  labels = np.array([v.decode() if isinstance(v, bytes) else str(v)
                     for v in cat[label_field]], dtype=object)
  return SplitIndex(cat["content_id"].astype(np.int64), cat["style_id"].astype(np.int64),
                    labels)


def resolve_classes(spec: str, class_names: tuple) -> list[str]:
  """--imbalance_classes: comma-separated names, or "half" (the first half of the
  sorted class names, rounded up)."""
  if spec.strip() == "half":
    return list(class_names[:(len(class_names) + 1) // 2])
  chosen = [c.strip() for c in spec.split(",") if c.strip()]
  unknown = [c for c in chosen if c not in class_names]
  if unknown or not chosen:
    raise ValueError(f"--imbalance_classes {spec!r}: {unknown or 'none given'} not among "
                     f"the training classes {list(class_names)}")
  return chosen


def select_contents(content_labels: dict[int, str], seed: int,
                    scarce_fraction: float = 1.0, imbalance_classes=(),
                    imbalance_fraction: float = 1.0) -> np.ndarray:
  """Sorted content ids to train on: per class (unlabelled contents form their own
  group), a seeded choice of round(n x fraction) contents, at least one, where the
  fraction is scarce_fraction, times imbalance_fraction for the imbalanced classes."""
  for name, f in (("scarce_fraction", scarce_fraction),
                  ("imbalance_fraction", imbalance_fraction)):
    if not 0.0 < f <= 1.0:
      raise ValueError(f"{name} must be in (0, 1], got {f}")
  by_class: dict[str, list[int]] = {}
  for cid, label in content_labels.items():
    by_class.setdefault(label, []).append(cid)
  kept = []
  for i, (label, ids) in enumerate(sorted(by_class.items())):
    f = scarce_fraction * (imbalance_fraction if label in imbalance_classes else 1.0)
    n = len(ids) if f >= 1.0 else max(1, int(round(f * len(ids))))
    rng = np.random.default_rng([seed, i, 0x5E1EC7])
    kept.extend(np.asarray(sorted(ids))[rng.permutation(len(ids))[:n]].tolist())
  return np.array(sorted(kept), np.int64)


def regime_summary(content_labels: dict[int, str], kept: np.ndarray) -> dict:
  """Contents per class before and after the selection."""
  kept_set = set(kept.tolist())
  out: dict[str, list[int]] = {}
  for cid, label in content_labels.items():
    row = out.setdefault(label or "(unlabelled)", [0, 0])
    row[0] += 1
    row[1] += cid in kept_set
  return {k: {"contents": v[0], "kept": v[1]} for k, v in sorted(out.items())}


def select_data(cfg, files: list[str], index=None) -> dict:
  """The classes (supervised) and the contents of the data regime, from one scan of
  the split's ids and labels (or `index`, that scan); {} when neither is needed."""
  regime = cfg.scarce_fraction < 1 or cfg.imbalance_fraction < 1
  if cfg.mode != "supervised" and not regime:
    return {}
  from trainer.records import DataError
  index = index or scan_split(files, cfg.label)
  classes = index.class_names()
  out = {"label_field": cfg.label, "class_names": list(classes)}
  supervised = cfg.mode == "supervised"
  if supervised and len(classes) < 2:
    raise DataError(f"{cfg.data}: split {cfg.split!r} has {len(classes)} classes of "
                    f"--label={cfg.label}; supervised training needs at least 2")
  if supervised and cfg.train_views == "originals" and not (index.style_ids < 0).any():
    raise DataError(f"{cfg.data}: split {cfg.split!r} has no original views (the "
                    "dataset job's --include_original); --train_views=originals needs "
                    "them")
  if regime:
    labels = index.content_labels()
    thinned = []
    if cfg.imbalance_fraction < 1:
      try:
        thinned = resolve_classes(cfg.imbalance_classes, classes)
      except ValueError as e:
        raise DataError(str(e)) from None
    kept = select_contents(labels, cfg.seed, cfg.scarce_fraction, thinned,
                           cfg.imbalance_fraction)
    out.update(keep_content_ids=tuple(kept.tolist()),
               regime={"scarce_fraction": cfg.scarce_fraction,
                       "imbalance_classes": thinned,
                       "imbalance_fraction": cfg.imbalance_fraction,
                       "per_class": regime_summary(labels, kept)})
  return out


def held_out_styles(train_style_ids, test_style_ids,
                    plan: Optional[dict] = None) -> tuple[Optional[set], str]:
  """(styles the stylized test views must be in, how they were chosen).

  The styles of the test split that never occur in the train split, when there are
  any; None (every stylized view) when there are none, or when the dataset's metadata
  says it holds out no style (then any unseen style is an accident of sampling)."""
  seen = {int(s) for s in np.asarray(train_style_ids).tolist() if s >= 0}
  unseen = {int(s) for s in np.asarray(test_style_ids).tolist() if s >= 0} - seen
  if plan is not None and not plan.get("holdout_style_fraction", 0):
    return None, "styles also used in training (the dataset holds none out)"
  if not unseen:
    return None, "styles also used in training (none of the test styles is unseen)"
  return unseen, f"{len(unseen)} styles never seen in training"


def view_groups(style_ids, held_out: Optional[set]) -> dict[str, np.ndarray]:
  """Masks of the test views: originals, and stylized views (in held-out styles)."""
  s = np.asarray(style_ids)
  stylized = s >= 0
  if held_out is not None:
    stylized &= np.isin(s, np.fromiter(held_out, np.int64, len(held_out)))
  return {"original": s < 0, "stylized": stylized}
