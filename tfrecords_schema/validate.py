"""Checks a finished dataset folder against the record contract and its own metadata.

Readers hit a truncated or corrupt shard only mid-epoch, TFDS trusts the counts in
dataset_info.json blindly, and positive pairs come from neighbouring records, so a
broken layout silently yields wrong training data. This reads every record once, one
file at a time, and names the file behind each problem. The folder's description of
itself (SCHEMA.md, features.json, croissant.json, the record index) is checked against
the field table and the records too (tfrecords_schema/self_description.py); with
`mlcroissant` installed, croissant.json also passes its validation.

  python -m tfrecords_schema.validate DIR [--no-decode-images] [--json]

Exit status: 0 valid, 1 problems found, 2 usage error (no such folder, no
dataset_info.json). DIR may be local or gs:// (tfrecords_schema.storage: gcsfs, so an
emulator works too; an unreachable store exits 2 naming it); needs TensorFlow (image
decoding) and pyarrow (for index.parquet), and uses mlcroissant when installed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import io
import json
import os
import re
import sys
from typing import Any, Callable

from tfrecords_schema import integrity, storage, tfrecord
from tfrecords_schema import self_description as describe
from tfrecords_schema.codec import SchemaError, decode_example, label_problems
from tfrecords_schema.fields import SCHEMA_VERSION
from tfrecords_schema.files import (DATASET_INFO_FILENAME, DEAD_LETTER_FILENAME,
                                    FILEPATH_TEMPLATE, METADATA_FILENAME, fill_template,
                                    parse_shard_name)
from tfrecords_schema.tfds_metadata import tfds_version

#: Problems listed per (file, kind); the rest are only counted, to keep reports readable.
MAX_PER_KIND = 5
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DatasetNotFoundError(FileNotFoundError):
  """The folder is not a dataset at all (a usage error, not a dataset problem)."""


@dataclasses.dataclass(frozen=True)
class Problem:
  file: str  # full path, or "" when the dataset as a whole is at fault
  kind: str  # short code, e.g. "truncated_shard"; stable for scripts
  message: str


@dataclasses.dataclass
class Report:
  dataset_dir: str
  decode_images: bool = True
  problems: list[Problem] = dataclasses.field(default_factory=list)
  records_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  contents_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  shards_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  dataset_name: str = ""

  @property
  def ok(self) -> bool:
    return not self.problems

  def _name(self, file: str) -> str:
    # Relative names keep the summary readable; the header names the folder.
    root = self.dataset_dir.rstrip("/") + "/"
    if not file:
      return "(dataset)"
    return file[len(root):] if file.startswith(root) else file

  def summary(self) -> str:
    total = sum(self.records_by_split.values())
    images = "decoded" if self.decode_images else "not decoded"
    lines = [f"dataset {self.dataset_name or '?'} at {self.dataset_dir} (reader schema "
             f"v{SCHEMA_VERSION}; images {images})"]
    for split in sorted(self.records_by_split):
      lines.append(f"  {split:<6} {self.records_by_split[split]:>8} records, "
                   f"{self.contents_by_split.get(split, 0)} contents, "
                   f"{self.shards_by_split.get(split, 0)} shards")
    if self.ok:
      lines.append(f"OK: {total} records, no problems")
      return "\n".join(lines)
    lines.append(f"FAILED: {len(self.problems)} problem(s)")
    for p in sorted(self.problems, key=lambda p: p.file):  # stable: grouped by file
      lines.append(f"  [{p.kind}] {self._name(p.file)}: {p.message}")
    return "\n".join(lines)

  def to_json(self) -> dict:
    return {"dataset_dir": self.dataset_dir, "dataset_name": self.dataset_name,
            "ok": self.ok, "decode_images": self.decode_images,
            "records_by_split": self.records_by_split,
            "contents_by_split": self.contents_by_split,
            "shards_by_split": self.shards_by_split,
            "problems": [dataclasses.asdict(p) for p in self.problems]}


class _Problems:
  """Collects problems, listing at most MAX_PER_KIND per (file, kind)."""

  def __init__(self):
    self.listed: list[Problem] = []
    self.counts: collections.Counter = collections.Counter()

  def add(self, file: str, kind: str, message: str) -> None:
    self.counts[file, kind] += 1
    if self.counts[file, kind] <= MAX_PER_KIND:
      self.listed.append(Problem(file, kind, message))

  def finish(self) -> list[Problem]:
    extra = [Problem(f, k, f"... and {n - MAX_PER_KIND} more {k} problem(s) in this file")
             for (f, k), n in self.counts.items() if n > MAX_PER_KIND]
    return self.listed + extra


@dataclasses.dataclass
class _Shard:
  path: str
  split: str
  index: int
  expected: int | None  # records per dataset_info.json; None when not listed there
  records: int = 0
  clean: bool = True  # read to the end without a framing error
  size: int = 0
  min_cid: int | None = None
  max_cid: int | None = None


def _join(root: str, name: str) -> str:
  return root.rstrip("/") + "/" + name


def _read_json(path: str) -> Any:
  return json.loads(storage.read_bytes(path).decode("utf-8"))


def _read_json_object(path: str, v) -> dict:
  """A JSON object from `path`, or {} with a `metadata` problem recorded."""
  try:
    obj = _read_json(path)
    if not isinstance(obj, dict):
      raise ValueError("not a JSON object")
    return obj
  except Exception as e:
    v.add(path, "metadata", f"unreadable: {e}")
    return {}


def _tf_message(e: Exception) -> str:
  # TF wraps the useful part in '{{function_node ...}} ... [Op:IteratorGetNext] name: '.
  msg = getattr(e, "message", str(e))
  msg = re.sub(r"^\{\{[^}]*\}\}\s*", "", msg)
  return re.sub(r"\s*\[Op:[^\]]*\].*$", "", msg, flags=re.S).strip()


def _raw_version(raw: bytes) -> int | None:
  """schema_version of a record the strict decoder refused, if it has one."""
  try:
    from tfrecords_schema.example_proto import example_pb2
    values = example_pb2().Example.FromString(raw).features.feature[
        "schema_version"].int64_list.value
    return int(values[0]) if len(values) == 1 else None
  except Exception:
    return None


def _decode_image(data: bytes) -> tuple[int, int, int]:
  """(height, width, channels). PIL is faster and stricter on truncated JPEGs; TF is
  the fallback so the package still needs only TensorFlow."""
  try:
    from PIL import Image
  except ImportError:
    import tensorflow as tf
    h, w, c = tf.io.decode_image(data, expand_animations=False).shape
    return int(h), int(w), int(c)
  with Image.open(io.BytesIO(data)) as im:
    im.load()
    return im.height, im.width, len(im.getbands())


def _check_image(rec: dict, where: str, add: Callable[[str, str], None]) -> None:
  data = rec["image"]
  fmt = ("jpeg" if data[:3] == b"\xff\xd8\xff" else "png" if data[:8] == _PNG_MAGIC
         else None)
  if fmt is None:
    add("undecodable_image", f"{where}: image bytes are neither JPEG nor PNG "
        f"(start {data[:8]!r}, {len(data)} bytes)")
    return
  if fmt != rec["image_format"]:
    add("image_mismatch", f"{where}: image is {fmt}, image_format says "
        f"{rec['image_format']!r}")
  try:
    h, w, c = _decode_image(data)
  except Exception as e:  # PIL's OSError/SyntaxError, TF's InvalidArgumentError
    add("undecodable_image", f"{where}: {fmt} image does not decode: "
        f"{type(e).__name__}: {_tf_message(e)[:200]}")
    return
  if (h, w) != (rec["height"], rec["width"]):
    add("image_mismatch", f"{where}: image is {h}x{w}, height/width say "
        f"{rec['height']}x{rec['width']}")
  if c != 3:
    add("image_mismatch", f"{where}: image has {c} channel(s), the contract says RGB")


class _Validator:

  def __init__(self, root: str, decode_images: bool):
    self.root = root
    self.decode_images = decode_images
    self.problems = _Problems()
    # content_id -> (split, shard path): finds overlaps and contents split over shards.
    self.content_home: dict[int, tuple[str, str]] = {}
    self.contents: dict[str, set[int]] = collections.defaultdict(set)
    self.index = describe.IndexCheck(root, self.add)

  def add(self, file: str, kind: str, message: str) -> None:
    self.problems.add(file, kind, message)

  def read_shard(self, shard: _Shard) -> None:
    """Every record of one file; a framing error ends the file, not the run."""
    path = shard.path
    add = lambda kind, msg: self.add(path, kind, msg)  # noqa: E731
    layout = _ShardLayout(self, shard)
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
    if shard.clean:
      shard.size = storage.size(path)
      if shard.size != consumed:
        # TF reads a cut-off record header (< 12 bytes) as a clean end of file.
        add("truncated_shard", f"truncated file: read {shard.records} record(s), ending "
            f"at byte {consumed} of {shard.size}; the rest is a cut-off record")
        shard.clean = False

  def check_record(self, raw: bytes, shard: _Shard, layout: _ShardLayout,
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
      _check_image(rec, where, add)
    for problem in label_problems(rec):
      add("labels", f"{where}: {problem}")
    layout.see(rec, where, add)
    if shard.expected is not None:
      self.index.see(rec, shard.path, shard.records, offset, add)


class _ShardLayout:
  """The README's layout invariants, checked as the records of one shard stream by."""

  def __init__(self, v: _Validator, shard: _Shard):
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


