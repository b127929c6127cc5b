"""Checks a dataset folder's description of itself against the field table and records.

A consumer reads the folder through its descriptions: SCHEMA.md's literal feature spec,
TFDS's features.json, croissant.json's fields and the record index. Each must state
exactly FIELDS with the one type each field has, and the index must hold one row per
record equal to the record. Used by `tfrecords_schema.validate`; it reads every
record once and hands each to `IndexCheck.see`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Callable

from tfrecords_schema import croissant as C
from tfrecords_schema import storage
from tfrecords_schema.fields import (BOOL, BYTES, FIELDS, FLOAT, FLOAT_LIST, INT,
                                     INT_LIST, SCHEMA_VERSION, STR, STR_LIST,
                                     feature_spec_source)
from tfrecords_schema.files import (CROISSANT_FILENAME, FEATURES_FILENAME,
                                    INDEX_FILENAME, SCHEMA_FILENAME, in_folder)
from tfrecords_schema.index import arrow_schema, index_row
from tfrecords_schema.schema_doc import METADATA_KEYS

Add = Callable[[str, str, str], None]  # (file, kind, message)

#: features.json's description of each kind: (pythonClassName suffix, dtype).
_TFDS = {STR: ("text_feature.Text", "string"), INT: ("scalar.Scalar", "int64"),
         BOOL: ("scalar.Scalar", "int64"), FLOAT: ("scalar.Scalar", "float32"),
         INT_LIST: ("sequence_feature.Sequence", "int64"),
         STR_LIST: ("sequence_feature.Sequence", "string"),
         FLOAT_LIST: ("sequence_feature.Sequence", "float32"),
         BYTES: ("image_feature.Image", "uint8")}


def _read(path: str) -> bytes:
  return storage.read_bytes(path)


def _exists(path: str) -> bool:
  return storage.exists(path)


def _present(path: str, add: Add, kind: str, why: str = "") -> bool:
  """Whether the file at `path` exists; records it as `missing` (and why) when not."""
  if _exists(path):
    return True
  add(path, kind, f"missing{why}")
  return False


def _tfds_type(feature: dict) -> tuple[str, str]:
  cls = feature.get("pythonClassName", "").rsplit("features.", 1)[-1]
  if "sequence" in feature:
    inner = feature["sequence"]["feature"]
    return cls, inner.get("tensor", {}).get("dtype") or (
        "string" if inner.get("pythonClassName", "").endswith("Text") else "?")
  for key in ("tensor", "image"):
    if key in feature:
      return cls, feature[key]["dtype"]
  return cls, "string" if cls.endswith("Text") else "?"


def check_features(root: str, add: Add, image_format: str | None) -> None:
  """features.json must describe exactly FIELDS, each with its one type."""
  path = in_folder(root, FEATURES_FILENAME)
  if not _present(path, add, "metadata", " (tfds.builder_from_directory needs it)"):
    return
  try:
    feats = json.loads(_read(path))["content"]["features"]
  except Exception as e:
    add(path, "metadata", f"not a TFDS FeaturesDict: {type(e).__name__}: {e}")
    return
  want = {f.name for f in FIELDS}
  if set(feats) != want:
    add(path, "metadata", f"features differ from the schema: missing "
        f"{sorted(want - set(feats))}, unknown {sorted(set(feats) - want)}")
  for f in FIELDS:
    if f.name in feats:
      cls, dtype = _tfds_type(feats[f.name])
      if not cls.endswith(_TFDS[f.kind][0].rsplit(".", 1)[-1]) or dtype != _TFDS[f.kind][1]:
        add(path, "types", f"{f.name}: declared {cls} {dtype}, the schema says "
            f"{f.type.name}")
  enc = feats.get("image", {}).get("image", {}).get("encodingFormat")
  if image_format and enc != image_format:
    add(path, "types", f"image: encodingFormat {enc!r}, the images are {image_format}")


def check_schema_md(root: str, add: Add) -> None:
  path = in_folder(root, SCHEMA_FILENAME)
  if not _present(path, add, "self_description", ": the folder must carry its own schema"):
    return
  text = _read(path).decode("utf-8", "replace")
  if f"record schema version {SCHEMA_VERSION}" not in text:
    add(path, "self_description", f"does not describe record schema version "
        f"{SCHEMA_VERSION}")
  if feature_spec_source() not in text:
    add(path, "self_description", "its feature spec differs from the field table")


def check_metadata_keys(path: str, meta: dict, add: Add) -> None:
  unknown = sorted(set(meta) - set(METADATA_KEYS))
  if unknown:
    add(path, "self_description", f"keys {unknown} are not documented in "
        f"{SCHEMA_FILENAME}")


def check_croissant(root: str, add: Add, splits: list[str]) -> None:
  """croissant.json's `records` fields are the index columns with their types, its
  index checksum is the index's, and every split has a FileSet."""
  path = in_folder(root, CROISSANT_FILENAME)
  if not _present(path, add, "self_description"):
    return
  try:
    doc = json.loads(_read(path))
    dist = {d["@id"]: d for d in doc["distribution"]}
    rs = {r["@id"]: r for r in doc["recordSet"]}[C.RECORD_SET]
  except Exception as e:
    add(path, "self_description", f"not our Croissant document: {type(e).__name__}: {e}")
    return
  if doc.get("conformsTo") != C.CONFORMS_TO:
    add(path, "self_description", f"conformsTo {doc.get('conformsTo')!r}")
  got = [(f["name"], f["dataType"], bool(f.get("repeated"))) for f in rs["field"]]
  want = [(name, dtype, rep) for name, dtype, rep, _ in C.record_fields()]
  if got != want:
    diff = sorted(set(got) ^ set(want))[:4]
    add(path, "types", f"RecordSet `records` fields differ from the index columns "
        f"(e.g. {diff})")
  index_path = in_folder(root, INDEX_FILENAME)
  if _exists(index_path) and dist.get(INDEX_FILENAME, {}).get("sha256") != (
      hashlib.sha256(_read(index_path)).hexdigest()):
    add(path, "self_description", f"sha256 of {INDEX_FILENAME} differs from the file")
  for split in splits:
    if f"{split}-shards" not in dist:
      add(path, "self_description", f"no FileSet for split {split!r}")
  try:
    import mlcroissant as mlc
  except ImportError:
    return  # the checks above cover our contract; mlcroissant adds the spec's own
  try:  # the parsed document: mlcroissant cannot open gs:// paths itself
    issues = mlc.Dataset(jsonld=doc).metadata.ctx.issues
    errors = sorted(issues.errors)
  except Exception as e:  # mlcroissant raises ValidationError listing the errors
    errors = [f"{type(e).__name__}: {e}"]
  for error in errors[:5]:
    add(path, "croissant", f"mlcroissant: {error}")


