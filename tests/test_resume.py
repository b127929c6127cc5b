"""A killed job resumes: same command, same output path -> only the unfinished shards are
rendered, and the shards are byte-identical to an uninterrupted run's. A rerun with
another plan starts over and says so; a second live job on the same output is refused;
a dead job's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from beam_jobs import staging as stg
from beam_jobs.lock import Lock
from beam_jobs import stylize
from tests.conftest import write_photos, write_styles
from tests.inject import hook_env
from tests.test_robustness import run_job
from tests.test_stylize_job import IN_MEMORY, check_dataset, shard_bytes

# Kills the job's whole process group (like `kill -9 -PGID`) at the N-th call of a
# function, counted across the launcher and the workers in $KILL_COUNT.
_KILLER = '''
def patch(module):
  func = os.environ["KILL_IN"].rsplit(".", 1)[1]
  original = getattr(module, func)

  def wrapped(*args, **kwargs):
    result = original(*args, **kwargs)
    if os.environ.get("KILL_ONLY_IF", "") in str(args):
      with open(os.environ["KILL_COUNT"], "a") as f:
        f.write("x")
      if os.path.getsize(os.environ["KILL_COUNT"]) == int(os.environ["KILL_AT"]):
        os.killpg(os.getpgid(0), signal.SIGKILL)
    return result

  setattr(module, func, wrapped)
'''


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  root = tmp_path_factory.mktemp("resume")
  write_photos(root / "content", 12, seed=5)
  write_styles(root / "styles", 4)
  return root


def _args(inputs, out, *extra):
  return [f"--content={inputs / 'content'}", f"--styles={inputs / 'styles'}",
          "--stylizer=classical", "--styles_per_content=2", "--include_original",
          "--image_size=32",
          "--records_per_shard=6", "--split_fractions=0.5,0.25,0.25", "--seed=2",
          f"--output={out}", *extra]


def _killer_env(tmp_path, kill_in: str, at: int, only_if: str = "") -> dict:
  return hook_env(tmp_path / "hook", kill_in.rsplit(".", 1)[0], _KILLER, "KILL_IN",
                  KILL_IN=kill_in, KILL_AT=str(at), KILL_ONLY_IF=only_if,
                  KILL_COUNT=str(tmp_path / "kill-count"))


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
  out = tmp_path_factory.mktemp("ref") / "out"
  stylize.run(_args(inputs, out) + IN_MEMORY)
  return shard_bytes(out)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["between_shards", "mid_shard"])
def test_killed_job_resumes_to_identical_shards(tmp_path, inputs, reference, where):
  out = tmp_path / "out"
  staged = tmp_path / "out.incomplete"
  if where == "between_shards":  # right after the 2nd shard's done marker is written
    env = _killer_env(tmp_path, "beam_jobs.output.write_text", 2, "/_work/done/")
  else:  # after the 4th record of the 3rd shard begun (2 shards of 6 are done then)
    env = _killer_env(tmp_path, "pipeline.records.encode_view", 6 + 6 + 4)
  killed = run_job(_args(inputs, out, "--direct_num_workers=1"), timeout=300, env=env)
  assert killed.returncode == -9, killed.stderr[-3000:]
  assert not out.exists()
  done = sorted(p.name for p in (staged / "_work" / "done").glob("*.json"))
  assert len(done) == 2, done
  half_written = list((staged / "_work" / "tmp").glob("*"))
  assert len(half_written) == (1 if where == "mid_shard" else 0)
  kept = {p.name: p.stat().st_mtime_ns for p in staged.glob("*.tfrecord-*")}
  assert len(kept) == 2

  again = run_job(_args(inputs, out), timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  _check_console(again)
  assert "resuming: 2 shards already done" in again.stderr
  assert "2 shards kept from an earlier run" in again.stdout
  assert shard_bytes(out) == reference  # byte-identical to the uninterrupted run
  assert not staged.exists() and not (out / "_work").exists()
  assert all((out / name).stat().st_mtime_ns == t for name, t in kept.items())  # not redone
  check_dataset(out, 12, 2, original=True)


def _check_console(done) -> None:
  """What a user sees: our lines, one progress bar and the summary; no Beam worker
  harness INFO lines, no TensorFlow CUDA or oneDNN probes."""
  console = done.stdout + done.stderr
  for noise in ("INFO", "sdk_worker", "Logging handler", "cuda", "oneDNN", "apitools",
                "absl::InitializeLog"):
    assert noise not in console, console[-3000:]
  lines = [l for l in done.stderr.split("\n") if l.strip()]  # a bar redraws with \r
  assert lines[0].startswith("stylize: took over the lock of a job that is no longer")
  assert lines[1].startswith("stylize: 12 contents x 3 views = 36 views in 7 shards")
  bar = lines[-1].split("\r")
  assert "36/36 views" in bar[-1] and "shards 7/7" in bar[-1]  # the bar, at its end
  assert len(lines) == 3, lines
  assert done.stdout.startswith("wrote 36 records (") and done.stdout.count("\n") == 1


@pytest.mark.slow
def test_verbose_shows_the_workers_logs(tmp_path, inputs):
  done = run_job(_args(inputs, tmp_path / "out", "--verbose", "--direct_num_workers=2"),
                 timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "sdk_worker" in done.stderr and "INFO" in done.stderr  # the harness, back


def test_rerun_with_another_plan_starts_over_and_says_so(tmp_path, inputs, capfd):
  out = tmp_path / "out"
  env = _killer_env(tmp_path, "beam_jobs.output.write_text", 1, "/_work/done/")
  killed = run_job(_args(inputs, out, "--direct_num_workers=1"), timeout=300, env=env)
  assert killed.returncode == -9
  summary = stylize.run(_args(inputs, out, "--seed=3") + IN_MEMORY)  # last --seed wins
  assert summary["shards_resumed"] == 0
  err = capfd.readouterr().err
  assert "held an unfinished job with another plan (changed: --seed); starting over" in err
  check_dataset(out, 12, 2, original=True)


def test_second_job_on_the_same_output_is_refused_naming_the_first(tmp_path, inputs):
  out = tmp_path / "out"
  first = Lock(stg.lock_path(stg.staging_dir(str(out))))
  first.acquire()  # a live job: this process
  try:
    with pytest.raises(SystemExit) as e:
      stylize.run(_args(inputs, out) + IN_MEMORY)
    message = str(e.value)
    assert message.startswith("error: another job is writing this output: pid "
                              f"{os.getpid()} on {first.info['host']}, started "
                              f"{first.info['started']}")
    assert not out.exists()
  finally:
    first.release()


def test_lock_of_a_dead_job_is_taken_over(tmp_path, inputs, capfd):
  out = tmp_path / "out"
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)
  lock = stg.lock_path(stg.staging_dir(str(out)))
  os.makedirs(os.path.dirname(lock))
  with open(lock, "w") as f:
    json.dump({"host": socket.gethostname(), "pid": int(dead.stdout),
               "started": "yesterday", "heartbeat": time.time(), "token": "old"}, f)
  stylize.run(_args(inputs, out) + IN_MEMORY)
  assert f"took over the lock of a job that is no longer running (pid " \
         f"{int(dead.stdout)}" in capfd.readouterr().err
  check_dataset(out, 12, 2, original=True)


@pytest.mark.parametrize("inline", [True, False])
def test_a_resumed_style_step_reuses_the_stored_state(tmp_path, inputs, monkeypatch,
                                                      inline):
  """A rerun takes each style's state from staging instead of recomputing it: inline
  (small states, e.g. Magenta's bottleneck) or left in its file (large ones)."""
  import numpy as np
  from apache_beam.utils import shared
  from beam_jobs import transforms as T
  from pipeline import style_states
  monkeypatch.setattr(style_states, "INLINE_STATE_BYTES", 1 << 30 if inline else 0)
  style = {"style_id": 7, "uri": str(sorted((inputs / "styles").iterdir())[0])}
  runs = []
  for _ in range(2):  # a first run, then a resumed one
    fn = T.StyleStepFn("classical", shared.Shared(), str(tmp_path), 10**8)
    fn.setup()
    calls = []
    monkeypatch.setattr(fn._model.stylizer, "style_step",
                        lambda rgb, real=fn._model.stylizer.style_step:
                        calls.append(1) or real(rgb))
    runs.append((list(fn.process(style)), len(calls)))
  (first, computed), (again, recomputed) = runs
  assert (computed, recomputed) == (1, 0)
  assert first[0][0] == again[0][0] == 7
  if inline:
    for key, value in first[0][1]["state"].items():
      assert np.array_equal(value, again[0][1]["state"][key])
  else:
    assert first[0][1]["state"] is again[0][1]["state"] is None
    from pipeline import image_io
    from pipeline.stylizers import from_spec
    fresh = from_spec("classical").style_step(image_io.load_image(style["uri"]))
    stored = T.read_state(str(tmp_path), 7)  # what a worker's cache loads
    assert set(stored) == set(fresh)
    assert all(np.array_equal(stored[k], fresh[k]) for k in fresh)


def test_a_failed_style_is_kept_as_such_and_gathered_at_publishing(tmp_path, monkeypatch):
  from apache_beam.utils import shared
  from beam_jobs import finish
  from beam_jobs import transforms as T
  broken = tmp_path / "broken.png"
  broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
  style = {"style_id": 3, "uri": str(broken)}
  staging = tmp_path / "out.incomplete"
  seen = []
  for _ in range(2):  # a first run, then a resumed one
    fn = T.StyleStepFn("classical", shared.Shared(), str(staging), 10**8)
    fn.setup()
    calls = []
    monkeypatch.setattr(fn, "_compute", lambda s, real=fn._compute: calls.append(1)
                        or real(s))
    seen.append((list(fn.process(style)), len(calls)))
  assert seen == [([], 1), ([], 0)]  # never planned; computed once
  markers, dead = finish.gather(str(staging))
  assert markers == {} and [(d["stage"], d["uri"]) for d in dead] == [("style",
                                                                         str(broken))]


def test_a_shard_resumed_from_a_marker_without_its_sum_is_hashed_at_publishing(tmp_path):
  """Done markers of an older job version carry no sha256: publishing reads those
  shards once; sums made while writing are kept as they are."""
  import hashlib

  from beam_jobs import finish
  (tmp_path / "a.tfrecord").write_bytes(b"old shard bytes")
  (tmp_path / "b.tfrecord").write_bytes(b"new shard bytes")
  markers = {"train-0": {"file": "a.tfrecord", "stats": {"records": 1}},
             "train-1": {"file": "b.tfrecord", "stats": {"records": 1, "sha256": "kept"}}}
  finish.fill_shard_sums(str(tmp_path), markers)
  assert markers["train-0"]["stats"]["sha256"] == hashlib.sha256(
      b"old shard bytes").hexdigest()
  assert markers["train-1"]["stats"]["sha256"] == "kept"
