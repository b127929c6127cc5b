"""Input pipeline: shards -> positive pairs of views, streaming, static shapes, and a
stream a restarted run can rejoin exactly.

Groups of views (trainer.records.group_views) from several shards are interleaved,
shuffled in a bounded buffer, and two distinct views are drawn from each group. Memory
is bounded by the shuffle buffer, never by the dataset size.

A batch holds B contents: `view_a[i]`, `view_b[i]` share `content_id[i]` and differ in
style (`style_a[i] != style_b[i]`; -1 is the unstylized original). Negatives are the
other contents of the batch; the objectives mask any repeated content id, so no
negative ever shares the positive's content. In augment mode both views start from the
original, and with `style_probability` p the second is replaced, with probability p,
by a stylized view of the same content before the crop / colour augmentation (SASSL's
use of style transfer: one augmentation among others).

Supervised batches (`make_supervised_dataset`) hold one view per content with its
class index: the original only, or any of its views drawn at random each epoch.
`keep_content_ids` (trainer.regimes) restricts either stream to whole contents.

Resume. With `steps_per_epoch` set (the trainer always sets it), every epoch is exactly
that many global batches: its groups are cut (or cycled, if a few contents were
dropped) to steps_per_epoch x B, so batches never straddle epochs and global step s is
batch s % steps_per_epoch of epoch s // steps_per_epoch. Everything random is a
function of (seed, epoch, position in the epoch), so a run restarted at step s builds
epoch s // steps_per_epoch and skips its first groups *before* any image is decoded:
the skipped part costs reading and grouping records, not decoding them.

Speed (224 px and up): a training view is decoded from its crop window only
(`decode_and_crop_jpeg`) and resampled once, straight to the model's size, instead of
decode whole -> resize -> crop -> resize.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import tensorflow as tf

import tfrecords_schema as schema
from trainer.records import (DataError, decode_window, group_views, is_remote, parse_lean,
                             read_metadata, read_shard, resolve_files)
from trainer.choices import PAIR_MODES, TRAIN_VIEWS


@dataclasses.dataclass
class DataConfig:
  data: str                      # dataset folder or a glob of shards
  split: str = "train"
  image_size: int = 96
  batch_size: int = 64           # global batch (contents per step)
  shuffle_buffer: int = 512      # groups (contents) held for shuffling
  cycle_length: int = 0          # shards read at once; 0: min(shards, 8)
  max_views: int = 0             # views per content to expect; 0: from metadata (or 8)
  augment: bool = True           # light augmentation: random crop + flip
  augment_strength: str = "light"  # strong: adds colour jitter and greyscale
  pair_mode: str = "styles"      # styles: two stylized views; augment: one view, twice
  seed: int = 0
  steps_per_epoch: int = 0       # 0: an epoch is every content once (batches may
  #                                straddle epochs); >0: exactly this many global steps
  style_probability: float = 0.0  # augment mode: P(view b is a stylized view)
  keep_content_ids: Optional[tuple] = None  # None: every content; else only these
  # Supervised examples: the label field, its class names (index = class), and which
  # views are fed: "originals" or "all" (originals + stylized, one drawn per step).
  label_field: str = "view_primary_label"
  class_names: tuple = ()
  train_views: str = "all"


def crop_window(height, width, seed) -> tf.Tensor:
  """[top, left, h, w] of a random square-ish crop of 60-100% of the area."""
  s = tf.random.experimental.stateless_split(seed, 2)
  side = tf.sqrt(tf.random.stateless_uniform([], s[0], 0.6, 1.0))
  hw = tf.cast(tf.stack([height, width]), tf.float32)
  extent = tf.maximum(tf.round(hw * side), 1.0)
  offset = tf.floor(tf.random.stateless_uniform([2], s[1], 0.0, 1.0) * (hw - extent + 1))
  return tf.cast(tf.concat([offset, extent], 0), tf.int32)


def colour_jitter(img, seed):
  """SimCLR-style brightness, contrast, saturation and 20% greyscale."""
  s = tf.random.experimental.stateless_split(seed, 4)
  img = tf.image.stateless_random_brightness(img, 0.4, s[0])
  img = tf.image.stateless_random_contrast(img, 0.6, 1.4, s[1])
  img = tf.image.stateless_random_saturation(img, 0.6, 1.4, s[2])
  grey = tf.random.stateless_uniform([], s[3], 0.0, 1.0) < 0.2
  return tf.cond(grey, lambda: tf.repeat(tf.image.rgb_to_grayscale(img), 3, -1),
                 lambda: img)


def train_view(rec: dict, size: int, seed, augment: bool, strong: bool):
  """A record's image as a training view: float [S, S, 3] in [0, 1].

  Augmented: random crop (decoded alone) resized to S, horizontal flip, and with
  `strong` colour jitter; else the whole image resized to S.
  """
  s = tf.random.experimental.stateless_split(seed, 3)
  h, w = tf.cast(rec["height"], tf.int32), tf.cast(rec["width"], tf.int32)
  window = crop_window(h, w, s[0]) if augment else tf.stack([0, 0, h, w])
  img = decode_window(rec["image"], window)
  img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [size, size])
  if augment:
    img = tf.image.stateless_random_flip_left_right(img, s[1])
  if strong:
    img = colour_jitter(img, s[2])
  img = tf.clip_by_value(img, 0.0, 1.0)
  img.set_shape([size, size, 3])
  return img


def view_styles(views, n) -> tf.Tensor:
  """style_id of each of a group's n views (-1: the original), parsed alone."""
  spec = {"style_id": schema.feature_spec()["style_id"]}
  return tf.io.parse_example(views[:n], spec)["style_id"]


