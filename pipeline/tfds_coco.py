"""COCO from a prepared TFDS data_dir (`coco/2017`) as a content source.

TFDS keeps the images inside its own TFRecord shards, so there are no image files to
list: one scan at launch reads the labels and notes where each image's record starts
(file and byte offset; the image bytes pass through the reader but are never decoded
or kept), and a worker later reads just the records of its contents.

The record fields match `pipeline.coco` (content id = COCO image id; sorted multi-label;
primary = largest total annotated area, ties to the smaller id; images without objects
kept with empty labels and primary -1; every annotation's box for the views), with one
difference: label ids are TFDS's ClassLabel indices 0..79 (contiguous, in raw
category-id order), not raw COCO category ids 1..90. The names are identical. TFDS has
no supercategories, so they are "". TFDS boxes are fractions of the photo's size.

Nothing here downloads: a dataset that is not prepared under data_dir fails at once.
"""

from __future__ import annotations

import dataclasses
import os
import re

from pipeline.annotations import Box
from pipeline.sources import ContentItem, SourceError
from tfrecords_schema.fields import ANNOTATIONS_BOXES
from tfrecords_schema.files import DATASET_INFO_FILENAME

@dataclasses.dataclass
class TfdsContents:
  """What the job needs from a TFDS split: labels at launch, shard paths for workers."""
  items: list[ContentItem]          # sorted by content_id
  vocabulary: list[dict]            # every class: {"id", "name", "supercategory": ""}
  files: list[str]                  # the split's shards
  locations: dict[int, dict]        # image id -> {"file", "offset"} of its record


def _not_found(name: str, split: str, data_dir: str | None, why: str = "") -> SourceError:
  where = data_dir or "the default TFDS data_dir"
  return SourceError(
      f"TFDS dataset {name} split {split} not found under {where}"
      f"{f' ({why})' if why else ''}; prepare it with `tfds build` / "
      "tfds.load(download=True) on a machine with network, or pass --tfds_data_dir")


