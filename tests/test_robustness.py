"""The stylize job under hostile input and faults: every input is written or
dead-lettered with its reason, a failing stylizer loses only what it must, a dying
worker or a runner that loses data never yields output (the finished shards stay in
staging for a rerun), and manifest values and file names stay data."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

import tfrecords_schema as schema
from beam_jobs import stylize
from beam_jobs import transforms as T
from pipeline.stylizers.classical import ClassicalStylizer
from tests.bad_inputs import (EXIF_NAME, NOTHING_USABLE, UNICODE_NAME, WRITTEN,
                              write_corpus, write_unusable_folder)
from tests.conftest import ROOT, write_photos, write_styles
from tests.inject import hook_env
from tests.test_stylize_job import IN_MEMORY, check_dataset, read_dataset, shard_bytes

K = 2


@dataclasses.dataclass
class Finished:
  pid: int
  returncode: int
  stdout: str
  stderr: str
  max_rss: int  # bytes, the job process and the children it reaped


def run_job(args: list[str], *, timeout: float, env: dict | None = None) -> Finished:
  """The job as `python -m beam_jobs.stylize` in its own session.

  wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would mix in every earlier
  child of pytest), and on timeout the whole session is killed, so a hang fails the
  test instead of stalling CI or leaking Beam workers.
  """
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    proc = subprocess.Popen([sys.executable, "-m", "beam_jobs.stylize", *args], cwd=ROOT,
                            env=env, stdout=out, stderr=err, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
      pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
      if pid:
        break
      if time.monotonic() > deadline:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        err.seek(0)
        pytest.fail(f"the job hung for {timeout}s (killed); stderr tail:\n"
                    + err.read().decode(errors="replace")[-3000:])
      time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    out.seek(0), err.seek(0)
    return Finished(proc.pid, proc.returncode, out.read().decode(errors="replace"),
                    err.read().decode(errors="replace"), usage.ru_maxrss * 1024)


def dead_letters(out: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in
          (out / schema.DEAD_LETTER_FILENAME).read_text(encoding="utf-8").splitlines()]


def name(uri: str) -> str:
  return pathlib.PurePosixPath(uri).name


def rgb(rec: dict) -> np.ndarray:
  """A record's image decoded by Pillow: also proves the stored image is plain RGB."""
  im = Image.open(io.BytesIO(rec["image"]))
  assert im.mode == "RGB", (rec["content_uri"], im.mode)
  return np.asarray(im, np.float32)


# --- 1. the bad-input corpus --------------------------------------------------------

