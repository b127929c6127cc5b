"""Shard checksums: made by the job, stated in the metadata and Croissant, checked.

A TFRecord's CRCs catch a flipped bit inside one record, not a shard that was edited,
re-framed, truncated at a record boundary or swapped for another run's. The job hashes
each shard as it writes it (no second read), `stylized_metadata.json` lists the sums
per split in shard order (`splits.SPLIT.shard_sha256`), croissant.json repeats each as
its FileObject's `sha256`, and the validator reads every shard once more to compare.
"""

from __future__ import annotations

import hashlib
import json
from typing import Callable, Iterable, Mapping

from tfrecords_schema import storage
from tfrecords_schema.files import (CROISSANT_FILENAME, METADATA_FILENAME, in_folder,
                                    shard_filename)

#: sha256 of an empty file: a shard none of whose contents survived.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_CHUNK = 1 << 20

Add = Callable[[str, str, str], None]  # (file, kind, message)


def file_sha256(path: str) -> str:
  """sha256 of a local or gs:// file, read in 1 MB chunks (memory stays flat)."""
  digest = hashlib.sha256()
  with storage.open_read(path) as f:
    for chunk in iter(lambda: f.read(_CHUNK), b""):
      digest.update(chunk)
  return digest.hexdigest()


def shard_sums(name: str, splits: Mapping[str, Mapping]) -> Iterable[tuple[str, str]]:
  """(shard file name, sha256) of every shard the metadata's `splits` lists."""
  for split, info in sorted(splits.items()):
    sums = info.get("shard_sha256") or []
    n = info.get("shards", len(sums))
    for i, digest in enumerate(sums):
      yield shard_filename(name, split, i, n), digest


def _croissant(root: str) -> Mapping | None:
  """croissant.json, or None when absent or unreadable (its own check says so)."""
  try:
    doc = json.loads(storage.read_bytes(in_folder(root, CROISSANT_FILENAME)))
    return doc if isinstance(doc, dict) else None
  except Exception:
    return None


def check_shard_sums(root: str, meta: Mapping, add: Add,
                     skip: Iterable[str] = ()) -> None:
  """Each shard's sha256 against `stylized_metadata.json`, and croissant.json's
  FileObjects against the metadata; a mismatch names the shard. `skip`: shard file
  names already reported missing."""
  name, splits = meta.get("dataset_name", ""), meta.get("splits") or {}
  meta_path = in_folder(root, METADATA_FILENAME)
  skip = set(skip)
  for split, info in sorted(splits.items()):
    sums = info.get("shard_sha256")
    if not isinstance(sums, list) or len(sums) != info.get("shards"):
      add(meta_path, "checksum", f"split {split!r}: shard_sha256 lists "
          f"{len(sums) if isinstance(sums, list) else 'no'} sums for "
          f"{info.get('shards')} shards")
  listed = dict(shard_sums(name, splits))
  for filename, want in sorted(listed.items()):
    if filename in skip:
      continue
    path = in_folder(root, filename)
    try:
      got = file_sha256(path)
    except Exception as e:  # missing: reported by the shard checks
      add(path, "checksum", f"cannot hash: {type(e).__name__}: {e}")
      continue
    if got != want:
      add(path, "checksum", f"sha256 {got} differs from {METADATA_FILENAME}'s "
          f"{want}: the file changed after the job wrote it")
  croissant = _croissant(root)
  if croissant is None:
    return
  files = {d.get("contentUrl"): d.get("sha256") for d in croissant.get("distribution", [])
           if d.get("@type") == "cr:FileObject"}
  for filename, want in sorted(listed.items()):
    if files.get(filename) != want:
      add(in_folder(root, CROISSANT_FILENAME), "checksum", f"FileObject {filename}: sha256 "
          f"{files.get(filename)!r}, {METADATA_FILENAME} says {want!r}")
