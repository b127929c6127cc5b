"""One live job per output: the lock in the staging folder, and the fence it gives.

`_work/lock.json` names the launcher that holds it (host, pid and that process's start
time, start date, a random token) and carries a heartbeat its thread refreshes. A
second launcher refuses to start while the lock is live, and takes over a dead one:

* on the same host, the lock is live while its pid runs with the start time recorded
  (a reused pid is another process); the heartbeat does not matter there, so a laptop
  that slept is not taken for dead;
* from another host (Dataflow launchers, gs:// outputs), while its heartbeat is recent.

Taking over is not enough when the old job's workers still run (a launcher killed on
its own, a Dataflow job left running): shard tasks carry the token of the launcher
that started them and publish a shard only while the lock still holds that token
(`check_fence`), so a superseded job cannot mix its shards into the new one's folder.
On an object store, reading and writing the lock are not one atomic step; the re-read
after writing narrows the window in which two launchers could both start.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from beam_jobs import output as out

#: A lock from another host whose heartbeat is older than this belongs to a dead job.
STALE_AFTER_S = 120.0
HEARTBEAT_EVERY_S = 30.0


class JobLockedError(RuntimeError):
  """Another live job is writing to the same output."""


class SupersededError(RuntimeError):
  """This job's lock was taken over by a newer job: it must not publish anything."""


def _proc_start(pid: int) -> str | None:
  """The process's start time in clock ticks since boot (Linux); None elsewhere."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      fields = f.read().rsplit(")", 1)[1].split()
  except OSError:
    return None
  return None if fields[0] == "Z" else fields[19]  # a zombie is dead


def _pid_alive(pid: int, start: str | None) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass
  now = _proc_start(pid)
  if now is None:  # with /proc: gone or a zombie; without: trust kill()
    return not os.path.isdir("/proc")
  return start is None or now == start


def read_lock(path: str) -> dict | None:
  try:
    return json.loads(out.read_text(path))
  except Exception:  # absent, or an old non-atomic write cut short
    return None


def check_fence(path: str, token: str | None) -> None:
  """Raises SupersededError unless the lock at `path` still holds `token`."""
  if token is None:
    return
  held = read_lock(path)
  if (held or {}).get("token") != token:
    raise SupersededError(
        f"the job's lock {path} now belongs to another job ("
        f"{'none' if not held else 'pid %s on %s' % (held.get('pid'), held.get('host'))}"
        "); this task's shard is not published")


class Lock:
  """Acquire, keep alive, stop and release the lock at `path`."""

  def __init__(self, path: str):
    self.path = path
    self.token = uuid.uuid4().hex
    self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                 "pid_start": _proc_start(os.getpid()),
                 "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "token": self.token}
    self.taken_over: dict | None = None
    self.lost = False
    self._stop = threading.Event()
    self._thread: threading.Thread | None = None

  def _live(self, held: dict) -> bool:
    if held.get("host") == socket.gethostname():
      return _pid_alive(int(held.get("pid", -1)), held.get("pid_start"))
    return time.time() - float(held.get("heartbeat", 0)) < STALE_AFTER_S

  def _write(self) -> None:
    text = json.dumps(dict(self.info, heartbeat=time.time()), sort_keys=True)
    if "://" in self.path:
      out.write_text(self.path, text)  # an object appears whole or not at all
      return
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    tmp = f"{self.path}.{self.token}"
    with open(tmp, "w") as f:
      f.write(text)
    os.replace(tmp, self.path)  # a reader never sees half a lock

  def acquire(self) -> None:
    held = read_lock(self.path)
    if held and held.get("token") != self.token and self._live(held):
      raise JobLockedError(
          f"another job is writing this output: pid {held.get('pid')} on "
          f"{held.get('host')}, started {held.get('started')}"
          + (f", {held.get('runner', 'Dataflow')} job {held['job_id']}"
             if held.get("job_id") else "") +
          f" (lock {self.path}); wait for it or stop it, then rerun")
    self.taken_over = held
    self._write()
    time.sleep(0.05 if "://" not in self.path else 1.0)
    if (read_lock(self.path) or {}).get("token") != self.token:
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
        if (read_lock(self.path) or {}).get("token") != self.token:
          self.lost = True  # taken over or deleted: never write it back
          logging.error("the job's lock %s was taken over by another job", self.path)
          return
        self._write()
      except Exception:  # a missed heartbeat only makes the lock look older
        pass

  def stop(self) -> None:
    """Stops the heartbeat (and waits for it): nothing rewrites the file after this."""
    self._stop.set()
    if self._thread is not None:
      self._thread.join()

  def release(self) -> None:
    self.stop()
    if (read_lock(self.path) or {}).get("token") == self.token:
      try:
        FileSystems.delete([self.path])
      except Exception:
        pass