CORPUS_FLAGS = ["--stylizer=classical", "--styles_per_content=2", "--include_original", "--resize_policy=stretch",
                "--image_size=64", "--seed=7"] + IN_MEMORY


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
  """The corpus as contents, run once as a subprocess: exit code, RSS and output."""
  root = tmp_path_factory.mktemp("corpus_run")
  expected = write_corpus(root / "corpus")
  write_styles(root / "styles", 3)
  args = [f"--content={root / 'corpus'}", f"--styles={root / 'styles'}"] + CORPUS_FLAGS
  done = run_job(args + [f"--output={root / 'out'}"], timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  return root, args, expected, done


@pytest.mark.slow
def test_corpus_as_contents_every_file_written_or_dead_lettered(corpus_run):
  root, _, expected, done = corpus_run
  out, corpus = root / "out", root / "corpus"
  written = {f for f, o in expected.items() if o == WRITTEN}
  bad = {f: o for f, o in expected.items() if o != WRITTEN}
  assert f"{len(bad)} inputs dead-lettered" in done.stdout
  records, by_content, meta = check_dataset(out, len(written), K, original=True)
  dead = dead_letters(out)
  assert {name(d["uri"]): d["reason"] for d in dead} == bad
  assert len(dead) == len(bad)
  assert all(d["stage"] == "content" and d["message"] for d in dead)
  assert {name(r["content_uri"]) for r in records} == written
  # Accounting: every listed file is exactly one of written or dead-lettered.
  uris_written = {r["content_uri"] for r in records}
  uris_dead = {d["uri"] for d in dead}
  assert not uris_written & uris_dead
  assert len(uris_written | uris_dead) == len(expected) == meta["inputs"]["contents_listed"]
  # Spaces and non-ASCII letters survive listing and records byte for byte.
  assert str(corpus / UNICODE_NAME) in uris_written
  for r in records:  # every view (grey, 16-bit, CMYK, alpha, GIF too) is 64x64 RGB
    assert rgb(r).shape == (64, 64, 3)
  # EXIF Orientation=6 applied: red on top, blue at the bottom of the original view.
  exif = [r for r in records if r["is_original"] and name(r["content_uri"]) == EXIF_NAME]
  img = rgb(exif[0])
  top, bottom = img[:24].reshape(-1, 3).mean(0), img[40:].reshape(-1, 3).mean(0)
  assert top[0] > 200 and top[2] < 60, top
  assert bottom[2] > 200 and bottom[0] < 60, bottom


@pytest.mark.slow
def test_bomb_refused_in_the_job_with_small_peak_memory(corpus_run):
  root, _, expected, done = corpus_run
  bombs = [f for f, o in expected.items() if o == "decompression_bomb"]
  reasons = {name(d["uri"]): d["reason"] for d in dead_letters(root / "out")}
  assert bombs and all(reasons[f] == "decompression_bomb" for f in bombs)
  # Decoding 20000x20000 would need >= 1.2 GB for the RGB array alone, on top of the
  # ~1 GB that TF + Beam take; a refusal from the header keeps the job well below.
  assert done.max_rss < 2 * 2**30, f"peak RSS {done.max_rss / 2**30:.2f} GiB"


@pytest.mark.slow
def test_corpus_same_seed_same_shards_and_dead_letters(corpus_run, tmp_path):
  root, args, _, _ = corpus_run
  stylize.run(args + [f"--output={tmp_path / 'again'}"])
  assert ((tmp_path / "again" / schema.DEAD_LETTER_FILENAME).read_bytes()
          == (root / "out" / schema.DEAD_LETTER_FILENAME).read_bytes())
  a, b = shard_bytes(tmp_path / "again"), shard_bytes(root / "out")
  assert a.keys() == b.keys()
  differ = sorted(k for k in a if a[k] != b[k])
  # Batched classical renders once differed by ~5e-7 with the batch's other members,
  # and RunInference's batches vary run to run; each view is now rendered alone.
  assert not differ, f"shards {differ} differ between same-seed runs"


def test_corpus_as_styles_bad_ones_dead_lettered_good_ones_used(tmp_path):
  expected = write_corpus(tmp_path / "styles")
  write_photos(tmp_path / "content", 5)
  out = tmp_path / "out"
  result = stylize.run([f"--content={tmp_path / 'content'}",
                        f"--styles={tmp_path / 'styles'}", f"--styles_per_content={K}",
                        "--stylizer=classical", "--split_fractions=1,0,0", "--image_size=32", f"--output={out}"]
                       + IN_MEMORY)
  written = {f for f, o in expected.items() if o == WRITTEN}
  bad = {f: o for f, o in expected.items() if o != WRITTEN}
  records, _, _ = check_dataset(out, 5, K, original=False)  # K distinct styles each
  dead = dead_letters(out)
  assert {name(d["uri"]): d["reason"] for d in dead} == bad
  assert all(d["stage"] == "style" for d in dead)
  # 5 contents x K=2 = 10 views dealt round-robin over 8 usable styles: all are used.
  used = {r["style_uri"] for r in records}
  assert {name(u) for u in used} == written
  assert str(tmp_path / "styles" / UNICODE_NAME) in used
  assert not used & {d["uri"] for d in dead}
  assert len(used) + len(dead) == len(expected)
  c = result["counters"]
  assert c["style_step_calls"] == len(written) and c["styles_failed"] == len(bad)


# --- 2. faults --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
  root = tmp_path_factory.mktemp("small")
  write_photos(root / "content", 6, seed=3)
  write_styles(root / "styles", 3)
  return root


def test_batch_that_raises_once_is_retried_and_nothing_is_lost(
    tmp_path, small_inputs, monkeypatch):
  calls = []
  original = ClassicalStylizer.content_step

  def flaky(self, contents, states, strengths):
    calls.append(len(contents))
    if len(calls) == 2:  # the 2nd call is always a whole batch: the 1st one succeeded
      raise RuntimeError("injected")
    return original(self, contents, states, strengths)

  monkeypatch.setattr(ClassicalStylizer, "content_step", flaky)
  out = tmp_path / "out"
  result = stylize.run([f"--content={small_inputs / 'content'}",
                        f"--styles={small_inputs / 'styles'}", f"--styles_per_content={K}",
                        "--stylizer=classical", "--batch_size=2", "--image_size=32", f"--output={out}"] + IN_MEMORY)
  assert len(calls) >= 3  # the failed batch was followed by more calls (its retries)
  assert result["counters"]["batches_retried"] >= 1
  assert result["dead_letters"] == 0 and dead_letters(out) == []
  records = read_dataset(out)
  assert sorted((r["content_id"], r["view_index"]) for r in records) == sorted(
      (cid, v) for cid in {r["content_id"] for r in records} for v in range(1, K + 1))
  assert len(records) == 6 * K


def test_element_that_always_fails_loses_only_its_own_views(
    tmp_path, small_inputs, monkeypatch):
  content = tmp_path / "content"
  write_photos(content, 5, seed=3)
  magenta = content / "magenta.png"
  Image.new("RGB", (128, 96), (255, 0, 255)).save(magenta)
  original = ClassicalStylizer.content_step

  def allergic(self, contents, states, strengths):
    means = np.asarray(contents).mean(axis=(1, 2))
    if ((means[:, 0] > 0.9) & (means[:, 1] < 0.1) & (means[:, 2] > 0.9)).any():
      raise RuntimeError("magenta (injected)")
    return original(self, contents, states, strengths)

  monkeypatch.setattr(ClassicalStylizer, "content_step", allergic)
  out = tmp_path / "out"
  result = stylize.run([f"--content={content}", f"--styles={small_inputs / 'styles'}",
                        f"--styles_per_content={K}", "--batch_size=4", "--image_size=32",
                        "--stylizer=classical",
                        f"--output={out}"] + IN_MEMORY)
  dead = dead_letters(out)
  assert len(dead) == K
  assert {d["uri"] for d in dead} == {str(magenta)}
  assert all(d["stage"] == "stylize" and d["reason"] == "stylize_failed"
             and "magenta (injected)" in d["message"] for d in dead)
  assert sorted(d["view_index"] for d in dead) == list(range(1, K + 1))
  assert len({d["style_uri"] for d in dead}) == K
  records = read_dataset(out)
  assert len(records) == 5 * K and str(magenta) not in {r["content_uri"] for r in records}
  assert len({r["content_uri"] for r in records} | {d["uri"] for d in dead}) == 6
  c = result["counters"]
  assert c["views_failed"] == K and c["batches_retried"] >= 1


def test_views_lost_without_a_trace_fail_the_job_with_no_output(
    tmp_path, small_inputs, monkeypatch):
  """A runner that loses elements (Beam's local multi-process runner did, once in seven
  demo runs) must not yield a dataset with holes: the launcher's accounting catches it,
  forgets the shard that lost them, and a rerun renders just that shard again."""
  from pipeline import render
  real_render = render.ShardRenderer.render

  def losing_render(self, contents, pools):
    for item in real_render(self, contents, pools):
      if (not isinstance(item, dict) and item.content.uri.endswith("photo_002.jpg")
          and item.view_index == 1):
        continue  # dropped: neither written nor dead-lettered
      yield item

  monkeypatch.setattr(render.ShardRenderer, "render", losing_render)
  out = tmp_path / "out"
  args = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
          "--stylizer=classical", f"--styles_per_content={K}", "--image_size=32",
          "--records_per_shard=4",
          "--split_fractions=1,0,0", f"--output={out}"] + IN_MEMORY
  with pytest.raises(stylize.UnaccountedViewsError) as e:
    stylize.run(args)
  assert str(e.value).startswith("1 planned views of 1 contents are neither written nor "
                                 "dead-lettered")
  victim = str(small_inputs / "content" / "photo_002.jpg")
  assert f"{victim}: planned {K}, written {K - 1}, dead-lettered 0" in str(e.value)
  assert "(1 shards will be rendered again on a rerun)" in str(e.value)
  assert not out.exists()
  staged = tmp_path / "out.incomplete"
  assert len(list((staged / "_work" / "done").glob("*.json"))) == 2  # of 3 shards
  monkeypatch.setattr(render.ShardRenderer, "render", real_render)
  summary = stylize.run(args)
  assert summary["shards_resumed"] == 2 and summary["counters"]["shards_written"] == 1
  check_dataset(out, 6, K, original=False)


