"""The output folder's life cycle: refuse or replace, stage, commit, clean up.

The job writes everything into a staging folder beside the output and moves it into
place only after the pipeline succeeded and the metadata is written, so a reader never
sees a half-written dataset or a mix of two runs. What goes into the folder is
`finish`'s and `describe`'s business; this module only moves and removes it.
"""

from __future__ import annotations

import os
import shutil

from apache_beam.io.filesystems import FileSystems

from beam_jobs import remote
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

