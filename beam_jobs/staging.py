"""The staging folder of a run: its lock, its plan, and the shards it has finished.

A job writes into `OUTPUT.incomplete/` and moves it to OUTPUT only when everything is
written and checked. The folder outlives a killed launcher or a failed run, so rerunning
the same command resumes: the shards finished before are kept (each has a done marker,
written after its file was renamed into place, so a half-written shard is never taken
for a finished one) and only the rest are rendered. A rerun whose plan differs (other
inputs, flags, seed or model) starts over, and says why.

Layout under the staging folder:

    _work/lock.json                    who runs the job (lock.py)
    _work/plan.json                    fingerprint of the plan this folder belongs to
    _work/manifests/styles.jsonl       the styles, one JSON object per line
    _work/manifests/SPLIT-SHARD.jsonl  the contents of each shard
    _work/styles/ID.json (+ ID.npz)    a style step's result and state (ID.dead.json: failed)
    _work/progress/SPLIT-SHARD.json    views done so far in a running shard
    _work/done/SPLIT-SHARD.json        a finished shard: stats and dead letters
    _work/index/SPLIT-SHARD.jsonl      its rows of the record index
    _work/tmp/NAME-SPLIT...            shards being written (renamed out when complete)
    NAME-SPLIT.tfrecord-SHARD-of-N     finished shards
"""

from __future__ import annotations

import hashlib
import json
import uuid

from apache_beam.io.filesystems import FileSystems

from beam_jobs import output as out

WORK = "_work"


def staging_dir(output: str) -> str:
  return output.rstrip("/") + ".incomplete"


def work(staging: str, *parts: str) -> str:
  return "/".join([staging.rstrip("/"), WORK, *parts])


def shard_key(split: str, shard: int) -> str:
  return f"{split}-{shard:05d}"


def lock_path(staging: str) -> str:
  return work(staging, "lock.json")


def manifest_path(staging: str, name: str) -> str:
  """`styles`, or a shard key: that shard's contents."""
  return work(staging, "manifests", f"{name}.jsonl")


def style_result_path(staging: str, style_id, suffix: str = "json") -> str:
  """A style step's result: `json` (success, with its state in `npz`) or `dead.json`
  (the dead letter of a style that failed)."""
  return work(staging, "styles", f"{style_id}.{suffix}")


def done_path(staging: str, key: str) -> str:
  """A finished shard's marker (`key` may be a glob, e.g. "*")."""
  return work(staging, "done", f"{key}.json")


def index_path(staging: str, key: str) -> str:
  return work(staging, "index", f"{key}.jsonl")


def progress_path(staging: str, key: str) -> str:
  return work(staging, "progress", f"{key}.json")


def tmp_path(staging: str, filename: str) -> str:
  """Where a shard is written before it is complete: inside _work, so no reader's
  pattern (`*.tfrecord-*`) ever matches it, and publishing never moves it."""
  return work(staging, "tmp", f"{filename}.{uuid.uuid4().hex[:8]}")


def fingerprint(plan: dict) -> str:
  return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def differences(old: dict, new: dict) -> list[str]:
  """What changed between two plans, in words (`--seed`, `the content files`, ...)."""
  changed = []
  for key in sorted(set(old.get("flags", {})) | set(new.get("flags", {}))):
    if old.get("flags", {}).get(key) != new.get("flags", {}).get(key):
      changed.append(f"--{key}")
  for key, words in (("contents", "the content files"), ("styles", "the style files"),
                     ("stylizer_version", "the stylizer model"),
                     ("schema_version", "the record schema"), ("code", "the job's code")):
    if old.get(key) != new.get(key):
      changed.append(words)
  return changed or ["the plan format"]


def resume_or_start_over(staging: str, plan: dict) -> tuple[dict, list[str]]:
  """Keeps the finished shards of an earlier run of the same plan; else empties the
  folder (but for the lock). Returns (done markers by shard key, what changed)."""
  old = None
  try:
    old = json.loads(out.read_text(work(staging, "plan.json")))
  except Exception:
    pass
  if old is None or old.get("fingerprint") != fingerprint(plan):
    changed = differences(old, plan) if old else []
    keep = {lock_path(staging)}
    stale = [f for f in out.existing_files(staging) if f not in keep]
    if stale:
      FileSystems.delete(stale)
    out.write_text(work(staging, "plan.json"),
                   json.dumps(dict(plan, fingerprint=fingerprint(plan)), sort_keys=True))
    return {}, changed
  return finished_shards(staging), []


def forget_plan(staging: str) -> None:
  """The next run starts over instead of resuming (its results are of no use: an input
  fixed in place keeps its file name, so resuming would keep its failures)."""
  path = work(staging, "plan.json")
  if FileSystems.exists(path):
    FileSystems.delete([path])


def finished_shards(staging: str) -> dict[str, dict]:
  """Done markers whose shard file is in place with the size the marker records."""
  done = {}
  for marker_file in out.match(done_path(staging, "*")):
    try:
      marker = json.loads(out.read_text(marker_file))
      path = FileSystems.join(staging, marker["file"])
      size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except Exception:
      continue
    if size == marker["file_bytes"]:
      done[shard_key(marker["split"], marker["shard"])] = marker
  return done


def remove_leftovers(staging: str) -> None:
  """Temporary shard files of interrupted attempts, and stale progress notes."""
  leftovers = out.match(work(staging, "tmp", "*"))
  leftovers += out.match(progress_path(staging, "*"))
  if leftovers:
    FileSystems.delete(leftovers)