def test_local_runner_channels_flush_on_size_so_slow_writes_lose_nothing():
  """Beam's timer-flushed channel can drop a chunk written during a timed flush (see
  local_runner._no_timed_flushes_in_local_runner); the job's local runner must not use it."""
  import time
  from apache_beam.runners.portability.fn_api_runner import worker_handlers
  from apache_beam.runners.worker import data_plane
  from beam_jobs import local_runner
  local_runner.runner_for(local_runner.pipeline_options([]))
  limit = worker_handlers.DATA_BUFFER_TIME_LIMIT_MS
  assert limit == 0
  received = []

  def slow_send(data):  # a flush that takes a while, like a full gRPC send queue
    time.sleep(0.2)
    received.append(len(data))

  stream = data_plane.ClosableOutputStream.create(slow_send, slow_send, limit)
  assert not isinstance(stream, data_plane.TimeBasedBufferingClosableOutputStream)
  chunk = b"x" * (9 << 20)  # above the size threshold: each write is flushed whole
  for _ in range(6):  # ~1.5 s of writing: a 1000 ms timer would fire in between
    stream.write(chunk)
    stream.maybe_flush()
    time.sleep(0.05)
  stream.close()
  assert sum(received) == 6 * len(chunk)


# The first process to run a content step while $CRASH_MARKER exists dies the way an
# OOM-killed worker does: at once, with no cleanup.
_WORKER_KILLER = '''
def patch(module):
  with open(os.environ["CRASH_PIDS"], "a") as f:
    f.write(f"{os.getpid()}\\n")
  original = module.ClassicalStylizer.content_step

  def content_step(self, *args, **kwargs):
    try:
      os.unlink(os.environ["CRASH_MARKER"])  # atomic: exactly one process dies
    except FileNotFoundError:
      return original(self, *args, **kwargs)
    print(f"injected worker death in pid {os.getpid()}", file=sys.stderr, flush=True)
    os._exit(1)

  module.ClassicalStylizer.content_step = content_step
'''


