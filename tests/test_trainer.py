"""The trainer on real shards written by the dataset job: pairs, loss, export,
multi-worker agreement, kill-and-resume, and bad input."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from beam_jobs import stylize
from tests.conftest import ROOT, write_photos, write_styles
from trainer import data as data_lib
from trainer import losses

N_CONTENTS, K = 24, 3


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
  """24 contents x (original + 3 styles), all in train, 3 shards: made by the job."""
  root = tmp_path_factory.mktemp("trainer_data")
  write_photos(root / "content", N_CONTENTS, seed=11)
  write_styles(root / "styles", 5, seed=12)
  out = root / "stylized"
  stylize.run([f"--content={root / 'content'}", f"--styles={root / 'styles'}",
               f"--styles_per_content={K}", "--include_original", "--image_size=48",
               "--split_fractions=1,0,0", "--num_shards=3", f"--output={out}",
               "--direct_running_mode=in_memory"])
  return out


def run_task(args, **kw):
  return subprocess.run([sys.executable, "-m", "trainer.task"] + args, cwd=ROOT,
                        capture_output=True, text=True, timeout=600, **kw)


def common(shards, job_dir, *extra):
  return [f"--data={shards}", f"--job-dir={job_dir}", "--image_size=48",
          "--batch_size=8", "--width=8", "--embedding_dim=32", "--projection_dim=32",
          "--log_every=1", *extra]


def test_every_pair_is_one_content_in_two_styles_and_no_negative_shares_it(shards):
  cfg = data_lib.DataConfig(data=str(shards), batch_size=8, image_size=48,
                            shuffle_buffer=16, seed=1)
  seen = []
  for batch in data_lib.make_pair_dataset(cfg, repeat=False):
    cid = batch["content_id"].numpy()
    assert (cid == batch["content_id_b"].numpy()).all()
    assert (batch["style_a"].numpy() != batch["style_b"].numpy()).all()
    assert batch["view_a"].shape == (8, 48, 48, 3)  # static, drop_remainder
    ids = tf.concat([batch["content_id"]] * 2, 0)
    styles = tf.concat([batch["style_a"], batch["style_b"]], 0)
    masks = losses.pair_masks(ids, styles)
    same = ids[:, None] == ids[None, :]
    for kind in ("neg_same_style", "neg_diff_style"):
      assert not np.any(masks[kind].numpy() & same.numpy())
    assert np.all(same.numpy()[masks["positive"].numpy()])
    seen.extend(cid.tolist())
  # One epoch streams each content once (24 contents = 3 full batches).
  assert len(seen) == len(set(seen)) == N_CONTENTS


def test_pairs_are_deterministic_per_seed_and_epoch(shards):
  cfg = data_lib.DataConfig(data=str(shards), batch_size=8, image_size=48, seed=3)
  def ids(epoch):
    ds = data_lib.make_pair_dataset(cfg, epoch=epoch, repeat=False)
    return [(b["content_id"].numpy().tolist(), b["style_a"].numpy().tolist())
            for b in ds]
  assert ids(0) == ids(0)
  assert ids(0) != ids(1)


def test_short_run_lowers_the_loss_and_the_export_matches_in_a_fresh_process(
    shards, tmp_path):
  job = tmp_path / "job"
  proc = run_task(common(shards, job, "--max_steps=30", "--learning_rate=3e-3",
                         "--no-augment"))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  metrics = json.loads((job / "metrics.json").read_text())
  curve = [p["loss"] for p in metrics["loss_curve"]]
  assert metrics["steps"] == 30 and len(curve) == 30
  assert np.mean(curve[-5:]) < 0.8 * np.mean(curve[:5]), curve
  assert list((job / "tensorboard").glob("events.out.tfevents.*"))
  # The SavedModel, loaded in a fresh process without our code, gives the embeddings
  # the trained weights give in ours.
  images = np.random.default_rng(0).integers(0, 255, (4, 60, 50, 3), dtype=np.uint8)
  np.save(tmp_path / "images.npy", images)
  code = ("import numpy as np, tensorflow as tf\n"
          f"m = tf.saved_model.load({str(job / 'model')!r})\n"
          f"x = np.load({str(tmp_path / 'images.npy')!r})\n"
          "out = m.signatures['serving_default'](images=tf.constant(x))\n"
          f"np.save({str(tmp_path / 'emb.npy')!r}, out['embedding'].numpy())\n")
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  fresh = np.load(tmp_path / "emb.npy")
  from trainer import model as model_lib, train as train_lib, config as config_lib
  cfg = config_lib.parse(common(shards, job))
  mcfg = train_lib.model_config(cfg)
  model = model_lib.build_model(mcfg)
  tf.train.Checkpoint(model=model).restore(
      tf.train.latest_checkpoint(str(job / "checkpoints"))).expect_partial()
  ours = model.embed(tf.constant(images)).numpy()
  np.testing.assert_allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=1e-5)
  np.testing.assert_allclose(fresh, ours, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_mixed_precision_trains_and_exports_float32_embeddings(shards, tmp_path,
                                                                  precision):
  """The GPU (float16, loss scaling) and TPU (bfloat16) settings, run here on CPU."""
  job = tmp_path / "job"
  proc = run_task(common(shards, job, "--max_steps=4", f"--mixed_precision={precision}"))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  metrics = json.loads((job / "metrics.json").read_text())
  assert metrics["steps"] == 4 and metrics["config"]["mixed_precision"] == precision
  assert all(np.isfinite(p["loss"]) for p in metrics["loss_curve"])
  model = tf.saved_model.load(str(job / "model"))
  images = np.random.default_rng(1).integers(0, 255, (3, 48, 48, 3), dtype=np.uint8)
  emb = model.signatures["serving_default"](images=tf.constant(images))["embedding"]
  assert emb.dtype == tf.float32
  np.testing.assert_allclose(np.linalg.norm(emb.numpy(), axis=1), 1.0, atol=1e-3)


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


@pytest.mark.slow
def test_two_local_workers_train_in_step_and_agree_on_the_loss(shards, tmp_path):
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  procs = []
  for i in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": i}}))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "trainer.task"]
        + common(shards, tmp_path / "job", "--max_steps=4"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-4000:]
  losses_seen = [re.findall(r"step (\d+)/4 .*? loss ([0-9.]+)", out) for out in outs]
  assert len(losses_seen[0]) == 4 and losses_seen[0] == losses_seen[1]
  metrics = json.loads((tmp_path / "job" / "metrics.json").read_text())
  assert metrics["strategy"] == "MultiWorkerMirroredStrategy"
  assert metrics["replicas"] == 2
  assert (tmp_path / "job" / "model" / "saved_model.pb").exists()


def test_a_killed_run_resumes_from_its_checkpoint(shards, tmp_path):
  job = tmp_path / "job"
  args = common(shards, job, "--max_steps=40", "--checkpoint_every=10")
  proc = subprocess.Popen([sys.executable, "-m", "trainer.task"] + args, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  killed_after = None
  for line in proc.stdout:
    m = re.search(r"step (\d+)/40", line)
    if m and int(m.group(1)) >= 14:  # past the checkpoint at step 10, mid-epoch
      killed_after = int(m.group(1))
      proc.send_signal(signal.SIGKILL)
      break
  proc.wait(timeout=60)
  assert killed_after and proc.returncode == -signal.SIGKILL
  assert not (job / "metrics.json").exists()
  again = run_task(args)
  assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
  assert "resumed from checkpoint" in again.stdout
  metrics = json.loads((job / "metrics.json").read_text())
  assert 10 <= metrics["resumed_from_step"] < killed_after
  assert metrics["steps"] == 40
  assert metrics["loss_curve"][0]["step"] == metrics["resumed_from_step"] + 1


def _shard_copy(shards, tmp_path):
  import shutil
  copy = tmp_path / "copy"
  shutil.copytree(shards, copy)
  return copy, sorted(copy.glob("*-train.tfrecord-*"))


@pytest.mark.parametrize("case", ["empty_glob", "other_version", "truncated"])
def test_bad_input_fails_with_one_message_naming_the_file(shards, tmp_path, case):
  data = shards
  if case == "empty_glob":
    data = tmp_path / "nothing-*.tfrecord"
    expected = "no TFRecord shards match"
  else:
    data, files = _shard_copy(shards, tmp_path)
    victim = files[1]
    expected = victim.name
    raw = victim.read_bytes()
    if case == "truncated":
      victim.write_bytes(raw[:len(raw) - 300])
    else:
      from tensorflow.core.example import example_pb2
      records = [r.numpy() for r in tf.data.TFRecordDataset(str(victim))]
      ex = example_pb2.Example.FromString(records[0])
      ex.features.feature["schema_version"].int64_list.value[:] = [99]
      with tf.io.TFRecordWriter(str(victim)) as w:
        w.write(ex.SerializeToString())
        for r in records[1:]:
          w.write(r)
  proc = run_task(common(data, tmp_path / "job", "--max_steps=60"))
  assert proc.returncode != 0
  err = proc.stderr.strip().splitlines()[-1]
  assert err.startswith("error: ") and expected in err, proc.stderr[-2000:]
  if case == "other_version":
    assert "schema_version 99" in err
