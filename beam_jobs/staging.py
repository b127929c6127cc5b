"""The staging folder of a run: its lock, its plan, and the shards it has finished.

A job writes into `OUTPUT.incomplete/` and moves it to OUTPUT only when everything is
written and checked. The folder outlives a killed launcher or a failed run, so rerunning
the same command resumes: the shards finished before are kept (each has a done marker,
written after its file was renamed into place, so a half-written shard is never taken
for a finished one) and only the rest are rendered. A rerun whose plan differs (other
inputs, flags, seed or model) starts over, and says why.

Layout under the staging folder:

    _work/lock.json                    who runs the job (host, pid, start, heartbeat)
    _work/plan.json                    fingerprint of the plan this folder belongs to
    _work/job.log                      Beam, TensorFlow and worker logs of the run
    _work/manifests/styles.jsonl       the styles, one JSON object per line
    _work/manifests/SPLIT-SHARD.jsonl  the contents of each shard
    _work/styles/ID.json (+ ID.npz)    each style's step result (state or dead letter)
    _work/progress/SPLIT-SHARD.json    views done so far in a running shard
    _work/done/SPLIT-SHARD.json        a finished shard: stats and dead letters
    NAME-SPLIT.tfrecord-SHARD-of-N     finished shards (`.tmp-*` while being written)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from beam_jobs import output as out

WORK = "_work"
#: A lock whose heartbeat is older than this belongs to a dead job (other hosts).
STALE_AFTER_S = 120.0
HEARTBEAT_EVERY_S = 30.0


def staging_dir(output: str) -> str:
  return output.rstrip("/") + ".incomplete"


def work(staging: str, *parts: str) -> str:
  return "/".join([staging.rstrip("/"), WORK, *parts])


def shard_key(split: str, shard: int) -> str:
  return f"{split}-{shard:05d}"


class JobLockedError(RuntimeError):
  """Another live job is writing to the same output."""


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  try:  # a zombie (killed, not yet reaped) is dead
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return True


class Lock:
  """One live job per output: `_work/lock.json`, refreshed by a heartbeat thread.

  A lock is live when its heartbeat is recent and, on this host, its pid still runs;
  any other lock (a killed launcher's) is taken over. On an object store the check and
  the write are not one atomic step; two launchers started within the same second
  could both pass it, which the re-read after writing narrows further.
  """

  def __init__(self, staging: str):
    self.path = work(staging, "lock.json")
    self.token = uuid.uuid4().hex
    self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                 "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "token": self.token}
    self.taken_over: dict | None = None
    self._stop = threading.Event()
    self._thread: threading.Thread | None = None

  def _read(self) -> dict | None:
    try:
      return json.loads(out.read_text(self.path))
    except Exception:  # absent, or half-written by a launcher killed mid-write
      return None

  def _live(self, held: dict) -> bool:
    age = time.time() - float(held.get("heartbeat", 0))
    if held.get("host") == socket.gethostname():
      return _pid_alive(int(held.get("pid", -1))) and age < STALE_AFTER_S
    return age < STALE_AFTER_S

  def _write(self) -> None:
    out.write_text(self.path, json.dumps(dict(self.info, heartbeat=time.time())))

  def acquire(self) -> None:
    held = self._read()
    if held and held.get("token") != self.token and self._live(held):
      raise JobLockedError(
          f"another job is writing this output: pid {held.get('pid')} on "
          f"{held.get('host')}, started {held.get('started')}"
          + (f", Dataflow job {held['job_id']}" if held.get("job_id") else "") +
          f" (lock {self.path}); wait for it or stop it, then rerun")
    self.taken_over = held
    self._write()
    time.sleep(0.05 if "://" not in self.path else 1.0)
    if (self._read() or {}).get("token") != self.token:
      raise JobLockedError(f"another job took the lock {self.path} at the same time")
    self._thread = threading.Thread(target=self._beat, daemon=True, name="job-lock")
    self._thread.start()

  def note(self, **fields) -> None:
    """Adds fields (e.g. the Dataflow job id) to the lock, for whoever finds it."""
    self.info.update(fields)
    self._write()

  def _beat(self) -> None:
    while not self._stop.wait(HEARTBEAT_EVERY_S):
      try:
        self._write()
      except Exception:  # a missed heartbeat only makes the lock look older
        pass

  def release(self) -> None:
    self._stop.set()
    if (self._read() or {}).get("token") == self.token:
      try:
        FileSystems.delete([self.path])
      except Exception:
        pass


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
                     ("schema_version", "the record schema")):
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
    keep = {work(staging, "lock.json")}
    stale = [f for f in out.existing_files(staging) if f not in keep]
    if stale:
      FileSystems.delete(stale)
    out.write_text(work(staging, "plan.json"),
                   json.dumps(dict(plan, fingerprint=fingerprint(plan)), sort_keys=True))
    return {}, changed
  return finished_shards(staging), []


def finished_shards(staging: str) -> dict[str, dict]:
  """Done markers whose shard file is in place with the size the marker records."""
  done = {}
  for line_file in out.match(work(staging, "done", "*.json")):
    try:
      marker = json.loads(out.read_text(line_file))
      path = FileSystems.join(staging, marker["file"])
      size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except Exception:
      continue
    if size == marker["file_bytes"]:
      done[shard_key(marker["split"], marker["shard"])] = marker
  return done


def remove_leftovers(staging: str) -> None:
  """Temporary shard files of interrupted attempts, and stale progress notes."""
  leftovers = out.match(FileSystems.join(staging, "*.tmp-*"))
  leftovers += out.match(work(staging, "progress", "*"))
  if leftovers:
    FileSystems.delete(leftovers)