def _alive_workers(pids: list[int]) -> list[int]:
  alive = []
  for pid in pids:
    try:
      cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
      state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
      continue
    if b"sdk_worker_main" in cmdline and state != "Z":
      alive.append(pid)
  return alive


@pytest.mark.slow
def test_worker_death_fails_the_job_cleanly_and_a_rerun_completes_it(tmp_path, small_inputs):
  """The local FnApiRunner does not retry a bundle whose worker died, and when no data
  is in flight to that worker it would wait for it forever; the job notices the death,
  stops the other workers and fails with one message, publishing nothing. The shards
  finished before stay in staging, and the same command completes the dataset.
  """
  marker, pids = tmp_path / "kill-one-worker", tmp_path / "pids"
  marker.touch()
  env = hook_env(tmp_path / "hook", "pipeline.stylizers.classical", _WORKER_KILLER,
                 "CRASH_MARKER", CRASH_MARKER=str(marker), CRASH_PIDS=str(pids))
  out = tmp_path / "out"
  args = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
          "--stylizer=classical", f"--styles_per_content={K}", "--image_size=32",
          "--direct_num_workers=2",
          "--records_per_shard=2", f"--output={out}"]  # the default: multi-processing
  done = run_job(args, timeout=300, env=env)
  assert done.returncode != 0, done.stdout[-2000:]
  assert not marker.exists()
  # What the user reads: one line saying what happened and what to do, no traceback.
  assert "a worker process died (Worker subprocess exited with return code 1)" in done.stderr
  assert "rerun the same command to resume" in done.stderr
  assert "Traceback" not in done.stderr and "wrote" not in done.stdout
  log = re.search(r"whole log: (\S+)\)", done.stderr).group(1)
  killed = re.findall(r"injected worker death in pid (\d+)", pathlib.Path(log).read_text())
  assert len(killed) == 1 and int(killed[0]) != done.pid
  assert not out.exists()
  workers = [int(p) for p in pids.read_text().split()]
  deadline = time.monotonic() + 30
  while _alive_workers(workers) and time.monotonic() < deadline:
    time.sleep(0.5)
  assert not _alive_workers(workers), "the surviving worker outlived the job"
  again = run_job(args, timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "shards kept from an earlier run" in again.stdout
  check_dataset(out, 6, K, original=False)


# --- 3. inputs that yield nothing ----------------------------------------------------


def _unusable_case(tmp_path, role: str, kind: str) -> tuple[list[str], pathlib.Path]:
  """Args of a job whose `role` folder ("content" or "styles") holds only `kind` files;
  the other folder is fine."""
  content, styles = tmp_path / "content", tmp_path / "styles"
  if role == "content":
    write_unusable_folder(content, kind)
    write_styles(styles, 3)
  else:
    write_photos(content, 5)
    write_unusable_folder(styles, kind)
  out = tmp_path / "out"
  return [f"--content={content}", f"--styles={styles}", "--stylizer=classical",
          f"--styles_per_content={K}", "--image_size=32", "--split_fractions=1,0,0",
          f"--output={out}"], out


def _fix(folder: pathlib.Path, role: str) -> None:
  """What the user does: copies images over the bad files, in place (same names, so
  the same ids: only the bytes changed)."""
  bad = sorted(folder.iterdir())
  spare = folder.parent / f"{role}_good"
  good = write_photos(spare, len(bad)) if role == "content" else write_styles(spare, len(bad))
  for path, image in zip(bad, good):
    path.write_bytes(image.read_bytes())


@pytest.mark.parametrize("role,kind", [("styles", "text_files"), ("content", "text_files"),
                                       ("content", "empty_files"), ("styles", "empty_files")])
def test_a_folder_with_no_usable_image_fails_at_launch_and_a_fixed_one_runs(
    tmp_path, role, kind, capfd):
  args, out = _unusable_case(tmp_path, role, kind)
  with pytest.raises(SystemExit) as e:
    stylize.run(args + IN_MEMORY)
  what = "style" if role == "styles" else "content"
  reason = "unrecognized_format" if kind == "text_files" else "empty_file"
  message = str(e.value)
  assert message.startswith(f"error: no {what} image could be read at "
                            f"{str(tmp_path / role)!r}: its 5 files are not usable "
                            f"images ({reason}: 5; e.g. "), message
  assert message.endswith("nothing was started") and "\n" not in message
  assert "wrote" not in capfd.readouterr().out
  assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "styles"]  # no output
  _fix(tmp_path / role, role)
  summary = stylize.run(args + IN_MEMORY)
  assert sum(s["records"] for s in summary["splits"].values()) == 5 * K
  check_dataset(out, 5, K, original=False)


