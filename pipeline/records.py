"""One view -> one encoded record, and the statistics of a shard's records.

Pure functions of the manifest entries (pipeline.manifest: what the launcher planned
for a content and a style) and the view's pixels, so the record bytes depend on nothing
but the plan and the model: the same inputs and seed give byte-identical shards on any
runner. A shard's index rows (tfrecords_schema.index) are read back from the very bytes
written.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Mapping, Optional

import numpy as np

from pipeline import annotations, image_io
from pipeline.manifest import ContentEntry
from pipeline.sources import StyleItem
import tfrecords_schema as schema
from tfrecords_schema import index as record_index
from tfrecords_schema import tfrecord


def dead_letter(stage: str, uri: str, reason: str, message: str, **extra) -> dict:
  """One dead-letter entry: which input, at which stage, why."""
  return {"stage": stage, "uri": uri, "reason": reason, "message": message, **extra}


@dataclasses.dataclass(frozen=True)
class RecordFormat:
  """How the job stores a view, plus the stylizer identity written into each record."""
  image_format: str = "jpeg"
  jpeg_quality: int = 95
  stylizer_name: str = ""
  stylizer_version: str = ""


def encode_view(content: ContentEntry, view_index: int, pixels: np.ndarray,
                style: Optional[StyleItem], strength: float, fmt: RecordFormat,
                labels: Optional[Mapping] = None) -> bytes:
  """uint8 HxWx3 pixels of one view -> a serialized tf.train.Example of the schema.

  labels: the view's label and object fields (pipeline.annotations.view_fields); by
  default the photo's labels only, as a view whose geometry is unknown has."""
  record = {
      "image": image_io.encode_image(pixels, fmt.image_format, fmt.jpeg_quality),
      "image_format": fmt.image_format, "height": int(pixels.shape[0]),
      "width": int(pixels.shape[1]), "content_id": content.content_id,
      "content_path": content.rel_path, "content_uri": content.uri,
      "content_source_url": content.source_url,
      "content_origin_url": content.origin_url,
      "content_license_id": content.license_id,
      "content_license": content.license,
      "content_license_url": content.license_url,
      **(annotations.photo_labels(content) if labels is None else labels),
      "is_original": int(style is None), "view_index": view_index,
      "split": content.split,
  }
  if style is None:
    record.update(stylizer="none")
  else:
    record.update(style_id=style.style_id, style_path=style.rel_path,
                  style_uri=style.uri, style_source_url=style.source_url,
                  style_name=style.name, style_artist=style.artist,
                  style_genre=style.genre, style_title=style.title,
                  style_credit=style.credit, style_license=style.license,
                  style_license_url=style.license_url,
                  stylizer=fmt.stylizer_name, stylizer_version=fmt.stylizer_version,
                  style_strength=float(strength))
  return schema.encode_example(record)


class ShardIndex:
  """The index rows of one shard, from the records as written, in order."""

  def __init__(self, shard_filename: str):
    self.shard, self._lines, self._offset = shard_filename, [], 0

  def add(self, data: bytes) -> None:
    row = record_index.index_row(schema.decode_example(data), self.shard,
                                 len(self._lines), self._offset)
    self._lines.append(record_index.row_line(row))
    self._offset += tfrecord.framed_size(data)

  def text(self) -> str:
    """The shard's index fragment: one JSON line per record."""
    return "".join(line + "\n" for line in self._lines)


class ShardStats:
  """Counts over the records of one shard, for dataset_info.json, the card and the
  launcher's written-or-dead-lettered check. Labels and licences count once per
  content."""

  def __init__(self, split: str, shard: int):
    self.split, self.shard = split, shard
    self.records = self.bytes = 0
    self.sha256 = ""  # of the shard file, set by its writer
    self._styles: collections.Counter = collections.Counter()
    self._style_names: collections.Counter = collections.Counter()
    self._labels: dict[int, str] = {}
    self._licenses: dict[int, tuple] = {}
    self._views: collections.Counter = collections.Counter()
    self._geometry: collections.Counter = collections.Counter()

  def add(self, content: ContentEntry, style: Optional[StyleItem], framed_bytes: int,
          labels: Optional[Mapping] = None) -> None:
    """labels: the record's label fields; the view's primary label is counted."""
    cid = content.content_id
    self.records += 1
    self.bytes += framed_bytes
    self._views[str(cid)] += 1
    primary = (labels or {}).get("view_primary_label", content.primary_label)
    if cid not in self._labels and "object_category_ids" in (labels or {}):
      self._count_geometry(labels)
    self._labels.setdefault(cid, primary or "(unlabelled)")
    self._licenses.setdefault(cid, (content.license_id, content.license,
                                    content.license_url))
    if style is not None:
      self._styles[str(style.style_id)] += 1
      self._style_names[style.name or "(unnamed)"] += 1

  def _count_geometry(self, labels: Mapping) -> None:
    """Once per content with boxes: how its view labels differ from its photo's."""
    g, photo = self._geometry, set(labels["photo_label_ids"])
    g["contents"] += 1
    g["photo_labels"] += len(photo)
    g["view_labels"] += len(labels["view_label_ids"])
    g["photo_labels_not_visible"] += len(photo - set(labels["view_label_ids"]))
    if labels["photo_primary_label_id"] != labels["view_primary_label_id"]:
      g["primary_changed"] += 1
      if labels["photo_primary_label_id"] not in labels["view_label_ids"]:
        g["primary_not_visible"] += 1
    g["objects"] += len(labels["object_category_ids"])
    g["objects_cropped_out"] += sum(1 for v in labels["object_visible_fraction"]
                                    if v == 0)

  def as_dict(self) -> dict:
    return {"split": self.split, "shard": self.shard, "records": self.records,
            "bytes": self.bytes, "sha256": self.sha256, "contents": len(self._labels),
            "labels": dict(collections.Counter(self._labels.values())),
            "style_ids": dict(self._styles), "style_names": dict(self._style_names),
            "views_per_content": dict(self._views),
            "label_geometry": dict(self._geometry),
            "content_licenses": [
                {"id": i, "name": name, "url": url, "contents": n} for (i, name, url), n
                in sorted(collections.Counter(self._licenses.values()).items())]}
