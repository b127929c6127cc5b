"""The job's own metadata files: stylized_metadata.json and dead_letter.jsonl agree
with dataset_info.json, with the shards and with each other.

TFDS trusts dataset_info.json and our readers trust stylized_metadata.json; a count that
differs between them means one of them describes another run.
"""

from __future__ import annotations

import json

from tfrecords_schema import self_description as describe
from tfrecords_schema import storage
from tfrecords_schema.fields import SCHEMA_VERSION
from tfrecords_schema.files import (DATASET_INFO_FILENAME, DEAD_LETTER_FILENAME,
                                    METADATA_FILENAME, in_folder)
from tfrecords_schema.validate.records import Validator


def read_json_object(path: str, v) -> dict:
  """A JSON object from `path`, or {} with a `metadata` problem recorded."""
  try:
    obj = storage.read_json(path)
    if not isinstance(obj, dict):
      raise ValueError("not a JSON object")
    return obj
  except Exception as e:
    v.add(path, "metadata", f"unreadable: {e}")
    return {}


def check_metadata(v: Validator, root: str, name: str, info_splits: dict) -> dict:
  """stylized_metadata.json and dead_letter.jsonl agree with dataset_info and the data;
  returns the metadata ({} when unreadable)."""
  path = in_folder(root, METADATA_FILENAME)
  meta: dict = {}
  if not storage.exists(path):
    v.add(path, "metadata", "missing")
  else:
    meta = read_json_object(path, v)
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

  dl_path = in_folder(root, DEAD_LETTER_FILENAME)
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
