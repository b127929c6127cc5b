"""The output folder's life cycle: refuse or replace, stage, finalize, commit.

The job writes everything into a staging folder beside the output and moves it into
place only after the pipeline succeeded and the metadata is written, so a reader never
sees a half-written dataset or a mix of two runs.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Mapping

from apache_beam.io.filesystems import FileSystems

from beam_jobs import remote
import tfrecords_schema as schema
from tfrecords_schema import integrity
from tfrecords_schema.files import SHARD_MARK

remote.anonymous_on_emulator()  # the launcher and every worker do their I/O through here


class OutputError(ValueError):
  """The output location cannot be used as asked."""


def _is_local(path: str) -> bool:
  return "://" not in path


def match(pattern: str) -> list[str]:
  """Sorted paths matching a glob; [] when nothing matches or the place is missing."""
  try:
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
  except Exception:
    return []


def existing_files(path: str) -> list[str]:
  return match(path.rstrip("/") + "/**")


def check_output(output: str, overwrite: bool) -> None:
  """Fail fast, before any work, when the output holds files and overwrite is off."""
  if _is_local(output) and os.path.exists(output) and not os.path.isdir(output):
    raise OutputError(f"--output {output!r} is a file, not a folder")
  if existing_files(output) and not overwrite:
    raise OutputError(f"--output {output!r} already holds files; pass --overwrite to "
                      "replace it whole (its old contents are removed only after the "
                      "new dataset is complete)")


def write_text(path: str, text: str) -> None:
  with FileSystems.create(path) as f:
    f.write(text.encode("utf-8"))


def read_text(path: str) -> str:
  with FileSystems.open(path) as f:
    return f.read().decode("utf-8")


def read_lines(pattern: str) -> list[str]:
  """All lines of the files matching a pattern (Beam's text shards)."""
  lines = []
  for path in match(pattern):
    lines.extend(line for line in read_text(path).splitlines() if line.strip())
  return lines


def delete_tree(path: str) -> None:
  if _is_local(path):
    shutil.rmtree(path, ignore_errors=True)
    return
  files = existing_files(path)
  if files:
    FileSystems.delete(files)


def commit(staging: str, output: str, *, overwrite: bool, keep_out: str = "_work") -> None:
  """Moves the finished staging folder to `output`, replacing what was there.

  The `keep_out` subfolder (the job's working files, lock included) is not published;
  locally it is removed just before the one-step rename. On an object store each file
  is copied: the shards first and the metadata that points at them last, and the old
  dataset's leftover files are removed only once the new one is complete. An output
  that appeared since launch is replaced only with `overwrite`.
  """
  if existing_files(output) and not overwrite:
    raise OutputError(f"--output {output!r} was written by someone else while this job "
                      "ran; pass --overwrite to replace it")
  if _is_local(output):
    shutil.rmtree(os.path.join(staging, keep_out), ignore_errors=True)
    old = None
    if os.path.exists(output):
      old = staging + ".old"
      os.replace(output, old)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    os.replace(staging, output)
    if old:
      shutil.rmtree(old, ignore_errors=True)
    return
  root = staging.rstrip("/")
  src = [p for p in existing_files(staging)
         if not p[len(root):].lstrip("/").startswith(keep_out + "/")]
  src.sort(key=lambda p: (SHARD_MARK not in p, p))  # shards first, metadata last
  dst = [output.rstrip("/") + p[len(root):] for p in src]
  old = set(existing_files(output))
  FileSystems.rename(src, dst)
  stale = sorted(old - set(dst))
  if stale:
    FileSystems.delete(stale)
  delete_tree(staging)


def finalize(staging: str, *, name: str, image_format: str, shards: Mapping[str, dict],
             shard_stats: list[dict], description: str, metadata: dict) -> dict:
  """Fills missing (empty) shards and writes the TFDS and our metadata files; the
  metadata's citation and redistribution text go into dataset_info.json too.

  Returns the metadata as written (with the per-split summary).
  """
  by_split: dict[str, dict] = {}
  for split, info in shards.items():
    n = info["num_shards"]
    lengths, sizes, contents = [0] * n, [0] * n, 0
    sums = [integrity.EMPTY_SHA256] * n  # a shard left empty is an empty file
    for s in shard_stats:
      if s["split"] == split:
        lengths[s["shard"]], sizes[s["shard"]] = s["records"], s["bytes"]
        sums[s["shard"]] = s["sha256"]
        contents += s["contents"]
    for shard in range(n):  # a shard whose every content failed still must exist
      path = FileSystems.join(staging, schema.shard_filename(name, split, shard, n))
      if lengths[shard] == 0 and not FileSystems.exists(path):
        write_text(path, "")
    by_split[split] = {"records": sum(lengths), "contents": contents, "shards": n,
                       "bytes": sum(sizes), "shard_lengths": lengths,
                       "shard_sha256": sums}
  splits = {s: v for s, v in by_split.items() if v["records"] > 0}
  files = schema.tfds_metadata_json(
      name=name, description=description, image_format=image_format,
      splits={s: (v["shard_lengths"], v["bytes"]) for s, v in splits.items()},
      citation=metadata.get("citation", ""),
      redistribution=metadata.get("redistribution", ""))
  for split, v in by_split.items():  # TFDS knows only non-empty splits
    if v["records"] == 0:
      for shard in range(v["shards"]):
        FileSystems.delete([FileSystems.join(
            staging, schema.shard_filename(name, split, shard, v["shards"]))])
  for filename, text in files.items():
    write_text(FileSystems.join(staging, filename), text)
  metadata = dict(metadata, splits=splits)
  write_text(FileSystems.join(staging, schema.METADATA_FILENAME),
             json.dumps(metadata, indent=2, sort_keys=True))
  return metadata
