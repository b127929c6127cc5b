"""The production path, rehearsed: the job through a runner boundary to gs:// and back.

A GCS emulator stands in for Cloud Storage, Beam's local job service and an external SDK
worker pool for Dataflow: the pipeline crosses the same boundary (a proto over gRPC,
user code in separate worker processes that read and write only gs://). The job runs
from gs:// to gs://, one of its workers dies mid-run, the launcher notices the stall,
the same command resumes to shards byte-identical to an uninterrupted run's, a second
job on the same output is refused, and the validator and the trainer read the dataset
back from gs://. Each phase's time is printed (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("gcp_storage_emulator", reason="needs the gcp and test extras "
                    "(pip install -e '.[gcp,test]'): gcp-storage-emulator")
pytest.importorskip("gcsfs", reason="needs the gcp extra (pip install -e '.[gcp]')")

from tests.conftest import ROOT, write_photos, write_styles  # noqa: E402
from tests.gcs_services import BUCKET, Services, free_port, listing, upload  # noqa: E402
from tests.inject import hook_env  # noqa: E402

#: The worker kills itself (SIGKILL, its own pid only: the pool lives on, like a VM whose
#: SDK process died) right after the N-th done marker it writes.
_DIE = '''
def patch(module):
  original = module.write_text

  def wrapped(path, text):
    original(path, text)
    if "/_work/done/" in path:
      with open(os.environ["DIE_COUNT"], "a") as f:
        f.write("x")
      if os.path.getsize(os.environ["DIE_COUNT"]) == int(os.environ["DIE_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)

  module.write_text = wrapped
'''
STALL_S = 45
PHOTOS, K = 16, 2


def _job(env, out, *extra, timeout=420):
  args = [sys.executable, "-m", "beam_jobs.stylize", f"--content=gs://{BUCKET}/photos",
          f"--styles=gs://{BUCKET}/paintings", "--stylizer=classical",
          f"--styles_per_content={K}", "--image_size=64", "--records_per_shard=4",
          "--seed=3", f"--output={out}", *extra]
  return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=timeout)


def _shards(env, url) -> dict[str, bytes]:
  return {k: v for k, v in listing(env, url).items() if ".tfrecord-" in k}


@pytest.mark.slow
def _in_this_process(env: dict, monkeypatch) -> None:
  """Point this process at the emulator too (the reference run and the record count
  run here: a subprocess would cost a TensorFlow start each)."""
  from beam_jobs import remote
  for k in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "NO_GCE_CHECK"):
    monkeypatch.setenv(k, env[k])
  remote.anonymous_on_emulator()


def test_the_job_runs_through_a_portable_runner_on_gs_resumes_and_reads_back(
    tmp_path, monkeypatch):
  times: dict[str, float] = {}
  hooked = hook_env(tmp_path / "hook", "beam_jobs.output", _DIE, "DIE_AT", DIE_AT="2",
                    DIE_COUNT=str(tmp_path / "die-count"))
  # Only the workers die: the services run with the hook, the launcher without it.
  svc = Services(tmp_path / "logs", job_service=True, worker_pool=True, deadline_s=780)
  svc.env.update({k: v for k, v in hooked.items() if k in ("PYTHONPATH", "DIE_AT",
                                                            "DIE_COUNT")})
  with svc:
    env = {k: v for k, v in svc.env.items() if k not in ("PYTHONPATH", "DIE_AT")}
    t = time.time()
    write_photos(tmp_path / "photos", PHOTOS, seed=7)
    write_styles(tmp_path / "paintings", 6, seed=8)
    upload(env, tmp_path / "photos", f"gs://{BUCKET}/photos")
    upload(env, tmp_path / "paintings", f"gs://{BUCKET}/paintings")
    times["upload inputs"] = time.time() - t

    # The reference: the same plan, uninterrupted, with Beam's local runner on gs://.
    t = time.time()
    _in_this_process(env, monkeypatch)
    from beam_jobs import stylize
    stylize.run([f"--content=gs://{BUCKET}/photos", f"--styles=gs://{BUCKET}/paintings",
                 "--stylizer=classical", f"--styles_per_content={K}", "--image_size=64",
                 "--records_per_shard=4", "--seed=3", f"--output=gs://{BUCKET}/reference",
                 "--direct_running_mode=in_memory"])
    times["reference run (local runner, gs:// to gs://)"] = time.time() - t
    reference = _shards(env, f"gs://{BUCKET}/reference")
    assert len(reference) >= 4

    # Through the job service; a worker dies after its 2nd shard.
    out = f"gs://{BUCKET}/stylized"
    portable = svc.portable_flags() + [f"--stall_timeout={STALL_S}"]
    t = time.time()
    first = subprocess.Popen(
        [sys.executable, "-m", "beam_jobs.stylize", f"--content=gs://{BUCKET}/photos",
         f"--styles=gs://{BUCKET}/paintings", "--stylizer=classical",
         f"--styles_per_content={K}", "--image_size=64", "--records_per_shard=4",
         "--seed=3", f"--output={out}", *portable], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not os.path.exists(tmp_path / "die-count") and first.poll() is None:
      time.sleep(0.2)
    died = time.time()
    # While it is still running, a second job on the same output is refused.
    second = _job(env, out, *portable, timeout=120)
    assert second.returncode != 0
    assert "another job is writing this output" in second.stderr, second.stderr[-2000:]
    assert "PortableRunner job job-" in second.stderr  # the lock names the job
    times["second job refused"] = time.time() - died
    _, err = first.communicate(timeout=STALL_S + 120)
    times["worker death -> launcher fails"] = time.time() - died
    assert first.returncode == 1, err[-3000:]
    last = [ln for ln in err.splitlines() if ln.startswith("stylize: the job failed")]
    assert last and f"--stall_timeout={STALL_S}" in last[0] and "resume" in last[0], err
    assert times["worker death -> launcher fails"] < STALL_S + 30
    staged = listing(env, out + ".incomplete")
    done = [k for k in staged if k.startswith("_work/done/")]
    assert len(done) >= 2 and not listing(env, out)  # nothing published

    # The same command resumes: the finished shards are kept, the rest rendered.
    t = time.time()
    again = _job(env, out, *portable)
    times["resume (portable runner)"] = time.time() - t
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming: {len(done)} shards already done" in again.stderr
    assert _shards(env, out) == reference  # byte-identical to the uninterrupted run
    assert not listing(env, out + ".incomplete")  # staging gone

    # The validator reads the published dataset back from gs://.
    t = time.time()
    check = subprocess.run([sys.executable, "-m", "tfrecords_schema.validate", out,
                            "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    times["validator on gs://"] = time.time() - t
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    report = json.loads(check.stdout)
    validated = sum(report["records_by_split"].values())
    assert validated == PHOTOS * K

    # The trainer reads it from gs:// too: a few steps, then its own count of records.
    t = time.time()
    job_dir = tmp_path / "train"
    trained = subprocess.run(
        [sys.executable, "-m", "trainer.task", f"--data={out}", f"--job-dir={job_dir}",
         "--image_size=32", "--batch_size=4", "--width=8", "--embedding_dim=16",
         "--projection_dim=16", "--max_steps=3", "--monitor_every=0", "--log_every=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    times["trainer, 3 steps from gs://"] = time.time() - t
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    assert json.loads((job_dir / "metrics.json").read_text())["steps"] == 3
    from tfrecords_schema import storage
    from trainer import records
    read_back = sum(1 for _ in records.read_files(storage.glob(f"{out}/*.tfrecord-*")))
    assert read_back == validated
  print("\nrehearsal phases (s):", json.dumps({k: round(v, 1) for k, v in times.items()},
                                               indent=1),
        f"\nrecords read back from gs://: validator {validated}, trainer's reader "
        f"{read_back}; resumed shards byte-identical: {len(reference)}")


def test_a_job_endpoint_that_does_not_answer_fails_fast_naming_it(tmp_path):
  write_photos(tmp_path / "photos", 2)
  write_styles(tmp_path / "paintings", 2)
  endpoint = f"localhost:{free_port()}"
  t = time.time()
  proc = subprocess.run(
      [sys.executable, "-m", "beam_jobs.stylize", "--content=gs://b/photos",
       "--styles=gs://b/paintings", "--output=gs://b/out", "--stylizer=classical",
       "--runner=PortableRunner", f"--job_endpoint={endpoint}",
       "--environment_type=EXTERNAL", "--environment_config=localhost:1"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  took = time.time() - t
  assert proc.returncode == 1 and took < 30, (took, proc.stderr[-2000:])
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and f"--job_endpoint={endpoint} does not answer" in lines[0]


def test_a_remote_runner_without_a_way_to_ship_the_code_is_refused_before_any_work():
  proc = subprocess.run(
      [sys.executable, "-m", "beam_jobs.stylize", "--content=gs://b/photos",
       "--styles=gs://b/paintings", "--output=gs://b/out", "--stylizer=classical",
       "--runner=DataflowRunner", "--project=p", "--region=r",
       "--temp_location=gs://b/tmp"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "--setup_file=./setup.py" in lines[0], proc.stderr


def test_an_unreachable_store_is_named_by_the_validator_and_the_trainer(tmp_path):
  env = dict(os.environ, STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{free_port()}",
             GOOGLE_CLOUD_PROJECT="p")
  url = "gs://nowhere/stylized"
  t = time.time()
  check = subprocess.run([sys.executable, "-m", "tfrecords_schema.validate", url],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert check.returncode == 2
  assert "cannot reach the store behind gs://nowhere/stylized" in check.stderr
  train = subprocess.run(
      [sys.executable, "-m", "trainer.task", f"--data={url}",
       f"--job-dir={tmp_path / 'job'}", "--max_steps=1"],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert train.returncode != 0
  assert "cannot reach the store behind gs://nowhere/stylized" in train.stderr
  assert time.time() - t < 60
