"""Input pipeline: shards -> positive pairs of views, streaming, static shapes.

The dataset job stores the views of one content next to each other in one shard (see
tfrecords_schema/README.md, "Layout"), so pairs are formed without a global shuffle:
each shard is read in order, consecutive records with the same content id are grouped
(a `scan` holding one group at a time), groups from several shards are interleaved and
shuffled in a bounded buffer, and two distinct views are drawn from each group. Memory
is bounded by the shuffle buffer, never by the dataset size.

A batch holds B contents: `view_a[i]`, `view_b[i]` share `content_id[i]` and differ in
style (`style_a[i] != style_b[i]`; -1 is the unstylized original). Negatives are the
other contents of the batch; the objectives mask any repeated content id, so no
negative ever shares the positive's content.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

import tensorflow as tf

import tfrecords_schema as schema

PAIR_MODES = ("styles", "augment")


class DataError(ValueError):
  """The shards cannot be used; the message names the file or pattern."""


@dataclasses.dataclass
class DataConfig:
  data: str                      # dataset folder or a glob of shards
  split: str = "train"
  image_size: int = 96
  batch_size: int = 64           # global batch (contents per step)
  shuffle_buffer: int = 512      # groups (contents) held for shuffling
  cycle_length: int = 4          # shards read in parallel
  max_views: int = 0             # views per content to expect; 0: from metadata (or 8)
  augment: bool = True           # light augmentation: random crop + flip
  augment_strength: str = "light"  # strong: adds colour jitter and greyscale
  pair_mode: str = "styles"      # styles: two stylized views; augment: one view, twice
  seed: int = 0


def _gfile_glob(pattern: str) -> list[str]:
  try:
    return sorted(tf.io.gfile.glob(pattern))
  except tf.errors.OpError:
    return []


def resolve_files(data: str, split: str) -> list[str]:
  """The shards of `split` in a dataset folder, or the files a glob names."""
  if tf.io.gfile.isdir(data):
    files = _gfile_glob(os.path.join(data, f"*-{split}.tfrecord-*"))
    where = f"{data} (split {split!r})"
  else:
    files = _gfile_glob(data)
    where = data
  if not files:
    raise DataError(f"no TFRecord shards match {where}")
  return files


def read_metadata(data: str) -> Optional[dict]:
  """stylized_metadata.json beside the shards, when there is one."""
  folder = data if tf.io.gfile.isdir(data) else os.path.dirname(data)
  path = os.path.join(folder, schema.METADATA_FILENAME)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def check_shards(files: list[str]) -> None:
  """Reads each shard's first record: a foreign schema version or an unreadable file
  fails here, naming the file, before any training starts."""
  for path in files:
    try:
      first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.OpError as e:
      raise DataError(f"{path}: unreadable TFRecord shard ({e.message.splitlines()[0]})")
    if first is None:
      continue  # an empty shard is legal (every content of its block failed)
    try:
      schema.decode_example(first.numpy())
    except schema.SchemaError as e:
      raise DataError(f"{path}: {e}") from None


def find_bad_shard(files: list[str]) -> Optional[str]:
  """'<file>: <problem>' for the first shard that is truncated, corrupt, or holds a
  record of another schema version; None if all read cleanly.

  Used after tf.data fails mid-stream: its errors do not name the file."""
  for path in files:
    index = -1
    try:
      for index, raw in enumerate(tf.data.TFRecordDataset(path)):
        schema.decode_example(raw.numpy())
    except tf.errors.OpError as e:
      return (f"{path}: truncated or corrupt shard after {index + 1} records "
              f"({e.message.splitlines()[0]})")
    except schema.SchemaError as e:
      return f"{path}: record {index}: {e}"
  return None


def _content_id(serialized):
  return tf.io.parse_single_example(
      serialized, {"content_id": tf.io.FixedLenFeature([], tf.int64)})["content_id"]


def group_views(records: tf.data.Dataset, max_views: int) -> tf.data.Dataset:
  """Consecutive records of one content -> (views [max_views] strings, n views)."""
  end = tf.data.Dataset.from_tensors((tf.constant(-2, tf.int64), tf.constant(b"")))
  keyed = records.map(lambda s: (_content_id(s), s)).concatenate(end)
  empty = tf.fill([max_views], tf.constant(b""))

  def step(state, elem):
    current, views, n = state
    cid, serialized = elem
    same = tf.equal(cid, current)
    emit = tf.logical_and(tf.logical_not(same), n > 0)
    slot = tf.where(same, tf.minimum(n, max_views - 1), 0)
    base = tf.where(same, views, empty)
    views_next = tf.tensor_scatter_nd_update(base, [[slot]], [serialized])
    n_next = tf.where(same, tf.minimum(n + 1, max_views), 1)
    return (cid, views_next, n_next), (views, n, emit)

  init = (tf.constant(-3, tf.int64), empty, tf.constant(0))
  return (keyed.scan(init, step)
          .filter(lambda views, n, emit: emit)
          .map(lambda views, n, emit: (views, n)))


def decode_view(serialized, image_size: int):
  """Record -> (float image [S,S,3] in [0,1], parsed fields)."""
  rec = schema.parse_example(serialized)
  img = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
  img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [image_size, image_size])
  img.set_shape([image_size, image_size, 3])
  return img, rec


def augment(img, seed, strong: bool = False):
  """Light: random resized crop (60-100% area) + horizontal flip. Strong (for the
  no-stylization baseline) adds SimCLR-style colour jitter and greyscale."""
  size = img.shape[0]
  s = tf.random.experimental.stateless_split(seed, 6)
  scale = tf.random.stateless_uniform([], s[0], 0.6, 1.0)
  side = tf.cast(tf.round(tf.sqrt(scale) * size), tf.int32)
  crop = tf.image.stateless_random_crop(img, [side, side, 3], s[1])
  img = tf.image.resize(crop, [size, size])
  img = tf.image.stateless_random_flip_left_right(img, s[2])
  if strong:
    img = tf.image.stateless_random_brightness(img, 0.4, s[3])
    img = tf.image.stateless_random_contrast(img, 0.6, 1.4, s[4])
    img = tf.image.stateless_random_saturation(img, 0.6, 1.4, s[5])
    grey = tf.random.stateless_uniform([], s[5], 0.0, 1.0) < 0.2
    img = tf.cond(grey, lambda: tf.repeat(tf.image.rgb_to_grayscale(img), 3, -1),
                  lambda: img)
  img = tf.clip_by_value(img, 0.0, 1.0)
  img.set_shape([size, size, 3])
  return img


def _pair(views, n, seed, cfg: DataConfig):
  """Two distinct views of a group; in augment mode, view 0 twice (the unstylized
  original when the dataset has one), so positives owe nothing to stylization."""
  s = tf.random.experimental.stateless_split(seed, 4)
  i = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
  if cfg.pair_mode == "augment":
    i = j = tf.constant(0)
  else:
    j = (i + tf.random.stateless_uniform([], s[1], 1, n, tf.int32)) % n  # j != i
  img_a, rec_a = decode_view(views[i], cfg.image_size)
  img_b, rec_b = decode_view(views[j], cfg.image_size)
  strong = cfg.pair_mode == "augment" or cfg.augment_strength == "strong"
  if cfg.augment or strong:
    img_a, img_b = augment(img_a, s[2], strong), augment(img_b, s[3], strong)
  return {"view_a": img_a, "view_b": img_b, "content_id": rec_a["content_id"],
          "content_id_b": rec_b["content_id"], "style_a": rec_a["style_id"],
          "style_b": rec_b["style_id"], "label": rec_a["content_primary_label_id"]}


def views_per_content(cfg: DataConfig) -> int:
  if cfg.max_views:
    return cfg.max_views
  meta = read_metadata(cfg.data)
  if meta:
    plan = meta["plan"]
    return plan["styles_per_content"] + (1 if plan["include_original"] else 0)
  return 8


def make_pair_dataset(cfg: DataConfig, input_context=None, epoch: int = 0,
                      repeat: bool = True) -> tf.data.Dataset:
  """Batches of positive pairs for one replica (batch = global batch / replicas).

  Epoch e's order is a pure function of (seed, e), so a restarted run can resume the
  same stream. With several input pipelines (multi-worker), each reads a disjoint
  share of the shards (or of the groups, when there are fewer shards than pipelines).
  """
  if cfg.pair_mode not in PAIR_MODES:
    raise DataError(f"pair_mode {cfg.pair_mode!r} not in {PAIR_MODES}")
  files = resolve_files(cfg.data, cfg.split)
  n_pipes, pipe = 1, 0
  batch = cfg.batch_size
  if input_context is not None:
    n_pipes, pipe = input_context.num_input_pipelines, input_context.input_pipeline_id
    batch = input_context.get_per_replica_batch_size(cfg.batch_size)
  max_views = views_per_content(cfg)
  min_views = 1 if cfg.pair_mode == "augment" else 2

  def one_epoch(e):
    # Everything random is a function of (seed, epoch): file order by a stateless
    # permutation, each pair's draw by a stateless seed; the group shuffle's own seed
    # is fixed, its input order is not. So epoch e is the same stream on every run.
    e = tf.cast(e, tf.int64)
    order = tf.argsort(tf.random.stateless_uniform(
        [len(files)], tf.stack([tf.constant(cfg.seed, tf.int64), e])))
    ds = tf.data.Dataset.from_tensor_slices(tf.gather(tf.constant(files), order))
    if len(files) >= n_pipes > 1:
      ds = ds.shard(n_pipes, pipe)
    ds = ds.interleave(lambda f: group_views(tf.data.TFRecordDataset(f), max_views),
                       cycle_length=min(cfg.cycle_length, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if n_pipes > 1 and len(files) < n_pipes:
      ds = ds.shard(n_pipes, pipe)
    ds = ds.filter(lambda views, n: n >= min_views)
    ds = ds.shuffle(cfg.shuffle_buffer, seed=cfg.seed, reshuffle_each_iteration=False)
    return ds.enumerate().map(
        lambda i, group: _pair(group[0], group[1],
                               tf.stack([cfg.seed * 7919 + e, i]), cfg),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

  epochs = tf.data.Dataset.counter(epoch) if repeat else tf.data.Dataset.from_tensors(
      tf.constant(epoch, tf.int64))
  ds = epochs.flat_map(one_epoch)
  ds = ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.OFF)  # sharded above, by hand
  options.deterministic = True
  return ds.with_options(options)


def is_stylized_dataset(path: str) -> bool:
  """A folder the dataset job wrote, or a glob of TFRecord shards."""
  if tf.io.gfile.isdir(path):
    return tf.io.gfile.exists(os.path.join(path, schema.METADATA_FILENAME)) or bool(
        _gfile_glob(os.path.join(path, "*.tfrecord-*")))
  return ".tfrecord" in os.path.basename(path)


def make_record_dataset(files: list[str], image_size: int, batch_size: int,
                        extra: tuple = ()):
  """Every record once, in file order: images, ids and labels (plus any `extra`
  schema fields), for probes and retrieval."""
  def decode(serialized):
    img, rec = decode_view(serialized, image_size)
    out = {"image": img, "content_id": rec["content_id"], "style_id": rec["style_id"],
           "label": rec["content_primary_label_id"], "is_original": rec["is_original"],
           "style_name": rec["style_name"], "style_artist": rec["style_artist"]}
    out.update({name: rec[name] for name in extra})
    return out
  return (tf.data.TFRecordDataset(files).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
          .batch(batch_size).prefetch(tf.data.AUTOTUNE))
