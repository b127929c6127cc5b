"""The folder as a whole: the shards on disk against dataset_info.json, then every
check in turn (tfrecords_schema/validate/__init__.py lists them).

TFDS reads exactly the files and counts dataset_info.json lists, a glob reader reads
whatever matches the shard naming: a shard missing, extra or of another length makes
the two disagree, so each is named here.
"""

from __future__ import annotations

import os

from tfrecords_schema import integrity
from tfrecords_schema import self_description as describe
from tfrecords_schema import storage
from tfrecords_schema.files import (DATASET_INFO_FILENAME, FILEPATH_TEMPLATE,
                                    fill_template, in_folder, parse_shard_name)
from tfrecords_schema.tfds_metadata import tfds_version
from tfrecords_schema.validate.metadata import check_metadata, read_json_object
from tfrecords_schema.validate.records import Shard, Validator
from tfrecords_schema.validate.report import DatasetNotFoundError, Report


def validate(dataset_dir: str, *, decode_images: bool = True) -> Report:
  """Checks shards, records and metadata of a dataset folder; never raises for a bad
  dataset (only DatasetNotFoundError when there is no dataset to check)."""
  root = dataset_dir.rstrip("/") or "/"
  info_path = in_folder(root, DATASET_INFO_FILENAME)
  if not storage.isdir(root):  # an unreachable store raises StoreUnreachableError
    raise DatasetNotFoundError(f"{dataset_dir}: no such folder")
  if not storage.exists(info_path):
    raise DatasetNotFoundError(f"{dataset_dir}: no {DATASET_INFO_FILENAME}; is this a "
                               "dataset folder written by beam_jobs.stylize?")
  v = Validator(root, decode_images)
  report = Report(dataset_dir=root, decode_images=decode_images)

  # What dataset_info.json promises (TFDS reads exactly these files and counts).
  info = read_json_object(info_path, v)
  report.dataset_name = name = info.get("name", "")
  if info and info.get("version") != tfds_version():
    v.add(info_path, "schema_version", f"TFDS version {info.get('version')!r}, this "
          f"reader's schema gives {tfds_version()!r}")
  fmt = info.get("fileFormat", "tfrecord")
  info_splits: dict[str, dict] = {}
  shards: dict[str, Shard] = {}
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
      path = in_folder(root, fill_template(template, name, split, fmt, i, len(lengths)))
      shards[path] = Shard(path, split, i, n)

  # What is on disk.
  found = {}
  for entry in storage.listdir(root):
    parsed = parse_shard_name(entry.rstrip("/"))
    if parsed:
      found[in_folder(root, entry.rstrip("/"))] = parsed
  for path, shard in shards.items():
    if path not in found:
      v.add(path, "missing_shard", f"listed in {DATASET_INFO_FILENAME} with "
            f"{shard.expected} records, but absent")
  for path in sorted(set(found) - set(shards)):
    parsed = found[path]
    shards[path] = Shard(path, parsed.split, parsed.shard, None)

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

  meta = check_metadata(v, root, name, info_splits)
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
