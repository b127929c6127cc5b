"""Each shard, record by record: its framing, every record against the contract, and
the layout invariants of tfrecords_schema/README.md as the records stream by.

A framing error ends its file, not the run; the records read before it are still
checked. Contents are tracked across shards (`Validator.content_home`) to find a
content split over two shards or two splits.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from typing import Callable

from tfrecords_schema import self_description as describe
from tfrecords_schema import storage, tfrecord
from tfrecords_schema.codec import SchemaError, decode_example, label_problems
from tfrecords_schema.fields import SCHEMA_VERSION
from tfrecords_schema.validate.images import check_image
from tfrecords_schema.validate.report import Problems


@dataclasses.dataclass
class Shard:
  path: str
  split: str
  index: int
  expected: int | None  # records per dataset_info.json; None when not listed there
  records: int = 0
  clean: bool = True  # read to the end without a framing error
  size: int = 0
  min_cid: int | None = None
  max_cid: int | None = None


def _raw_version(raw: bytes) -> int | None:
  """schema_version of a record the strict decoder refused, if it has one."""
  try:
    from tfrecords_schema.example_proto import example_pb2
    values = example_pb2().Example.FromString(raw).features.feature[
        "schema_version"].int64_list.value
    return int(values[0]) if len(values) == 1 else None
  except Exception:
    return None


class Validator:
  """The state of one run: its problems and where each content was seen."""

  def __init__(self, root: str, decode_images: bool):
    self.root = root
    self.decode_images = decode_images
    self.problems = Problems()
    # content_id -> (split, shard path): finds overlaps and contents split over shards.
    self.content_home: dict[int, tuple[str, str]] = {}
    self.contents: dict[str, set[int]] = collections.defaultdict(set)
    self.index = describe.IndexCheck(root, self.add)

  def add(self, file: str, kind: str, message: str) -> None:
    self.problems.add(file, kind, message)

  def read_shard(self, shard: Shard) -> None:
    """Every record of one file; a framing error ends the file, not the run."""
    path = shard.path
    add = lambda kind, msg: self.add(path, kind, msg)  # noqa: E731
    layout = ShardLayout(self, shard)
    consumed = 0
    try:
      with storage.open_read(path) as f:
        for _, raw in tfrecord.iter_records(f, path):
          self.check_record(raw, shard, layout, add, consumed)
          consumed += tfrecord.framed_size(raw)
          shard.records += 1
    except tfrecord.RecordError as e:
      msg = str(e).split(": ", 1)[-1]
      kind = "truncated_shard" if e.kind == "truncated" else "corrupt_record"
      add(kind, f"{e.kind} file: read {shard.records} record(s) before the failure "
          f"({msg}); the rest of the file is unreadable")
      shard.clean = False
    except storage.StoreUnreachableError:
      raise
    except OSError as e:
      add("unreadable_shard", f"read {shard.records} record(s) before the failure: "
          f"{type(e).__name__}: {e}")
      shard.clean = False
    if shard.clean:  # the framing reader ends cleanly only at the file's last byte
      shard.size = consumed

  def check_record(self, raw: bytes, shard: Shard, layout: ShardLayout,
                   add: Callable[[str, str], None], offset: int) -> None:
    where = f"record {shard.records}"
    try:
      rec = decode_example(raw)
    except SchemaError as e:
      version = _raw_version(raw)
      if version is not None and version != SCHEMA_VERSION:
        add("schema_version", f"{where}: schema_version {version}, this reader "
            f"understands {SCHEMA_VERSION}")
      else:
        add("bad_record", f"{where}: {e}")
      self.index.skip(shard.path, shard.records)
      return
    if rec["split"] != shard.split:
      add("layout", f"{where}: split field {rec['split']!r} in a {shard.split!r} shard")
    if rec["image_format"] not in ("jpeg", "png"):
      add("bad_record", f"{where}: image_format {rec['image_format']!r} is not jpeg/png")
    if rec["height"] <= 0 or rec["width"] <= 0:
      add("bad_record", f"{where}: height/width {rec['height']}x{rec['width']}")
    if self.decode_images:
      check_image(rec, where, add)
    for problem in label_problems(rec):
      add("labels", f"{where}: {problem}")
    layout.see(rec, where, add)
    if shard.expected is not None:
      self.index.see(rec, shard.path, shard.records, offset, add)


class ShardLayout:
  """The README's layout invariants, checked as the records of one shard stream by."""

  def __init__(self, v: Validator, shard: Shard):
    self.v, self.shard = v, shard
    self.seen: set[int] = set()
    self.cid: int | None = None
    self.view = -1
    self.styles: set[int] = set()

  def see(self, rec: dict, where: str, add: Callable[[str, str], None]) -> None:
    cid, view, style = rec["content_id"], rec["view_index"], rec["style_id"]
    shard = self.shard
    if rec["is_original"]:
      if view != 0 or style != -1:
        add("layout", f"{where}: original view of content {cid} has view_index {view}, "
            f"style_id {style} (must be 0, -1)")
    elif view < 1 or style == -1:
      add("layout", f"{where}: stylized view of content {cid} has view_index {view}, "
          f"style_id {style} (must be >= 1, not -1)")
    if cid != self.cid:
      if cid in self.seen:
        add("layout", f"{where}: records of content {cid} are not adjacent (it appeared "
            "earlier in this shard)")
      elif self.cid is not None and cid < self.cid:
        add("layout", f"{where}: content {cid} after content {self.cid}: contents are "
            "not in content_id order")
      self.seen.add(cid)
      self.cid, self.view, self.styles = cid, -1, set()
      if shard.expected is not None:  # an unexpected shard is reported as such
        self._home(cid, where, add)
    elif view <= self.view:
      add("layout", f"{where}: content {cid}: view_index {view} after {self.view} "
          "(must ascend)")
    if not rec["is_original"]:
      if style in self.styles:
        add("layout", f"{where}: content {cid} has style_id {style} twice")
      self.styles.add(style)
    self.view = max(self.view, view)
    shard.min_cid = cid if shard.min_cid is None else min(shard.min_cid, cid)
    shard.max_cid = cid if shard.max_cid is None else max(shard.max_cid, cid)

  def _home(self, cid: int, where: str, add: Callable[[str, str], None]) -> None:
    split, path = self.shard.split, self.shard.path
    home = self.v.content_home.setdefault(cid, (split, path))
    if home[0] != split:
      add("split_overlap", f"{where}: content {cid} is in split {split!r} here and in "
          f"split {home[0]!r} in {os.path.basename(home[1])}")
    elif home[1] != path:
      add("layout", f"{where}: content {cid} also has records in "
          f"{os.path.basename(home[1])} (a content's records must be in one shard)")
    self.v.contents[split].add(cid)