def test_the_launch_probe_reads_one_file_when_it_is_good_and_samples_a_large_folder(
    tmp_path, monkeypatch):
  from pipeline import image_io, sources, usable_inputs
  write_photos(tmp_path / "good", 5)
  write_unusable_folder(tmp_path / "good", "text_files", 5)  # half of the folder
  write_unusable_folder(tmp_path / "bad", "text_files", 40)
  reads = []
  real_load = image_io.load_image
  monkeypatch.setattr(image_io, "load_image",
                      lambda uri, **kw: reads.append(uri) or real_load(uri, **kw))
  items = sources.folder_contents(str(tmp_path / "good"))
  usable_inputs.probe(items, "content", "good", max_pixels=10**8, seed=0)
  assert reads and reads[-1].endswith(".jpg")  # stopped at the first image
  assert len(reads) <= 5 and all(r.endswith(".txt") for r in reads[:-1])
  reads.clear()
  with pytest.raises(usable_inputs.NoUsableInputError) as e:
    usable_inputs.probe(sources.folder_contents(str(tmp_path / "bad")), "content", "bad",
                        max_pixels=10**8, seed=0)
  assert len(reads) == usable_inputs.PROBE_LIMIT == 32
  assert "32 of its 40 files, sampled, are not usable images (unrecognized_format: 32" \
      in str(e.value)