def _versioned_dir(name: str, data_dir: str | None) -> str | None:
  """`<data_dir>/<name>/<version>` holding dataset_info.json (the newest if unpinned)."""
  import tensorflow as tf
  from tensorflow_datasets.core import constants
  base, _, version = name.partition(":")
  root = os.path.join(data_dir or constants.get_default_data_dir(), base)
  if version:
    candidates = [version]
  else:
    try:
      candidates = [v.rstrip("/") for v in tf.io.gfile.listdir(root)]
    except Exception:
      return None
    candidates = sorted((v for v in candidates if re.fullmatch(r"\d+\.\d+\.\d+", v)),
                        key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
  for v in candidates:
    path = os.path.join(root, v)
    if tf.io.gfile.exists(os.path.join(path, DATASET_INFO_FILENAME)):
      return path
  return None


def _builder(name: str, split: str, data_dir: str | None):
  """The registered builder if it reads the prepared data; else the directory's own.

  The fallback covers a TFDS whose registered `coco` cannot be built here (e.g. a
  missing optional import) but whose prepared files are fine.
  """
  import tensorflow_datasets as tfds
  if data_dir is not None and not _exists(data_dir):
    raise _not_found(name, split, data_dir, "the data_dir does not exist")
  try:
    builder = tfds.builder(name, data_dir=data_dir)
    if split in builder.info.splits:
      return builder
  except Exception:  # unregistered name, builder import error, unreadable info
    pass
  path = _versioned_dir(name, data_dir)
  if path is None:
    raise _not_found(name, split, data_dir, "no prepared version directory")
  try:
    builder = tfds.builder_from_directory(path)
  except Exception as e:
    raise _not_found(name, split, data_dir, f"cannot read {path}: {e}") from e
  if split not in builder.info.splits:
    raise _not_found(name, split, data_dir,
                     f"available splits: {sorted(builder.info.splits) or 'none'}")
  return builder


def _exists(path: str) -> bool:
  import tensorflow as tf
  try:
    return tf.io.gfile.exists(path)
  except Exception:
    return False


def _class_names(builder, name: str) -> list[str]:
  try:
    return list(builder.info.features["objects"]["label"].names)
  except (KeyError, AttributeError, TypeError) as e:
    raise SourceError(f"TFDS dataset {name} has no objects/label ClassLabel; it is not "
                      "a COCO-style detection dataset") from e


def _int_list(feature, key: str) -> list[int]:
  return list(feature[key].int64_list.value) if key in feature else []


def _boxes(feature, labels: list[int], areas: list[int]) -> tuple:
  """The record's objects as Box rows, in fractions of the photo (TFDS bbox is
  [ymin, xmin, ymax, xmax] normalized)."""
  ids, crowd = _int_list(feature, "objects/id"), _int_list(feature, "objects/is_crowd")
  bbox = list(feature["objects/bbox"].float_list.value) if "objects/bbox" in feature else []
  rows = []
  for i, (label, area) in enumerate(zip(labels, areas)):
    y0, x0, y1, x1 = bbox[4 * i:4 * i + 4] if len(bbox) >= 4 * i + 4 else (0, 0, 0, 0)
    rows.append(tuple(Box(ids[i] if i < len(ids) else -1, label,
                          crowd[i] if i < len(crowd) else 0, x0, y0, x1 - x0, y1 - y0,
                          float(area)).as_list()))
  return tuple(sorted(rows))


def _scan_file(path: str) -> list[tuple[int, bytes, list[int], list[int], int, tuple]]:
  """(image id, file name, labels, areas, byte offset of the record, boxes) per record.

  Read with the schema package's TF-free framing and Example classes:
  the offsets let a worker later read one image with a single seek instead of joining
  every image's bytes to its content through a shuffle.
  """
  from apache_beam.io.filesystems import FileSystems
  from tfrecords_schema import tfrecord
  from tfrecords_schema.example_proto import example_pb2
  example = example_pb2().Example
  out = []
  with FileSystems.open(path) as f:
    while True:
      offset = f.tell()
      try:
        raw = tfrecord.read_record(f, offset=offset)
      except tfrecord.RecordError as e:  # a truncated or corrupt source shard
        raise SourceError(f"{path}: unreadable record: {e}") from e
      if raw is None:
        return out
      feature = example.FromString(raw).features.feature
      try:
        image_id = int(feature["image/id"].int64_list.value[0])
        filename = bytes(feature["image/filename"].bytes_list.value[0])
      except (KeyError, IndexError) as e:
        raise SourceError(f"{path}: a record at byte {offset} is not a TFDS coco "
                          "record (no image/id or image/filename)") from e
      labels, areas = _int_list(feature, "objects/label"), _int_list(feature,
                                                                      "objects/area")
      out.append((image_id, filename, labels, areas, offset,
                  _boxes(feature, labels, areas)))


def _scan_labels(files: list[str]):
  """Yields (image id, file name, labels, areas, file, offset, boxes) per record.

  Files are scanned in parallel threads (the read and the CRC run outside the GIL)."""
  from concurrent.futures import ThreadPoolExecutor
  with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
    for path, rows in zip(files, pool.map(_scan_file, files)):
      for image_id, filename, labels, areas, offset, boxes in rows:
        yield image_id, filename, labels, areas, path, offset, boxes


def tfds_coco_contents(name: str = "coco/2017", split: str = "train",
                       data_dir: str | None = None) -> TfdsContents:
  """Labels for every image of a prepared TFDS COCO split, from one label-only scan.

  uri = `tfds://{name}/{split}/{image_id}` (the bytes live in `files`, not at a path);
  rel_path = the original COCO file name, so outputs line up with the raw-COCO source.
  """
  builder = _builder(name, split, data_dir)
  names = _class_names(builder, name)
  files = [os.fspath(p) for p in builder.info.splits[split].filepaths]
  missing = [f for f in files if not _exists(f)]
  if not files or missing:
    raise _not_found(name, split, data_dir,
                     f"missing shard files: {missing[:3]}" if missing else "no shard files")
  items: dict[int, ContentItem] = {}
  locations: dict[int, dict] = {}
  for image_id, filename, labels, areas, path, offset, boxes in _scan_labels(files):
    if image_id in items:
      raise SourceError(f"duplicate image id {image_id} in TFDS {name} split {split}")
    total: dict[int, int] = {}
    for label, area in zip(labels, areas):
      total[label] = total.get(label, 0) + area
    ids = tuple(sorted(total))
    primary = min(total, key=lambda c: (-total[c], c)) if total else -1
    items[image_id] = ContentItem(
        content_id=image_id, uri=f"tfds://{name}/{split}/{image_id}",
        rel_path=filename.decode("utf-8"), label_ids=ids,
        label_names=tuple(names[i] for i in ids), primary_label_id=primary,
        primary_label=names[primary] if primary >= 0 else "",
        label_supercategories=("",) * len(ids), annotations_status=ANNOTATIONS_BOXES,
        objects=boxes, annotation_frame=(1, 1))
    locations[image_id] = {"file": path, "offset": offset}
  if not items:
    raise SourceError(f"TFDS dataset {name} split {split} under {data_dir} is empty")
  vocabulary = [{"id": i, "name": n, "supercategory": ""} for i, n in enumerate(names)]
  return TfdsContents([items[i] for i in sorted(items)], vocabulary, files, locations)


def image_from_record(serialized: bytes) -> tuple[int, bytes]:
  """One TFDS coco record -> (image id, encoded image bytes).

  Plain protobuf parsing with the schema package's TF-free Example classes (same wire
  format): workers need no TensorFlow runtime to read a record.
  """
  from tfrecords_schema.example_proto import example_pb2
  feature = example_pb2().Example.FromString(serialized).features.feature
  try:
    return (int(feature["image/id"].int64_list.value[0]),
            bytes(feature["image"].bytes_list.value[0]))
  except (KeyError, IndexError) as e:
    raise ValueError("not a TFDS coco record: lacks image/id or image") from e


def _open_small(path: str):
  """A reader for one record: on gs://, with a small read buffer (Beam's default
  fetches 16 MiB from the offset, ~100x a COCO image)."""
  if path.startswith("gs://"):
    from apache_beam.io.gcp.gcsio import GcsIO
    return GcsIO().open(path, "rb", read_buffer_size=512 * 1024)
  from apache_beam.io.filesystems import FileSystems
  return FileSystems.open(path)


def read_image_at(path: str, offset: int) -> bytes:
  """The encoded image of the TFDS coco record starting at `offset` in `path`."""
  from pipeline.image_io import READ_FAILED, ImageError
  from tfrecords_schema import tfrecord
  try:
    with _open_small(path) as f:
      f.seek(offset)
      raw = tfrecord.read_record(f, offset=offset)
    if raw is None:
      raise ValueError("no record at that offset")
    return image_from_record(raw)[1]
  except Exception as e:  # I/O, framing (CRC) or parse errors: this content only
    raise ImageError(READ_FAILED, f"cannot read the source record at {path}@{offset}: "
                                  f"{type(e).__name__}: {e}") from e
