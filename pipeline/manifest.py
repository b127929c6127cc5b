"""The manifest entries: what the launcher planned for each content and style, typed.

The launcher lists the inputs (`sources.ContentItem`, `sources.StyleItem`), plans every
content into a split and a shard, and writes the result down as manifests, one JSON
object per line, that the workers read. The entries are typed so that every reader
(`render`, `records`, `accounting`, the job's finish) reads a field by name with the
default it was listed with, and this module is the one place that turns an entry into
its line and back: the on-disk form stays what it was (a resumed run reads it as is).

A style's entry is the `StyleItem` itself: the plan adds nothing to a style. Styles
travel between Beam steps in their JSON form (a plain dict, so what crosses a shuffle
and the metered sizes stay small) and are typed where they are used.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Iterable, Iterator, Optional

from pipeline.sources import ContentItem, StyleItem

#: Fields that follow from the flags (the plan), not from the listed files.
PLANNED_FIELDS = ("split", "index_in_split", "shard")
# Fields listed as tuples; JSON gives them back as lists.
_TUPLES = ("label_ids", "label_names", "objects", "annotation_frame",
           "label_supercategories")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentEntry(ContentItem):
  """A listed content and its place in the plan: split, position in the split (by id)
  and shard; `source_record` ({"file", "offset"}) when its image lives inside a source
  shard (TFDS) rather than a file of its own."""
  split: str
  index_in_split: int
  shard: int
  source_record: Optional[dict] = None

  @classmethod
  def planned(cls, item: ContentItem, **plan) -> "ContentEntry":
    return cls(**{f.name: getattr(item, f.name) for f in dataclasses.fields(item)},
               **plan)

  def to_json(self) -> dict:
    """The manifest line's object (`source_record` only when there is one)."""
    row = dataclasses.asdict(self)
    if row["source_record"] is None:
      del row["source_record"]
    return row

  def listed_json(self) -> dict:
    """The JSON of what the files say, without the plan (the plan's fingerprint)."""
    return {k: v for k, v in self.to_json().items() if k not in PLANNED_FIELDS}

  @classmethod
  def from_json(cls, row: dict) -> "ContentEntry":
    return cls(**_tupled(row))


def style_to_json(style: StyleItem) -> dict:
  return dataclasses.asdict(style)


def style_from_json(row: dict) -> StyleItem:
  return StyleItem(**row)


def _tupled(row: dict) -> dict:
  return {k: tuple(v) if k in _TUPLES and isinstance(v, list) else v
          for k, v in row.items()}


def to_lines(rows: Iterable[dict]) -> str:
  """Manifest text: one JSON object per line, keys sorted, non-ASCII kept as is."""
  return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def read_rows(path: str) -> Iterator[dict]:
  """A manifest's JSON objects (a shard's contents, or the styles), streamed line by
  line from any filesystem Beam knows (local or gs://)."""
  from apache_beam.io.filesystems import FileSystems
  with FileSystems.open(path) as f:
    for line in f:
      if line.strip():
        yield json.loads(line)


def read_contents(path: str) -> Iterator[ContentEntry]:
  """A shard's content entries, in the order the launcher wrote them (by id)."""
  return map(ContentEntry.from_json, read_rows(path))