def _digest(row: dict) -> bytes:
  return hashlib.sha1(json.dumps(row, sort_keys=True, ensure_ascii=False)
                      .encode("utf-8")).digest()


class IndexCheck:
  """The index must hold exactly one row per record, equal to it."""

  def __init__(self, root: str, add: Add):
    self.path, self._add = in_folder(root, INDEX_FILENAME), add
    self._rows: dict[tuple[str, int], bytes] | None = None
    if not _exists(self.path):
      add(self.path, "self_description", "missing: the per-record index")
      return
    try:
      import pyarrow as pa
      import pyarrow.parquet as pq
    except ImportError:
      add(self.path, "self_description", "cannot check it: pyarrow is not installed "
          "(pip install pyarrow)")
      return
    try:
      table = pq.read_table(pa.BufferReader(_read(self.path)))
      rows = table.to_pylist()
    except Exception as e:
      add(self.path, "self_description", f"unreadable: {type(e).__name__}: {e}")
      return
    if not table.schema.remove_metadata().equals(arrow_schema().remove_metadata()):
      add(self.path, "types", "columns or types differ from the field table")
    self._rows = {}
    for row in rows:
      key = (row["shard"], row["position"])
      if key in self._rows:
        add(self.path, "index", f"two rows for record {key[1]} of {key[0]}")
      self._rows[key] = _digest(row)

  def see(self, rec: dict, shard_path: str, position: int, offset: int,
          add: Callable[[str, str], None]) -> None:
    if self._rows is None:
      return
    row = index_row(rec, os.path.basename(shard_path), position, offset)
    got = self._rows.pop((row["shard"], position), None)
    if got is None:
      add("index", f"record {position} has no row in {INDEX_FILENAME}")
    elif got != _digest(row):
      add("index", f"record {position}: its {INDEX_FILENAME} row differs from it")

  def skip(self, shard_path: str, position: int) -> None:
    """A record that does not parse (reported as such): its row is not compared."""
    if self._rows is not None:
      self._rows.pop((os.path.basename(shard_path), position), None)

  def finish(self, unreadable: set[str]) -> None:
    """Rows left over point at records that do not exist (except in broken shards)."""
    if self._rows:
      extra = [k for k in self._rows if k[0] not in unreadable]
      if extra:
        self._add(self.path, "index", f"{len(extra)} rows name no record (e.g. record "
                  f"{extra[0][1]} of {extra[0][0]})")