def _random_among(mask, seed):
  """Index of a uniformly drawn True of `mask`; -1 when there is none."""
  count = tf.reduce_sum(tf.cast(mask, tf.int32))
  k = tf.random.stateless_uniform([], seed, 0, tf.maximum(count, 1), tf.int32)
  where = tf.cast(tf.where(mask)[:, 0], tf.int32)
  return tf.cond(count > 0, lambda: where[tf.minimum(k, count - 1)], lambda: -1)


def choose_views(views, n, seed, cfg: DataConfig):
  """Indices (i, j) of the two views of a group.

  styles mode: two distinct views. augment mode: the original twice (view 0 when the
  group has no original), so positives owe nothing to stylization; with
  style_probability p, j is instead, with probability p, a stylized view of the same
  content drawn uniformly among its stylized views (unchanged if it has none)."""
  s = tf.random.experimental.stateless_split(seed, 3)
  if cfg.pair_mode == "augment":
    if cfg.style_probability <= 0:
      return tf.constant(0), tf.constant(0)
    stylized = view_styles(views, n) >= 0
    original = tf.maximum(_random_among(tf.logical_not(stylized), s[0]), 0)
    other = _random_among(stylized, s[1])
    swap = tf.logical_and(
        tf.random.stateless_uniform([], s[2], 0.0, 1.0) < cfg.style_probability,
        other >= 0)
    return original, tf.where(swap, other, original)
  i = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
  j = (i + tf.random.stateless_uniform([], s[1], 1, n, tf.int32)) % n  # j != i
  return i, j


def make_pair(views, n, seed, cfg: DataConfig) -> dict:
  """One group -> a positive pair of augmented views and their ids."""
  s = tf.random.experimental.stateless_split(seed, 3)
  i, j = choose_views(views, n, s[0], cfg)
  rec_a, rec_b = parse_lean(views[i]), parse_lean(views[j])
  strong = cfg.pair_mode == "augment" or cfg.augment_strength == "strong"
  augment = cfg.augment or strong
  return {"view_a": train_view(rec_a, cfg.image_size, s[1], augment, strong),
          "view_b": train_view(rec_b, cfg.image_size, s[2], augment, strong),
          "content_id": rec_a["content_id"], "content_id_b": rec_b["content_id"],
          "style_a": rec_a["style_id"], "style_b": rec_b["style_id"],
          "label": rec_a["view_primary_label_id"]}


def class_index(names: tuple, value) -> tf.Tensor:
  """Index of a label string among the class names; -1 if it is not one."""
  hits = tf.cast(tf.where(tf.equal(tf.constant(list(names) or [""]), value))[:, 0],
                 tf.int32)
  return tf.cond(tf.size(hits) > 0, lambda: hits[0], lambda: -1)


def make_example(views, n, seed, cfg: DataConfig) -> dict:
  """One group -> one augmented view with its class index: the original
  (train_views=originals) or a view drawn uniformly among all of the content's."""
  s = tf.random.experimental.stateless_split(seed, 2)
  if cfg.train_views == "originals":
    i = _random_among(view_styles(views, n) < 0, s[0])  # the filter ensures one
  else:
    i = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
  rec = parse_lean(views[i], extra=(cfg.label_field,))
  strong = cfg.augment_strength == "strong"
  return {"image": train_view(rec, cfg.image_size, s[1], cfg.augment or strong, strong),
          "label": class_index(cfg.class_names, rec[cfg.label_field]),
          "content_id": rec["content_id"], "style_id": rec["style_id"]}


def _group_filter(cfg: DataConfig, supervised: bool):
  """Groups to keep: enough views, a kept content, and for supervised examples a
  known class (and an original view, when only originals are fed)."""
  min_views = 2 if not supervised and cfg.pair_mode == "styles" else 1
  keep = None if cfg.keep_content_ids is None else tf.constant(
      sorted(cfg.keep_content_ids), tf.int64)
  full = schema.feature_spec()
  spec = {"content_id": full["content_id"]}
  if supervised:
    spec[cfg.label_field] = full[cfg.label_field]

  def ok(views, n):
    good = n >= min_views
    first = tf.io.parse_single_example(views[0], spec)
    if keep is not None:
      at = tf.minimum(tf.searchsorted(keep, first["content_id"][None])[0],
                      tf.size(keep) - 1)
      good = tf.logical_and(good, tf.logical_and(tf.size(keep) > 0,
                                                 tf.equal(keep[at], first["content_id"])))
    if supervised:
      good = tf.logical_and(good, class_index(cfg.class_names,
                                              first[cfg.label_field]) >= 0)
      if cfg.train_views == "originals":
        good = tf.logical_and(good, tf.reduce_any(view_styles(views, n) < 0))
    return good
  return ok


