"""The job's lock: who counts as live, the heartbeat, the fence that keeps a superseded
job's tasks from publishing, and the done-marker check resume relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from beam_jobs import lock as L
from beam_jobs import staging as stg
from beam_jobs import stylize
from tests.conftest import write_photos, write_styles
from tests.test_stylize_job import IN_MEMORY


def _held(path, **fields) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  base = {"host": L.socket.gethostname(), "pid": os.getpid(),
          "pid_start": L._proc_start(os.getpid()), "started": "earlier",
          "heartbeat": time.time(), "token": "theirs"}
  with open(path, "w") as f:
    json.dump(dict(base, **fields), f)


def _dead_pid() -> int:
  done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)
  return int(done.stdout)


@pytest.mark.parametrize("fields, live", [
    ({}, True),                                            # this very process
    ({"heartbeat": 0.0}, True),                            # asleep a while, still running
    ({"pid_start": "1"}, False),                           # the pid now names another process
    ({"pid": "DEAD"}, False),                              # killed
    ({"host": "elsewhere"}, True),                         # fresh heartbeat from afar
    ({"host": "elsewhere", "heartbeat": 0.0}, False),      # stale heartbeat from afar
])
def test_which_locks_are_live(tmp_path, fields, live):
  path = str(tmp_path / "lock.json")
  if fields.get("pid") == "DEAD":
    fields = dict(fields, pid=_dead_pid())
  _held(path, **fields)
  mine = L.Lock(path)
  if live:
    with pytest.raises(L.JobLockedError, match=r"another job is writing this output: "
                                               r"pid \d+ on \S+, started earlier"):
      mine.acquire()
    assert json.load(open(path))["token"] == "theirs"
  else:
    mine.acquire()
    try:
      assert mine.taken_over["token"] == "theirs"
      assert json.load(open(path))["token"] == mine.token
    finally:
      mine.release()
    assert not os.path.exists(path)


def test_heartbeat_refreshes_and_stops_for_good_when_taken_over(tmp_path, monkeypatch):
  monkeypatch.setattr(L, "HEARTBEAT_EVERY_S", 0.05)
  path = str(tmp_path / "lock.json")
  mine = L.Lock(path)
  mine.acquire()
  first = json.load(open(path))["heartbeat"]
  time.sleep(0.3)
  assert json.load(open(path))["heartbeat"] > first  # alive and beating
  _held(path, token="newer job")  # another launcher took it over
  time.sleep(0.3)
  assert mine.lost and json.load(open(path))["token"] == "newer job"  # not written back
  with pytest.raises(L.SupersededError, match="now belongs to another job"):
    L.check_fence(path, mine.token)
  mine.release()
  assert json.load(open(path))["token"] == "newer job"  # release leaves others' lock
  L.check_fence(path, "newer job")  # the holder passes


def test_stop_joins_the_heartbeat_so_nothing_rewrites_a_deleted_lock(tmp_path, monkeypatch):
  monkeypatch.setattr(L, "HEARTBEAT_EVERY_S", 0.01)
  path = str(tmp_path / "work" / "lock.json")
  mine = L.Lock(path)
  mine.acquire()
  mine.stop()
  os.unlink(path)  # what publishing does with the working folder
  time.sleep(0.1)
  assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path) + "/x")


def test_a_task_of_a_superseded_job_publishes_nothing(tmp_path, monkeypatch):
  """A launcher whose lock was taken over (killed alone, its workers still running)
  must not mix its shards into the new job's folder."""
  from pipeline import render
  write_photos(tmp_path / "content", 4)
  write_styles(tmp_path / "styles", 2)
  out = tmp_path / "out"
  real_render = render.ShardRenderer.render

  def taken_over_meanwhile(self, contents, pools):
    _held(stg.lock_path(str(out) + ".incomplete"), token="newer job")
    yield from real_render(self, contents, pools)

  monkeypatch.setattr(render.ShardRenderer, "render", taken_over_meanwhile)
  with pytest.raises(Exception, match="SupersededError|now belongs to another job"):
    stylize.run([f"--content={tmp_path / 'content'}", f"--styles={tmp_path / 'styles'}",
                 "--stylizer=classical", "--styles_per_content=1", "--image_size=32",
                 "--split_fractions=1,0,0", f"--output={out}"] + IN_MEMORY)
  staged = tmp_path / "out.incomplete"
  assert not out.exists() and not list(staged.glob("*.tfrecord-*"))
  assert not list((staged / "_work").glob("done/*.json"))
  assert json.load(open(stg.lock_path(str(staged))))["token"] == "newer job"


def test_a_done_marker_counts_only_with_its_whole_shard(tmp_path):
  staging = str(tmp_path / "out.incomplete")
  for shard, size in ((0, 10), (1, 10), (2, 10)):
    name = f"x-train.tfrecord-0000{shard}-of-00003"
    marker = {"split": "train", "shard": shard, "file": name, "file_bytes": size}
    os.makedirs(stg.work(staging, "done"), exist_ok=True)
    with open(stg.work(staging, "done", f"train-0000{shard}.json"), "w") as f:
      json.dump(marker, f)
    if shard != 2:  # shard 2: marker, no file
      (tmp_path / "out.incomplete" / name).write_bytes(b"r" * (size if shard == 0 else 7))
  assert sorted(stg.finished_shards(staging)) == ["train-00000"]  # 1: cut short
