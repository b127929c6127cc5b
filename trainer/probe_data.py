"""What the probe evaluates: a split's images embedded by every encoder at once, from
stylized TFRecords or from a labelled image folder (or CSV), with ids, labels and
thumbnails for the report."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
from typing import Iterator

import numpy as np
import tensorflow as tf

from trainer import choices, records

THUMB = 64


@dataclasses.dataclass
class Embedded:
  """Everything the probe keeps of a split: features, ids, labels, thumbnails."""
  features: dict[str, np.ndarray]      # representation name -> [N, D]
  labels: list[str]                    # label as text ("" = unlabelled)
  content_ids: np.ndarray
  style_ids: np.ndarray
  thumbs: np.ndarray                   # uint8 [N, THUMB, THUMB, 3]
  captions: list[str]
  skipped: list[str] = dataclasses.field(default_factory=list)


def _representations(model, images) -> dict[str, np.ndarray]:
  out = model(images, training=False)
  reps = {"features": out["features"].numpy(),
          "embedding": tf.math.l2_normalize(out["embedding"], -1).numpy()}
  if "style_embedding" in out:
    reps["style_embedding"] = tf.math.l2_normalize(out["style_embedding"], -1).numpy()
  return reps


def _thumbs(images) -> np.ndarray:
  return tf.cast(tf.round(tf.image.resize(images, [THUMB, THUMB]) * 255),
                 tf.uint8).numpy()


def collect(batches: Iterator[dict], models: dict) -> dict[str, Embedded]:
  """Runs every model over the same batches once; returns one Embedded per model."""
  feats = {name: {} for name in models}
  labels, cids, sids, thumbs, captions = [], [], [], [], []
  for b in batches:
    for name, model in models.items():
      for rep, v in _representations(model, b["image"]).items():
        feats[name].setdefault(rep, []).append(v)
    labels.extend(b["label_text"])
    cids.append(b["content_id"])
    sids.append(b["style_id"])
    thumbs.append(_thumbs(b["image"]))
    captions.extend(b["caption"])
  out = {}
  for name in models:
    out[name] = Embedded(
        {rep: np.concatenate(v) for rep, v in feats[name].items()}, labels,
        np.concatenate(cids) if cids else np.zeros(0, np.int64),
        np.concatenate(sids) if sids else np.zeros(0, np.int64),
        np.concatenate(thumbs) if thumbs else np.zeros((0, THUMB, THUMB, 3), np.uint8),
        captions)
  return out


def record_batches(data: str, split: str, label: str, image_size: int,
                   batch_size: int = 64) -> Iterator[dict]:
  """Batches of a split's records with the chosen label as text."""
  field = choices.PROBE_LABEL_FIELDS[label]
  files = records.resolve_files(data, split)
  for b in records.make_record_dataset(files, image_size, batch_size, extra=[field]):
    values = b[field].numpy()
    if field == "style_id":
      text = [str(v) if v >= 0 else "" for v in values]
    else:
      text = [v.decode() for v in values]
    styles = [(n.decode() or a.decode() or ("original" if o else "style"))
              for n, a, o in zip(b["style_name"].numpy(), b["style_artist"].numpy(),
                                 b["is_original"].numpy())]
    yield {"image": b["image"], "label_text": text,
           "content_id": b["content_id"].numpy(), "style_id": b["style_id"].numpy(),
           "caption": [f"{t or '?'} / {s}" for t, s in zip(text, styles)]}


def folder_items(path: str) -> list[tuple[str, str]]:
  """(image path, label) from a one-folder-per-class tree or a CSV of path,label."""
  if path.lower().endswith(".csv"):
    base = os.path.dirname(path)
    with tf.io.gfile.GFile(path) as f:
      rows = list(csv.reader(f))
    if rows and rows[0][:2] == ["path", "label"]:
      rows = rows[1:]
    items = [(r[0] if os.path.isabs(r[0]) or "://" in r[0] else os.path.join(base, r[0]),
              r[1]) for r in rows if len(r) >= 2]
  else:
    items = [(os.path.join(path, cls, name), cls)
             for cls in sorted(tf.io.gfile.listdir(path))
             if tf.io.gfile.isdir(os.path.join(path, cls))
             for name in sorted(tf.io.gfile.listdir(os.path.join(path, cls)))
             if not name.startswith(".")
             and not tf.io.gfile.isdir(os.path.join(path, cls, name))]
  if not items:
    raise records.DataError(f"no labelled images at {path} (expected <class>/<image> "
                            "folders or a CSV of path,label)")
  return items


def folder_split(item_path: str, seed: int, test_fraction: float = 0.3) -> str:
  """Image-level split by a seeded hash of the path: an image is never in both."""
  h = hashlib.sha256(f"{seed}:{item_path}".encode()).digest()
  return "test" if int.from_bytes(h[:8], "big") / 2**64 < test_fraction else "train"


def folder_batches(items: list[tuple[str, str]], image_size: int, skipped: list[str],
                   batch_size: int = 64) -> Iterator[dict]:
  """Decodes with PIL; an unreadable image is skipped and listed, never silent."""
  from PIL import Image, ImageOps
  buf: list = []

  def flush():
    imgs = tf.image.resize(tf.constant(np.stack([b[0] for b in buf])), [image_size] * 2)
    out = {"image": tf.cast(imgs, tf.float32) / 255.0,
           "label_text": [b[1] for b in buf],
           "content_id": np.array([b[2] for b in buf], np.int64),
           "style_id": np.full(len(buf), -1, np.int64),
           "caption": [b[1] for b in buf]}
    buf.clear()
    return out

  for path, label in items:
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(f.read())))
        arr = np.asarray(img.convert("RGB"))
    except Exception as e:  # a bad file in a user's folder: listed in the results
      skipped.append(f"{path}: {type(e).__name__}: {e}")
      continue
    content_id = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") >> 1
    buf.append((np.asarray(tf.image.resize(arr, [image_size] * 2)).astype(np.float32),
                label, content_id))
    if len(buf) == batch_size:
      yield flush()
  if buf:
    yield flush()


def load_splits(source: str, cfg, models: dict):
  """(train, test, label field, split names, skipped images) for the probe: the
  configured splits of a stylized dataset, or a folder split by a hash of the path."""
  skipped: list[str] = []
  if records.is_stylized_dataset(source):
    problem = choices.problem("probe_label", cfg.probe_label)
    if problem:  # config.parse checks it too; a Config may be built in code
      raise records.DataError(problem)
    train = collect(record_batches(source, cfg.probe_train_split, cfg.probe_label,
                                   cfg.image_size), models)
    test = collect(record_batches(source, cfg.probe_test_split, cfg.probe_label,
                                  cfg.image_size), models)
    return (train, test, cfg.probe_label, (cfg.probe_train_split, cfg.probe_test_split),
            skipped)
  parts = {"train": [], "test": []}
  for it in folder_items(source):
    parts[folder_split(it[0], cfg.seed)].append(it)
  train = collect(folder_batches(parts["train"], cfg.image_size, skipped), models)
  test = collect(folder_batches(parts["test"], cfg.image_size, skipped), models)
  return (train, test, "folder label", ("train (by path hash)", "test (by path hash)"),
          skipped)
