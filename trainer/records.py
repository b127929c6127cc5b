"""Shards on disk: finding them, checking them, grouping a shard's views by content, and
decoding one record, for both the pair pipeline (trainer.data) and evaluation.

The dataset job stores the views of one content next to each other in one shard (see
tfrecords_schema/README.md, "Layout"), so a content's views are grouped by reading a
shard in order: no global shuffle, memory bounded by one group.
"""

from __future__ import annotations

import os
from typing import Optional

import tensorflow as tf

import tfrecords_schema as schema
from tfrecords_schema import storage, tfrecord
from tfrecords_schema.files import SHARD_GLOB, split_glob


class DataError(ValueError):
  """The shards cannot be used; the message names the file or pattern."""


def _isdir(path: str) -> bool:
  try:
    return storage.isdir(path)
  except storage.StoreUnreachableError as e:
    raise DataError(str(e)) from None


def _glob(pattern: str) -> list[str]:
  try:
    return storage.glob(pattern)
  except storage.StoreUnreachableError as e:
    raise DataError(str(e)) from None
  except (OSError, ValueError):
    return []


def resolve_files(data: str, split: str) -> list[str]:
  """The shards of `split` in a dataset folder, or the files a glob names (local or
  gs://; an unreachable store is said as such, not as "no shards")."""
  if _isdir(data):
    files = _glob(storage.join(data, split_glob(split)))
    where = f"{data} (split {split!r})"
  else:
    files = _glob(data)
    where = data
  if not files:
    raise DataError(f"no TFRecord shards match {where}")
  return files


def _folder(data: str) -> str:
  return data if _isdir(data) else data.rstrip("/").rsplit("/", 1)[0]


def read_metadata(data: str) -> Optional[dict]:
  """stylized_metadata.json beside the shards, when there is one."""
  return storage.read_json(storage.join(_folder(data), schema.METADATA_FILENAME))


def read_dataset_file(data: str, name: str) -> Optional[bytes]:
  """A file of the dataset folder (e.g. its contact sheet), or None when absent."""
  path = storage.join(_folder(data), name)
  return storage.read_bytes(path) if storage.exists(path) else None


def is_stylized_dataset(path: str) -> bool:
  """A folder the dataset job wrote, or a glob of TFRecord shards."""
  if _isdir(path):
    return storage.exists(storage.join(path, schema.METADATA_FILENAME)) or bool(
        _glob(storage.join(path, SHARD_GLOB)))
  return ".tfrecord" in os.path.basename(path)


def check_shards(files: list[str]) -> None:
  """Reads each shard's first record: a foreign schema version or an unreadable file
  fails here, naming the file, before any training starts."""
  for path in files:
    try:
      first = next(iter(read_shard(path).take(1)), None)
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
      for index, raw in enumerate(read_shard(path)):
        schema.decode_example(raw.numpy())
    except tf.errors.OpError as e:
      return (f"{path}: truncated or corrupt shard after {index + 1} records "
              f"({e.message.splitlines()[0]})")
    except schema.SchemaError as e:
      return f"{path}: record {index}: {e}"
  return None


def read_shard(path, remote: Optional[bool] = None,
               buffer_bytes: int = 4 << 20) -> tf.data.Dataset:
  """One shard's records, in file order. Local files: TFRecordDataset with a 4 MB read
  buffer (TF's default is 256 KB). gs://: tfrecords_schema.storage reads the framing
  (CRCs checked) through gcsfs, whose endpoint can be an emulator, unlike TensorFlow's
  own gs:// filesystem. `path` may be a str or, inside interleave, a string tensor;
  then `remote` says which (`is_remote(files)`)."""
  if remote is None:
    remote = storage.is_remote(path)
  if remote:
    return _remote_records(path)
  return tf.data.TFRecordDataset(path, buffer_size=buffer_bytes)


def is_remote(files: list[str]) -> bool:
  """True when the shards are on an object store (a dataset is in one place)."""
  return any(storage.is_remote(f) for f in files)


#: Remote records cross from Python into tf.data this many at a time: per element,
#: from_generator costs ~0.4 ms of Python, per block of 64 about the same.
_BLOCK = 64


def _remote_records(path) -> tf.data.Dataset:
  def blocks(p):
    block = []
    try:
      for record in storage.records(p.decode()):
        block.append(record)
        if len(block) == _BLOCK:
          yield block
          block = []
    except tfrecord.RecordError as e:  # tf.data says OpError: keep the file and reason
      if block:
        yield block
      raise tf.errors.DataLossError(None, None, str(e)) from None
    if block:
      yield block
  return tf.data.Dataset.from_generator(
      blocks, args=(path,), output_signature=tf.TensorSpec([None], tf.string)).unbatch()


