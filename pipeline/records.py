"""One view -> one encoded record, and the statistics of a shard's records.

Pure functions of the manifest entries (what the launcher planned for a content and a
style) and the view's pixels, so the record bytes depend on nothing but the plan and
the model: the same inputs and seed give byte-identical shards on any runner.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Mapping, Optional

import numpy as np

from pipeline import image_io
import tfrecords_schema as schema


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


def encode_view(content: Mapping, view_index: int, pixels: np.ndarray,
                style: Optional[Mapping], strength: float, fmt: RecordFormat) -> bytes:
  """uint8 HxWx3 pixels of one view -> a serialized tf.train.Example of the schema."""
  record = {
      "image": image_io.encode_image(pixels, fmt.image_format, fmt.jpeg_quality),
      "image_format": fmt.image_format, "height": int(pixels.shape[0]),
      "width": int(pixels.shape[1]), "content_id": content["content_id"],
      "content_uri": content["uri"],
      "content_label_ids": content.get("label_ids", []),
      "content_label_names": content.get("label_names", []),
      "content_primary_label_id": content.get("primary_label_id", -1),
      "content_primary_label": content.get("primary_label", ""),
      "content_supercategory": content.get("supercategory", ""),
      "is_original": style is None, "view_index": view_index,
      "split": content["split"],
  }
  if style is None:
    record.update(stylizer="none")
  else:
    record.update(style_id=style["style_id"], style_uri=style["uri"],
                  style_name=style.get("name", ""), style_artist=style.get("artist", ""),
                  style_genre=style.get("genre", ""), style_title=style.get("title", ""),
                  stylizer=fmt.stylizer_name, stylizer_version=fmt.stylizer_version,
                  style_strength=float(strength))
  return schema.encode_example(record)


class ShardStats:
  """Counts over the records of one shard, for dataset_info.json, the card and the
  launcher's written-or-dead-lettered check. Labels count once per content."""

  def __init__(self, split: str, shard: int):
    self.split, self.shard = split, shard
    self.records = self.bytes = 0
    self._styles: collections.Counter = collections.Counter()
    self._style_names: collections.Counter = collections.Counter()
    self._labels: dict[int, str] = {}
    self._views: collections.Counter = collections.Counter()

  def add(self, content: Mapping, style: Optional[Mapping], framed_bytes: int) -> None:
    cid = content["content_id"]
    self.records += 1
    self.bytes += framed_bytes
    self._views[str(cid)] += 1
    self._labels.setdefault(cid, content.get("primary_label") or "(unlabelled)")
    if style is not None:
      self._styles[str(style["style_id"])] += 1
      self._style_names[style.get("name") or "(unnamed)"] += 1

  def as_dict(self) -> dict:
    return {"split": self.split, "shard": self.shard, "records": self.records,
            "bytes": self.bytes, "contents": len(self._labels),
            "labels": dict(collections.Counter(self._labels.values())),
            "style_ids": dict(self._styles), "style_names": dict(self._style_names),
            "views_per_content": dict(self._views)}
