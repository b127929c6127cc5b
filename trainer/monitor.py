"""Online monitor: how good the representation is while it trains, not only the loss.

Every `--monitor_every` steps (and before the first and after the last), the current
encoder embeds a fixed held-out sample of the `--monitor_split` split (whole contents:
all their views, taken round-robin from every shard, decoded once and kept in memory as
uint8) and the evaluator registry scores it:

  knn/accuracy          cosine kNN on backbone features, label view_primary_label,
                        leave-one-content-out: a view's neighbours never include a view
                        of its own content, so the sample is bank and queries at once
  retrieval/content_map mAP of finding the other views (styles) of the same content
  retrieval/style_map   mAP of finding the same style among other contents

with their baselines (majority class, random ranking) computed once. The step-0 value
is the random-init encoder's. Values go to TensorBoard (monitor/...), metrics.json and
the report. Cost: one forward pass over the sample per evaluation (stated in
benchmarks/README.md); `--monitor_every=0` turns it off.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import tensorflow as tf

from trainer import evaluators
from trainer import records as records_lib

log = logging.getLogger("trainer")

CURVE_KEYS = ("knn/accuracy", "knn/balanced_accuracy", "retrieval/content_map",
              "retrieval/style_map")
BASELINE_KEYS = ("majority/accuracy", "majority/balanced_accuracy", "chance/content_map",
                 "chance/style_map")
BATCH = 64


def load_sample(data: str, split: str, image_size: int, max_images: int,
                max_views: int) -> dict:
  """Whole contents, round-robin over the split's shards, until max_images views."""
  files = records_lib.resolve_files(data, split)
  remote = records_lib.is_remote(files)
  groups = tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda f: records_lib.group_views(records_lib.read_shard(f, remote), max_views),
      cycle_length=len(files), block_length=1)
  serialized = []
  for views, n in groups.as_numpy_iterator():
    if len(serialized) + n > max_images and serialized:
      break
    serialized.extend(views[:n])
  decode = tf.function(lambda s: records_lib.decode_view(s, image_size))
  images, labels, cids, sids = [], [], [], []
  for s in serialized:
    img, rec = decode(tf.constant(s))
    images.append(tf.cast(tf.round(img * 255.0), tf.uint8).numpy())
    labels.append(int(rec["view_primary_label_id"]))
    cids.append(int(rec["content_id"]))
    sids.append(int(rec["style_id"]))
  if not images:
    raise records_lib.DataError(f"{data}: split {split!r} has no records to monitor")
  # Label ids may be sparse (COCO category ids): index them densely, -1 unlabelled.
  known = sorted({v for v in labels if v >= 0})
  index = {v: i for i, v in enumerate(known)}
  return {"images": np.stack(images),
          "labels": np.array([index.get(v, -1) for v in labels], np.int64),
          "content_ids": np.array(cids, np.int64), "style_ids": np.array(sids, np.int64)}


class Monitor:
  """Scores the encoder on the fixed sample; call it with the current step."""

  def __init__(self, sample: dict, model, strategy, knn_k: int = 5):
    self.sample, self.model, self.strategy = sample, model, strategy
    self.opts = evaluators.Options(knn_k=knn_k)
    empty = np.zeros((len(sample["labels"]), 1), np.float32)
    split = self._split(empty, empty)[0]
    self.classify = evaluators.can_classify(split, split)
    self.baselines = {k: v for k, v in evaluators.evaluate(["chance"], split, split,
                                                           self.opts).items()
                      if k in BASELINE_KEYS}
    self.curve: list[dict] = []
    self.seconds = 0.0

    @tf.function
    def forward(images):
      out = model(images, training=False)
      return out["features"], out["embedding"]
    self._forward = forward

  def _split(self, features, embedding):
    s = self.sample
    return (evaluators.Split(features, s["labels"], s["content_ids"], s["style_ids"]),
            evaluators.Split(embedding, s["labels"], s["content_ids"], s["style_ids"]))

  def _embed(self):
    """Fixed-size batches (the last padded), run as a replica would run them, so the
    same code serves TPU; every replica sees the whole batch, the first one's is kept."""
    images = self.sample["images"]
    feats, embs = [], []
    for i in range(0, len(images), BATCH):
      chunk = images[i:i + BATCH]
      padded = np.concatenate([chunk, np.zeros((BATCH - len(chunk),) + chunk.shape[1:],
                                               chunk.dtype)]) if len(chunk) < BATCH else chunk
      out = self.strategy.run(self._forward, args=(tf.constant(padded),))
      f, e = (self.strategy.experimental_local_results(o)[0] for o in out)
      feats.append(f.numpy()[:len(chunk)])
      embs.append(e.numpy()[:len(chunk)])
    return np.concatenate(feats), np.concatenate(embs)

  def __call__(self, step: int) -> dict:
    t0 = time.perf_counter()
    features, embedding = self._embed()
    by_features, by_embedding = self._split(features, embedding)
    values = {}
    if self.classify:
      values.update(evaluators.evaluate(["knn"], by_features, by_features, self.opts))
    values.update(evaluators.evaluate(["retrieval"], by_embedding, by_embedding,
                                      self.opts))
    seconds = time.perf_counter() - t0
    self.seconds += seconds
    point = {"step": step, **{k: float(values[k]) for k in CURVE_KEYS if k in values},
             "seconds": round(seconds, 3)}
    self.curve.append(point)
    log.info("monitor step %d: %s (%.2f s)", step, "  ".join(
        f"{k} {point[k]:.3f}" for k in CURVE_KEYS if k in point), seconds)
    return point


def sample_for(cfg, max_views: int):
  """The monitor's sample as the flags ask, loaded before any training (a wrong
  --monitor_split fails here); None when off, or when the default split is absent."""
  if cfg.monitor_every <= 0:
    return None
  try:
    records_lib.resolve_files(cfg.data, cfg.monitor_split)
  except records_lib.DataError:
    if "monitor_split" in cfg.explicit:
      raise
    log.info("online monitor off: the data has no %r split (set --monitor_split)",
             cfg.monitor_split)
    return None
  t0 = time.perf_counter()
  sample = load_sample(cfg.data, cfg.monitor_split, cfg.image_size, cfg.monitor_samples,
                       max_views)
  log.info("online monitor: %d views of %d contents from split %r (loaded in %.1f s)",
           len(sample["labels"]), len(set(sample["content_ids"].tolist())),
           cfg.monitor_split, time.perf_counter() - t0)
  return sample