def read_files(files: list[str]) -> tf.data.Dataset:
  """The records of several shards, one file after another (local or gs://)."""
  remote = is_remote(files)
  return tf.data.Dataset.from_tensor_slices(files).flat_map(
      lambda f: read_shard(f, remote))


def group_views(records: tf.data.Dataset, max_views: int,
                block: int = 64) -> tf.data.Dataset:
  """Consecutive records of one content -> (views [max_views] strings, n views).

  One scan step per block of records rather than per record (grouping cost 0.31 ->
  0.13 ms per pair, benchmarks/README.md): the content ids of a block are parsed
  together, the groups wholly inside it are emitted at once and its trailing group
  (it may go on in the next block) is carried. A group with more than max_views views
  keeps its first max_views - 1 and its last.
  """
  spec = {"content_id": tf.io.FixedLenFeature([], tf.int64)}
  end = tf.data.Dataset.from_tensors((tf.constant([-2], tf.int64), tf.constant([b""])))
  blocks = records.batch(block).map(
      lambda s: (tf.io.parse_example(s, spec)["content_id"], s)).concatenate(end)

  def step(carry, blk):
    ids = tf.concat([carry[0], blk[0]], 0)
    strs = tf.concat([carry[1], blk[1]], 0)
    starts = tf.concat([[True], tf.not_equal(ids[1:], ids[:-1])], 0)
    seg = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    last = seg[-1]  # the trailing group: carried, not emitted
    count = tf.math.unsorted_segment_sum(tf.ones_like(seg), seg, last + 1)
    first = tf.gather(tf.cast(tf.where(starts)[:, 0], tf.int32), seg)
    pos = tf.range(tf.shape(seg)[0]) - first
    slot = tf.minimum(pos, max_views - 1)
    keep = tf.logical_and(seg < last, tf.logical_or(
        pos < max_views - 1, tf.equal(pos, tf.gather(count, seg) - 1)))
    index = tf.boolean_mask(tf.stack([seg, slot], 1), keep)
    views = tf.tensor_scatter_nd_update(tf.fill(tf.stack([last, max_views]), ""),
                                        index, tf.boolean_mask(strs, keep))
    n = tf.minimum(count[:last], max_views)
    tail = tf.equal(seg, last)
    return (tf.boolean_mask(ids, tail), tf.boolean_mask(strs, tail)), (views, n)

  init = (tf.zeros([0], tf.int64), tf.zeros([0], tf.string))
  return blocks.scan(init, step).unbatch()


def decode_view(serialized, image_size: int):
  """Record -> (float image [S,S,3] in [0,1], every parsed field): the whole image,
  resized, as evaluation sees it."""
  rec = schema.parse_example(serialized)
  img = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
  img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [image_size, image_size])
  img.set_shape([image_size, image_size, 3])
  return img, rec


_PAIR_FIELDS = ("image", "height", "width", "content_id", "style_id",
                "view_primary_label_id", "is_original", "schema_version")


def parse_lean(serialized, extra: tuple = ()) -> dict:
  """The fields a training pair uses (not all 30, lists densified) and any `extra`
  scalar fields; the schema version is still checked."""
  spec = schema.feature_spec()
  rec = tf.io.parse_single_example(
      serialized, {k: spec[k] for k in (*_PAIR_FIELDS, *extra)})
  tf.debugging.assert_equal(
      rec["schema_version"], tf.constant(schema.SCHEMA_VERSION, tf.int64),
      message=f"record schema_version differs from {schema.SCHEMA_VERSION} (this reader)")
  return rec


def decode_window(image_bytes, window) -> tf.Tensor:
  """uint8 [h, w, 3] of the window [top, left, height, width] of an encoded image.

  JPEG (what the dataset job writes) decodes only the window's blocks
  (`decode_and_crop_jpeg`, TF's default fast DCT: a few levels from SCHEMA.md's
  decoding contract, the accurate DCT, and well inside the colour augmentation); PNG
  decodes whole and is sliced."""
  def jpeg():
    return tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3)

  def other():
    img = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    return tf.slice(img, tf.concat([window[:2], [0]], 0),
                    tf.concat([window[2:], [3]], 0))
  return tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other)


def make_record_dataset(files: list[str], image_size: int, batch_size: int,
                        extra: tuple = ()):
  """Every record once, in file order: images, ids and labels (plus any `extra`
  schema fields), for probes and retrieval."""
  def decode(serialized):
    img, rec = decode_view(serialized, image_size)
    out = {"image": img, "content_id": rec["content_id"], "style_id": rec["style_id"],
           "label": rec["view_primary_label_id"], "is_original": rec["is_original"],
           "style_name": rec["style_name"], "style_artist": rec["style_artist"]}
    out.update({name: rec[name] for name in extra})
    return out
  return (read_files(files).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
          .batch(batch_size).prefetch(tf.data.AUTOTUNE))
