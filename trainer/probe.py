"""Linear probing and retrieval of a frozen encoder, always beside its baselines.

`python -m trainer.task --mode=probe` (after pretraining) or `--mode=all`. The probe
trains a softmax classifier on frozen backbone features of one split and tests it on
another; the same is done for a randomly initialised encoder of the same architecture,
and the majority-class predictor sits in the same table. For stylized data the splits
are content-disjoint by construction (the dataset job splits by content id); for a
labelled image folder, images are split by a hash of their path, so train and test never
share an image.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import time
from typing import Iterator, Optional

import numpy as np
import tensorflow as tf

from trainer import data as data_lib
from trainer import metrics
from trainer.config import Config

log = logging.getLogger("trainer")

LABEL_FIELDS = {
    "content_primary_label": "content_primary_label",
    "style": "style_id",
    "style_name": "style_name",
    "artist": "style_artist",
}
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


def _collect(batches: Iterator[dict], models: dict) -> dict[str, Embedded]:
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
  field = LABEL_FIELDS[label]
  files = data_lib.resolve_files(data, split)
  for b in data_lib.make_record_dataset(files, image_size, batch_size, extra=[field]):
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
    raise data_lib.DataError(f"no labelled images at {path} (expected <class>/<image> "
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


def train_linear(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float = 1e-4,
                 steps: int = 300, lr: float = 0.05):
  """Softmax regression on standardised features, full batch, from zeros: the same
  inputs always give the same classifier. Returns predict(x) -> labels."""
  mean, std = x.mean(0), x.std(0) + 1e-6
  xs = tf.constant((x - mean) / std, tf.float32)
  w = tf.Variable(tf.zeros([x.shape[1], num_classes]))
  b = tf.Variable(tf.zeros([num_classes]))
  import keras
  opt = keras.optimizers.Adam(lr)
  yt = tf.constant(y)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      logits = xs @ w + b
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yt, logits))
      loss += l2 * tf.reduce_sum(w * w)
    grads = tape.gradient(loss, [w, b])
    opt.apply_gradients(zip(grads, [w, b]))
    return loss

  for _ in range(steps):
    step()

  def predict(z: np.ndarray) -> np.ndarray:
    zs = tf.constant((z - mean) / std, tf.float32)
    return tf.argmax(zs @ w + b, axis=1).numpy()
  return predict


def _encode_labels(train: Embedded, test: Embedded):
  names = sorted({t for t in train.labels if t})
  index = {n: i for i, n in enumerate(names)}
  tr = np.array([i for i, t in enumerate(train.labels) if t in index], np.int64)
  te = np.array([i for i, t in enumerate(test.labels) if t in index], np.int64)
  unseen = sum(1 for t in test.labels if t and t not in index)
  return (names, tr, np.array([index[train.labels[i]] for i in tr], np.int64),
          te, np.array([index[test.labels[i]] for i in te], np.int64), unseen)


def probe_rows(train: dict[str, Embedded], test: dict[str, Embedded], cfg: Config):
  """The probe table: majority, then every encoder, on the same images and labels."""
  any_name = next(iter(train))
  names, tr, ytr, te, yte, unseen = _encode_labels(train[any_name], test[any_name])
  if len(names) < 2 or len(te) == 0:
    raise data_lib.DataError(
        f"probe needs >= 2 classes in the training split and labelled test images; got "
        f"{len(names)} classes, {len(te)} test images (label {cfg.probe_label!r})")
  k = len(names)
  rows = [{"name": "majority class", "kind": "baseline",
           "linear": metrics.majority_baseline(ytr, yte, k),
           "train_accuracy": float(np.mean(ytr == np.bincount(ytr).argmax()))}]
  for name in train:
    xtr, xte = train[name].features["features"][tr], test[name].features["features"][te]
    predict = train_linear(xtr, ytr, k, l2=cfg.probe_l2, steps=cfg.probe_steps)
    knn = metrics.knn_predict(xtr, ytr, xte, k=cfg.knn_k, num_classes=k)
    knn_rep = metrics.classification_report(yte, knn, k)
    rows.append({
        "name": name, "kind": "baseline" if name.startswith("random") else "model",
        "linear": metrics.classification_report(yte, predict(xte), k),
        "knn": {"k": cfg.knn_k, "accuracy": knn_rep["accuracy"],
                "balanced_accuracy": knn_rep["balanced_accuracy"]},
        "train_accuracy": float(np.mean(predict(xtr) == ytr)),
    })
  info = {"class_names": names, "n_train": int(len(tr)), "n_test": int(len(te)),
          "test_labels_unseen_in_train": int(unseen)}
  return rows, info, (te, yte)


def retrieval_rows(test: dict[str, Embedded]) -> list[dict]:
  """ALADIN-NST retrieval on the test split: style (stylized views only) and content."""
  rows = []
  any_e = next(iter(test.values()))
  stylized = any_e.style_ids >= 0
  chance = {"encoder": "chance", "representation": "-",
            "style": metrics.chance_retrieval(any_e.style_ids, stylized, stylized),
            "content": metrics.chance_retrieval(any_e.content_ids)}
  for name, e in test.items():
    for rep, x in e.features.items():
      rows.append({"encoder": name, "representation": rep,
                   "style": metrics.retrieval(x, e.style_ids, stylized, stylized),
                   "content": metrics.retrieval(x, e.content_ids)})
  return rows + [chance]


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
                  "results": [{"image": e.thumbs[t], "caption": e.captions[t],
                               "relevant": bool(ids[t] == ids[q])} for t in top]})
  return out


def run_probe(cfg: Config, pretrain_metrics: Optional[dict] = None) -> dict:
  """Probes the trained encoder (latest checkpoint) and a random-init twin; writes
  probe.json and report.html into the job dir; returns the results."""
  import keras
  from trainer import train as train_lib
  from trainer.model import build_model
  mcfg = train_lib.model_config(cfg)
  ckpt = tf.train.latest_checkpoint(cfg.checkpoint_dir)
  if not ckpt:
    raise data_lib.DataError(f"no checkpoint in {cfg.checkpoint_dir}: pretrain first "
                             "(--mode=pretrain or --mode=all)")
  trained = build_model(mcfg)
  tf.train.Checkpoint(model=trained).restore(ckpt).expect_partial()
  keras.utils.set_random_seed(cfg.seed + 1)
  models = {"pretrained encoder": trained, "random-init encoder": build_model(mcfg)}

  start = time.time()
  source = cfg.probe_data or cfg.data
  skipped: list[str] = []
  if data_lib.is_stylized_dataset(source):
    if cfg.probe_label not in LABEL_FIELDS:
      raise data_lib.DataError(f"--probe_label must be one of {sorted(LABEL_FIELDS)}")
    train = _collect(record_batches(source, cfg.probe_train_split, cfg.probe_label,
                                    cfg.image_size), models)
    test = _collect(record_batches(source, cfg.probe_test_split, cfg.probe_label,
                                   cfg.image_size), models)
    label_field = cfg.probe_label
    splits = (cfg.probe_train_split, cfg.probe_test_split)
  else:
    items = folder_items(source)
    parts = {"train": [], "test": []}
    for it in items:
      parts[folder_split(it[0], cfg.seed)].append(it)
    train = _collect(folder_batches(parts["train"], cfg.image_size, skipped), models)
    test = _collect(folder_batches(parts["test"], cfg.image_size, skipped), models)
    label_field = "folder label"
    splits = ("train (by path hash)", "test (by path hash)")
  rows, info, _ = probe_rows(train, test, cfg)
  retrieval = retrieval_rows(test) if data_lib.is_stylized_dataset(source) else []
  results = {
      "probe": {"label_field": label_field, "train_split": splits[0],
                "test_split": splits[1], "rows": rows, "retrieval": retrieval,
                "skipped_images": skipped, "seconds": round(time.time() - start, 1),
                **info},
  }
  note = _split_note(source, cfg)
  if note:
    results["probe"]["note"] = note
  _write_outputs(cfg, results, pretrain_metrics, test)
  return results


def _split_note(source: str, cfg: Config) -> str:
  meta = data_lib.read_metadata(source) if data_lib.is_stylized_dataset(source) else None
  if meta and meta["plan"].get("holdout_style_fraction", 0) > 0 and \
      cfg.probe_test_split != "train":
    return (f"The {cfg.probe_test_split} split's contents are unseen in pretraining and "
            "its styles are held out from pretraining.")
  if meta:
    return (f"The {cfg.probe_test_split} split's contents are unseen in pretraining "
            "(splits are content-disjoint).")
  return "Folder images are split by a hash of their path: no image is in both."


def _write_outputs(cfg: Config, results: dict, pretrain_metrics, test) -> None:
  tf.io.gfile.makedirs(cfg.job_dir)
  with tf.io.gfile.GFile(os.path.join(cfg.job_dir, "probe.json"), "w") as f:
    json.dump(results, f, indent=2)
  if not cfg.report:
    return
  from trainer import report
  source = cfg.probe_data or cfg.data
  meta = data_lib.read_metadata(source) if data_lib.is_stylized_dataset(source) else None
  full = dict(results)
  full["run"] = {"title": f"Run report: {os.path.basename(cfg.job_dir.rstrip('/'))}",
                 "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "job_dir": cfg.job_dir, "data": cfg.data,
                 "command": "python -m trainer.task " + " ".join(cfg.argv),
                 "config": {k: v for k, v in dataclasses.asdict(cfg).items()
                            if k != "argv"}}
  if meta:
    full["dataset"] = {"name": meta["dataset_name"], "splits": meta["splits"],
                       "stylizer": meta["stylizer"]["version"],
                       "styles_per_content": meta["plan"]["styles_per_content"]}
  pm = pretrain_metrics
  if pm is None:
    path = os.path.join(cfg.job_dir, "metrics.json")
    if tf.io.gfile.exists(path):
      with tf.io.gfile.GFile(path) as f:
        pm = json.load(f)
  if pm:
    full["pretrain"] = pm
  grid = None
  sheet = os.path.join(source, "contact_sheet.png") if meta else ""
  if sheet and tf.io.gfile.exists(sheet):
    from PIL import Image
    with tf.io.gfile.GFile(sheet, "rb") as f:
      grid = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
  examples = retrieval_examples(test["pretrained encoder"]) if meta else []
  path = report.write_report(os.path.join(cfg.job_dir, "report.html"), full,
                             sample_grid=grid, retrieval_examples=examples)
  results["report"] = path


def summary_table(probe: dict) -> str:
  """The probe table as text, baselines included, for the console."""
  chance = 1.0 / len(probe["class_names"])
  lines = [f"linear probe on {probe['label_field']} ({len(probe['class_names'])} "
           f"classes, {probe['n_train']} train / {probe['n_test']} test images; chance "
           f"balanced accuracy {chance:.3f})",
           f"  {'':22s} {'acc':>6s} {'bal.acc':>7s} {'macroF1':>7s} {'kNN acc':>7s} "
           f"{'train acc':>9s}"]
  for r in probe["rows"]:
    lin, knn = r["linear"], r.get("knn", {})
    lines.append(f"  {r['name']:22s} {lin['accuracy']:6.3f} {lin['balanced_accuracy']:7.3f}"
                 f" {lin['macro_f1']:7.3f} {knn.get('accuracy', float('nan')):7.3f} "
                 f"{r.get('train_accuracy', float('nan')):9.3f}")
  for r in probe.get("retrieval", []):
    lines.append(f"  retrieval {r['encoder']:>20s} {r['representation']:15s} style mAP "
                 f"{r['style']['map']:.3f} R@1 {r['style']['recall_at_1']:.3f} | content "
                 f"mAP {r['content']['map']:.3f} R@1 {r['content']['recall_at_1']:.3f}")
  return "\n".join(lines)