@pytest.mark.slow
def test_a_styles_folder_of_text_files_fails_in_one_console_line(tmp_path):
  """What the user sees, from the command line: one line, exit 1, nothing written."""
  args, out = _unusable_case(tmp_path, "styles", "text_files")
  done = run_job(args, timeout=300)
  assert done.returncode == 1
  assert done.stdout == ""
  assert done.stderr.count("\n") == 1, done.stderr
  assert done.stderr.startswith("error: no style image could be read at "), done.stderr
  assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "styles"]


def test_a_run_that_writes_no_stylized_view_is_not_published(
    tmp_path, small_inputs, monkeypatch, capfd):
  """Past the launch check (a large folder is only sampled there; a model can fail on
  every view): the run's own results decide, its dead letters stay in staging, and a
  rerun starts over rather than keeping failures of files fixed in place."""
  def broken(self, contents, states, strengths):
    raise RuntimeError("every view fails (injected)")

  original = ClassicalStylizer.content_step
  monkeypatch.setattr(ClassicalStylizer, "content_step", broken)
  out = tmp_path / "out"
  args = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
          "--stylizer=classical", f"--styles_per_content={K}", "--image_size=32",
          "--split_fractions=1,0,0", "--include_original", f"--output={out}"] + IN_MEMORY
  with pytest.raises(SystemExit) as e:
    stylize.run(args)
  assert e.value.code == 1
  staged = tmp_path / "out.incomplete"
  err = capfd.readouterr().err.strip().splitlines()
  assert err[0].startswith("stylize: 6 contents x 3 views") and "Traceback" not in err
  assert err[-1:] == [
      f"stylize: error: no stylized view was written: {6 * K} views failed in the "
      f"stylizer (stylize_failed: {6 * K}) and no other view was planned, see "
      f"{staged}/{schema.DEAD_LETTER_FILENAME}; nothing was published to {out}; fix "
      "the input and run the same command again"]
  assert not out.exists()
  dead = dead_letters(staged)
  assert len(dead) == 6 * K and {d["reason"] for d in dead} == {"stylize_failed"}
  monkeypatch.setattr(ClassicalStylizer, "content_step", original)
  summary = stylize.run(args)
  assert summary["shards_resumed"] == 0 and summary["dead_letters"] == 0
  check_dataset(out, 6, K, original=True)