def validate(dataset_dir: str, *, decode_images: bool = True) -> Report:
  """Checks shards, records and metadata of a dataset folder; never raises for a bad
  dataset (only DatasetNotFoundError when there is no dataset to check)."""
  root = dataset_dir.rstrip("/") or "/"
  info_path = _join(root, DATASET_INFO_FILENAME)
  if not storage.isdir(root):  # an unreachable store raises StoreUnreachableError
    raise DatasetNotFoundError(f"{dataset_dir}: no such folder")
  if not storage.exists(info_path):
    raise DatasetNotFoundError(f"{dataset_dir}: no {DATASET_INFO_FILENAME}; is this a "
                               "dataset folder written by beam_jobs.stylize?")
  v = _Validator(root, decode_images)
  report = Report(dataset_dir=root, decode_images=decode_images)

  # What dataset_info.json promises (TFDS reads exactly these files and counts).
  info = _read_json_object(info_path, v)
  report.dataset_name = name = info.get("name", "")
  if info and info.get("version") != tfds_version():
    v.add(info_path, "schema_version", f"TFDS version {info.get('version')!r}, this "
          f"reader's schema gives {tfds_version()!r}")
  fmt = info.get("fileFormat", "tfrecord")
  info_splits: dict[str, dict] = {}
  shards: dict[str, _Shard] = {}
  for sp in info.get("splits", []):
    try:
      split = sp["name"]
      lengths = [int(n) for n in sp.get("shardLengths", [])]  # JSON int64s are strings
      num_bytes = int(sp.get("numBytes", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
      v.add(info_path, "metadata", f"bad split entry {sp!r:.200}: {e!r}")
      continue
    info_splits[split] = {"lengths": lengths, "bytes": num_bytes}
    template = sp.get("filepathTemplate") or FILEPATH_TEMPLATE
    for i, n in enumerate(lengths):
      path = _join(root, fill_template(template, name, split, fmt, i, len(lengths)))
      shards[path] = _Shard(path, split, i, n)

  # What is on disk.
  found = {}
  for entry in storage.listdir(root):
    parsed = parse_shard_name(entry.rstrip("/"))
    if parsed:
      found[_join(root, entry.rstrip("/"))] = parsed
  for path, shard in shards.items():
    if path not in found:
      v.add(path, "missing_shard", f"listed in {DATASET_INFO_FILENAME} with "
            f"{shard.expected} records, but absent")
  for path in sorted(set(found) - set(shards)):
    parsed = found[path]
    shards[path] = _Shard(path, parsed.split, parsed.shard, None)

  # Listed shards first: they define where each content belongs.
  for shard in sorted(shards.values(), key=lambda s: (s.expected is None, s.path)):
    path = shard.path
    if path not in found:
      continue
    v.read_shard(shard)
    if shard.expected is None:
      if info:
        v.add(path, "unexpected_shard", f"matches the shard naming but is not in "
              f"{DATASET_INFO_FILENAME} (holds {shard.records} record(s)); TFDS ignores "
              "it, a glob reader would not")
      continue
    report.records_by_split[shard.split] = (
        report.records_by_split.get(shard.split, 0) + shard.records)
    if shard.clean and shard.records != shard.expected:
      hint = " (cut at a record boundary?)" if shard.records < shard.expected else ""
      v.add(path, "count_mismatch", f"holds {shard.records} record(s), "
            f"{DATASET_INFO_FILENAME} says {shard.expected}{hint}")

  for split, sp in info_splits.items():
    report.records_by_split.setdefault(split, 0)
    report.shards_by_split[split] = len(sp["lengths"])
    report.contents_by_split[split] = len(v.contents[split])
    listed = sorted((s for s in shards.values() if s.split == split and s.expected
                     is not None), key=lambda s: s.index)
    complete = all(s.path in found and s.clean for s in listed)
    sp["complete"] = complete
    if complete and sum(s.size for s in listed) != sp["bytes"]:
      v.add(info_path, "count_mismatch", f"split {split!r}: shards total "
            f"{sum(s.size for s in listed)} bytes, numBytes says {sp['bytes']}")
    # Each shard holds a contiguous block of the split's contents, in shard order.
    prev = None
    for s in listed:
      if s.min_cid is None:
        continue
      if prev is not None and s.min_cid <= prev.max_cid:
        v.add(s.path, "layout", f"contents {s.min_cid}..{s.max_cid} overlap or precede "
              f"those of {os.path.basename(prev.path)} (..{prev.max_cid}): shards must "
              "hold contiguous blocks in content_id order")
      prev = s

  meta = _check_metadata(v, root, name, info_splits)
  v.index.finish({os.path.basename(s.path) for s in shards.values()
                  if s.path not in found or not s.clean})
  describe.check_features(root, v.add, meta.get("image", {}).get("format"))
  describe.check_schema_md(root, v.add)
  describe.check_croissant(root, v.add, sorted(info_splits))
  if meta:  # each shard's sha256 (tfrecords_schema/integrity.py)
    integrity.check_shard_sums(root, meta, v.add, skip={
        os.path.basename(p) for p in shards if p not in found})
  report.problems = v.problems.finish()
  return report


def _check_metadata(v: _Validator, root: str, name: str, info_splits: dict) -> dict:
  """stylized_metadata.json and dead_letter.jsonl agree with dataset_info and the data;
  returns the metadata ({} when unreadable)."""
  path = _join(root, METADATA_FILENAME)
  meta: dict = {}
  if not storage.exists(path):
    v.add(path, "metadata", "missing")
  else:
    meta = _read_json_object(path, v)
  if meta:
    describe.check_metadata_keys(path, meta, v.add)
    if meta.get("schema_version") != SCHEMA_VERSION:
      v.add(path, "schema_version", f"schema_version {meta.get('schema_version')!r}, "
            f"this reader understands {SCHEMA_VERSION}")
    if name and meta.get("dataset_name") != name:
      v.add(path, "metadata", f"dataset_name {meta.get('dataset_name')!r}, "
            f"{DATASET_INFO_FILENAME} says {name!r}")
    splits = meta.get("splits") or {}
    for split in sorted(set(splits) ^ set(info_splits)):
      where = METADATA_FILENAME if split in splits else DATASET_INFO_FILENAME
      v.add(path, "metadata", f"split {split!r} is only in {where}")
    for split in sorted(set(splits) & set(info_splits)):
      m, sp = splits[split], info_splits[split]
      checks = [("records", m.get("records"), sum(sp["lengths"]), DATASET_INFO_FILENAME),
                ("shards", m.get("shards"), len(sp["lengths"]), DATASET_INFO_FILENAME),
                ("shard_lengths", m.get("shard_lengths"), sp["lengths"],
                 DATASET_INFO_FILENAME),
                ("bytes", m.get("bytes"), sp["bytes"], DATASET_INFO_FILENAME)]
      if sp["complete"]:
        checks.append(("contents", m.get("contents"), len(v.contents[split]),
                       "the shards"))
      for key, got, want, source in checks:
        if got != want:
          v.add(path, "count_mismatch", f"split {split!r}: {key} {got!r}, {source} "
                f"{'hold' if source == 'the shards' else 'says'} {want!r}")

  dl_path = _join(root, DEAD_LETTER_FILENAME)
  if not storage.exists(dl_path):
    v.add(dl_path, "metadata", "missing (the job writes it, empty when nothing failed)")
    return meta
  text = storage.read_bytes(dl_path).decode("utf-8", "replace")
  lines = [ln for ln in text.splitlines() if ln.strip()]
  for i, line in enumerate(lines):
    try:
      entry = json.loads(line)
      ok = isinstance(entry, dict) and {"stage", "uri", "reason"} <= set(entry)
    except ValueError:
      ok = False
    if not ok:
      v.add(dl_path, "metadata", f"line {i + 1} is not an object with stage, uri, reason")
  if meta and meta.get("dead_letters", len(lines)) != len(lines):
    v.add(dl_path, "count_mismatch", f"{len(lines)} entries, {METADATA_FILENAME} says "
          f"{meta.get('dead_letters')}")
  return meta


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog="python -m tfrecords_schema.validate",
      description="Check a stylized dataset folder (local or gs://): every shard and "
                  "record against the schema and the metadata. Exit 0 valid, 1 problems, "
                  "2 usage error.")
  p.add_argument("dataset_dir")
  p.add_argument("--no-decode-images", dest="decode_images", action="store_false",
                 help="skip decoding images (faster; height/width/format unchecked)")
  p.add_argument("--json", action="store_true", help="print the report as JSON")
  args = p.parse_args(argv)
  # TF's C++ logging (CUDA probing, 'rendezvous aborting') would bury the report.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  try:
    report = validate(args.dataset_dir, decode_images=args.decode_images)
  except (DatasetNotFoundError, storage.StoreUnreachableError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
  return 0 if report.ok else 1


if __name__ == "__main__":
  sys.exit(main())