def views_per_content(cfg: DataConfig) -> int:
  if cfg.max_views:
    return cfg.max_views
  meta = read_metadata(cfg.data)
  if meta:
    plan = meta["plan"]
    return plan["styles_per_content"] + (1 if plan["include_original"] else 0)
  return 8


def make_pair_dataset(cfg: DataConfig, input_context=None, epoch: int = 0,
                      repeat: bool = True, skip_steps: int = 0) -> tf.data.Dataset:
  """Batches of positive pairs for one replica (batch = global batch / replicas),
  from epoch `epoch` on, its first `skip_steps` global steps skipped undecoded.

  With several input pipelines (multi-worker), each reads a disjoint share of the
  shards (or of the groups, when there are fewer shards than pipelines).
  """
  if cfg.pair_mode not in PAIR_MODES:
    raise DataError(f"pair_mode {cfg.pair_mode!r} not in {PAIR_MODES}")
  return _stream(cfg, make_pair, _group_filter(cfg, supervised=False), input_context,
                 epoch, repeat, skip_steps)


def make_supervised_dataset(cfg: DataConfig, input_context=None, epoch: int = 0,
                            repeat: bool = True, skip_steps: int = 0) -> tf.data.Dataset:
  """Batches of {image, label (class index), content_id, style_id}, one view per
  content, with the same epochs, sharding and exact resume as the pair stream."""
  if cfg.train_views not in TRAIN_VIEWS:
    raise DataError(f"train_views {cfg.train_views!r} not in {TRAIN_VIEWS}")
  if len(cfg.class_names) < 2:
    raise DataError(f"supervised training needs >= 2 classes, got {cfg.class_names}")
  return _stream(cfg, make_example, _group_filter(cfg, supervised=True), input_context,
                 epoch, repeat, skip_steps)


def _stream(cfg: DataConfig, per_group, keep, input_context, epoch: int, repeat: bool,
            skip_steps: int) -> tf.data.Dataset:
  """Groups -> per_group(views, n, seed, cfg) -> batches; see the module docstring."""
  if skip_steps and not cfg.steps_per_epoch:
    raise ValueError("skip_steps needs steps_per_epoch (epochs of a fixed length)")
  files = resolve_files(cfg.data, cfg.split)
  n_pipes, pipe, replicas = 1, 0, 1
  batch = cfg.batch_size
  if input_context is not None:
    n_pipes, pipe = input_context.num_input_pipelines, input_context.input_pipeline_id
    replicas = input_context.num_replicas_in_sync
    batch = input_context.get_per_replica_batch_size(cfg.batch_size)
  groups_per_step = batch * replicas // n_pipes  # this pipeline's share of a step
  max_views = views_per_content(cfg)
  cycle = min(cfg.cycle_length or 8, len(files))

  def groups(e):
    # File order by a stateless permutation of (seed, epoch); the group shuffle's own
    # seed is fixed, its input order is not: epoch e is the same stream on every run.
    order = tf.argsort(tf.random.stateless_uniform(
        [len(files)], tf.stack([tf.constant(cfg.seed, tf.int64), e])))
    ds = tf.data.Dataset.from_tensor_slices(tf.gather(tf.constant(files), order))
    if len(files) >= n_pipes > 1:
      ds = ds.shard(n_pipes, pipe)
    remote = is_remote(files)
    ds = ds.interleave(lambda f: group_views(read_shard(f, remote), max_views),
                       cycle_length=cycle, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)
    if n_pipes > 1 and len(files) < n_pipes:
      ds = ds.shard(n_pipes, pipe)
    ds = ds.filter(keep)
    return ds.shuffle(cfg.shuffle_buffer, seed=cfg.seed, reshuffle_each_iteration=False)

  def one_epoch(e, skip_groups):
    e = tf.cast(e, tf.int64)
    ds = groups(e)
    if cfg.steps_per_epoch:
      ds = ds.repeat().take(cfg.steps_per_epoch * groups_per_step)
    ds = ds.enumerate().skip(skip_groups)  # skipped before decoding; seeds keep i
    return ds.map(lambda i, g: per_group(g[0], g[1],
                                         tf.stack([cfg.seed * 7919 + e, i]), cfg),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

  first = one_epoch(epoch, skip_steps * groups_per_step)
  if repeat:
    rest = tf.data.Dataset.counter(epoch + 1).flat_map(lambda e: one_epoch(e, 0))
    first = first.concatenate(rest)
  ds = first.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.OFF)  # sharded above, by hand
  options.deterministic = True
  return ds.with_options(options)