def test_every_style_failing_past_the_launch_check_is_not_published(
    tmp_path, monkeypatch):
  from beam_jobs import launch
  monkeypatch.setattr(launch, "probe_inputs", lambda *a: None)  # as if only sampled
  args, out = _unusable_case(tmp_path, "styles", "text_files")
  with pytest.raises(SystemExit):
    stylize.run(args + ["--include_original"] + IN_MEMORY)
  assert not out.exists()
  dead = dead_letters(tmp_path / "out.incomplete")
  assert [d["stage"] for d in dead] == ["style"] * 5
  _fix(tmp_path / "styles", "styles")
  stylize.run(args + ["--include_original"] + IN_MEMORY)
  check_dataset(out, 5, K, original=True)


# --- 4. input safety --------------------------------------------------------------

PAYLOADS = ["__import__('os').system('touch PWNED')", "{{7*7}}", "=cmd|' /C calc'!A0",
            "$(touch PWNED)", "`touch PWNED`", "tflite:../models/evil",
            "hub:https://example.invalid/model", 'a, "quoted"\ntwo-line title']


def test_manifest_values_and_file_names_are_data_only(tmp_path, monkeypatch):
  styles = tmp_path / "styles"
  paths = write_styles(styles, 3)
  paths[2].rename(styles / "hub:style.png")  # a style path that looks like a model spec
  rows = [
      {"path": "style_00.png", "artist": PAYLOADS[0], "style": PAYLOADS[1],
       "genre": PAYLOADS[2], "title": PAYLOADS[3]},
      {"path": "style_01.png", "artist": PAYLOADS[3], "style": PAYLOADS[5],
       "genre": PAYLOADS[6], "title": PAYLOADS[4]},
      {"path": "hub:style.png", "artist": PAYLOADS[2], "style": "classical",
       "genre": PAYLOADS[1], "title": PAYLOADS[7]},
  ]
  with open(styles / "manifest.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.DictWriter(f, ["path", "artist", "style", "genre", "title"])
    w.writeheader()
    w.writerows(rows)
  content = tmp_path / "content"
  photos = write_photos(content, 3)
  photos[0].rename(content / "tflite:..")  # content file names that look like specs
  photos[1].rename(content / "hub:magenta.jpg")

  specs = []
  real_from_spec = T.from_spec

  def spy(spec):
    specs.append(spec)
    return real_from_spec(spec)

  from beam_jobs import launch
  monkeypatch.setattr(launch, "from_spec", spy)
  monkeypatch.setattr(T, "from_spec", spy)
  monkeypatch.chdir(tmp_path)  # a relative `touch PWNED` would land here
  out = tmp_path / "out"
  stylize.run([f"--content={content}", f"--styles={styles / 'manifest.csv'}",
               f"--styles_per_content={K}", "--split_fractions=1,0,0", "--image_size=32",
               "--stylizer=classical", f"--output={out}"] + IN_MEMORY)
  assert len(specs) >= 2 and set(specs) == {"classical"}  # launch and workers
  records = read_dataset(out)
  assert len(records) == 3 * K and dead_letters(out) == []
  assert {r["stylizer"] for r in records} == {"classical"}
  want = {str(styles / row["path"]): (row["artist"], row["style"], row["genre"],
                                      row["title"]) for row in rows}
  got = {r["style_uri"]: (r["style_artist"], r["style_name"], r["style_genre"],
                          r["style_title"]) for r in records}
  assert got == want  # verbatim: not evaluated, templated, shell-expanded or trimmed
  assert {name(r["content_uri"]) for r in records} == {
      "tflite:..", "hub:magenta.jpg", "photo_002.jpg"}
  meta = json.loads((out / schema.METADATA_FILENAME).read_text())
  assert meta["stylizer"]["spec"] == "classical"
  assert set(meta["vocabularies"]["artists"]) == {r["artist"] for r in rows}
  pwned = [p for p in tmp_path.rglob("*") if "PWNED" in p.name]
  assert not pwned and not (ROOT / "PWNED").exists()
