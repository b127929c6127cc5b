"""The trainer on real shards written by the dataset job: pairs, loss, export,
multi-worker agreement, warmup, exact kill-and-resume, and bad input."""

import json
import os
import pathlib
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
from trainer import losses, task

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
               "--stylizer=classical",
               "--split_fractions=1,0,0", "--num_shards=3", f"--output={out}",
               "--direct_running_mode=in_memory"])
  return out


def run_task(args, **kw):
  return subprocess.run([sys.executable, "-m", "trainer.task"] + args, cwd=ROOT,
                        capture_output=True, text=True, timeout=600, **kw)


#: The trainer's own console lines: its log records and its closing summary.
OWN_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+ (INFO|WARNING) (step \d+/\d+ |monitor step \d+: |"
    r"online monitor|resumed from checkpoint |already trained )"
    r"|^pretrained \d+ steps; |^online monitor \(")
#: A line TensorFlow's C++ runtime or absl writes (I/W/E/F, date, time, thread, file).
FRAMEWORK_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d[.\d]* +\d+ \S+:\d+\]", re.M)


def assert_own_console(proc) -> list[str]:
  """Only the trainer's own lines on the console; returns them."""
  lines = proc.stdout.splitlines()
  assert proc.stderr == "", proc.stderr[-3000:]
  strangers = [line for line in lines if not OWN_LINE.match(line)]
  assert not strangers, strangers
  return lines


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


def _ids(batch):
  return (batch["content_id"].numpy().tolist(), batch["style_a"].numpy().tolist(),
          batch["style_b"].numpy().tolist())


def test_pairs_are_deterministic_per_seed_and_epoch(shards):
  cfg = data_lib.DataConfig(data=str(shards), batch_size=8, image_size=48, seed=3,
                            steps_per_epoch=3)
  def ids(epoch):
    return [_ids(b) for b in data_lib.make_pair_dataset(cfg, epoch=epoch, repeat=False)]
  assert ids(0) == ids(0) and len(ids(0)) == 3
  assert ids(0) != ids(1)


def test_a_resumed_stream_starts_at_the_uninterrupted_streams_batch(shards):
  """Epochs are whole numbers of steps: the batch at global step k is rebuilt from
  (seed, k) alone, across epoch boundaries, views and all."""
  import tensorflow as tf
  from trainer import train
  dcfg = data_lib.DataConfig(data=str(shards), batch_size=8, image_size=48, seed=5,
                             steps_per_epoch=3)
  strategy = tf.distribute.get_strategy()
  whole = [b for _, b in zip(range(8), train.input_stream(strategy, dcfg, 0))]
  for k in (1, 3, 4, 7):
    first = next(iter(train.input_stream(strategy, dcfg, k)))
    assert _ids(first) == _ids(whole[k])
    for key in ("view_a", "view_b"):
      np.testing.assert_array_equal(first[key].numpy(), whole[k][key].numpy())
  # The last batch of an epoch never holds the next epoch's contents.
  epoch = [c for b in whole[:3] for c in b["content_id"].numpy().tolist()]
  assert len(epoch) == len(set(epoch)) == 24


def test_skipped_batches_are_not_decoded(shards, monkeypatch):
  import tensorflow as tf
  decoded = tf.Variable(0, dtype=tf.int64)
  from trainer import records

  def counting(image_bytes, window):
    with tf.control_dependencies([decoded.assign_add(1)]):
      return tf.identity(records.decode_window(image_bytes, window))
  # Patched where the stream looks it up: trainer.data's own import of it.
  monkeypatch.setattr(data_lib, "decode_window", counting)
  dcfg = data_lib.DataConfig(data=str(shards), batch_size=2, image_size=48, seed=5,
                             steps_per_epoch=12)
  rest = list(data_lib.make_pair_dataset(dcfg, epoch=4, skip_steps=11, repeat=False))
  assert len(rest) == 1
  assert int(decoded.numpy()) == 4  # one batch of 2 pairs, not the 11 skipped too


def test_warmup_rises_linearly_to_the_peak_then_decays_by_cosine_to_zero():
  from trainer import steps
  lr = steps.learning_rate_schedule(1e-3, total_steps=110, warmup_steps=10)
  values = {s: float(lr(s)) for s in (0, 5, 10, 60, 110)}
  assert values[0] == 0.0
  np.testing.assert_allclose(values[5], 5e-4, rtol=1e-6)
  np.testing.assert_allclose(values[10], 1e-3, rtol=1e-6)
  np.testing.assert_allclose(values[60], 5e-4, rtol=1e-5)  # halfway down the cosine
  np.testing.assert_allclose(values[110], 0.0, atol=1e-12)
  plain = steps.learning_rate_schedule(1e-3, total_steps=100)
  np.testing.assert_allclose([float(plain(0)), float(plain(50))], [1e-3, 5e-4],
                             rtol=1e-5)


def test_short_run_lowers_the_loss_and_the_export_matches_in_a_fresh_process(
    shards, tmp_path):
  job = tmp_path / "job"
  proc = run_task(common(shards, job, "--max_steps=30", "--learning_rate=3e-3",
                         "--no-augment"))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  lines = assert_own_console(proc)  # TensorFlow's logs went to a file, then away
  assert len(lines) == 30 + 2 and lines[-1].startswith("pretrained 30 steps; ")
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
  from trainer import checkpoints
  model, mcfg = checkpoints.load_encoder(str(job / "checkpoints"))
  assert (mcfg.width, mcfg.image_size, mcfg.embedding_dim) == (8, 48, 32)
  saved = json.loads((job / "model" / "assets" / "model_config.json").read_text())
  assert saved["width"] == 8 and saved["backbone"] == "small_cnn"
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
        + common(shards, tmp_path / "job", "--max_steps=4", "--monitor_split=train",
                 "--monitor_every=2", "--monitor_samples=16"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-4000:]
  losses_seen = [re.findall(r"step (\d+)/4 .*? loss ([0-9.]+)", out) for out in outs]
  assert len(losses_seen[0]) == 4 and losses_seen[0] == losses_seen[1]
  metrics = json.loads((tmp_path / "job" / "metrics.json").read_text())
  assert metrics["strategy"] == "MultiWorkerMirroredStrategy"
  assert metrics["replicas"] == 2
  assert [p["step"] for p in metrics["monitor"]["curve"]] == [0, 2, 4]  # on every worker
  assert (tmp_path / "job" / "model" / "saved_model.pb").exists()


def _final_weights(job):
  import tensorflow as tf
  path = tf.train.latest_checkpoint(str(job / "checkpoints"))
  return {name: tf.train.load_variable(path, name)
          for name, _ in tf.train.list_variables(path) if "VARIABLE_VALUE" in name}


def test_a_killed_run_resumes_exactly_as_if_never_interrupted(shards, tmp_path):
  from trainer import task
  args = ["--max_steps=60", "--checkpoint_every=10", "--warmup_steps=5",
          "--learning_rate=3e-3"]
  straight = task.main(common(shards, tmp_path / "straight", *args))["pretrain"]
  job = tmp_path / "job"
  proc = subprocess.Popen([sys.executable, "-m", "trainer.task"] + common(shards, job, *args),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
  killed_after = None
  for line in proc.stdout:
    m = re.search(r"step (\d+)/60", line)
    if m and int(m.group(1)) >= 14:  # past the checkpoint at step 10, mid-epoch
      killed_after = int(m.group(1))
      proc.send_signal(signal.SIGKILL)
      break
  proc.wait(timeout=60)
  assert killed_after and proc.returncode == -signal.SIGKILL
  assert not (job / "metrics.json").exists()
  resumed = task.main(common(shards, job, *args))["pretrain"]
  start = resumed["resumed_from_step"]
  assert 10 <= start <= killed_after and start % 10 == 0
  assert resumed["steps"] == straight["steps"] == 60 and straight["deterministic"]
  assert abs(resumed["final_loss"] - straight["final_loss"]) < 1e-5
  # The whole curve, the killed run's part (kept with its checkpoint) and the rest.
  assert [p["step"] for p in resumed["loss_curve"]] == list(range(1, 61))
  np.testing.assert_allclose([p["loss"] for p in resumed["loss_curve"]],
                             [p["loss"] for p in straight["loss_curve"]], atol=1e-5)
  want, got = _final_weights(tmp_path / "straight"), _final_weights(job)
  assert want.keys() == got.keys() and len(want) > 50
  for name in want:
    np.testing.assert_allclose(got[name], want[name], atol=1e-6, err_msg=name)


def test_the_online_monitor_logs_knn_and_retrieval_without_changing_training(
    shards, tmp_path):
  """The fixture has one split, so the monitor samples train here (a real run: val);
  its photos are unlabelled, so there is no kNN, only retrieval (the labelled case:
  tests/test_probe.py)."""
  from trainer import task
  args = ["--max_steps=10", "--monitor_samples=32"]
  watched = task.main(common(shards, tmp_path / "on", *args, "--monitor_split=train",
                             "--monitor_every=5"))["pretrain"]
  mon = watched["monitor"]
  assert [p["step"] for p in mon["curve"]] == [0, 5, 10] and mon["images"] == 32
  for point in mon["curve"]:
    assert "knn/accuracy" not in point and 0 < point["retrieval/content_map"] <= 1
  assert set(mon["baselines"]) == {"chance/content_map", "chance/style_map"}
  assert mon["seconds"] > 0
  saved = json.loads((tmp_path / "on" / "metrics.json").read_text())
  assert saved["monitor"]["curve"] == mon["curve"]
  events = b"".join(p.read_bytes() for p in (tmp_path / "on" / "tensorboard").glob("*"))
  assert b"monitor/retrieval/content_map" in events
  # Off with a flag; and watching never changes what is trained.
  plain = task.main(common(shards, tmp_path / "off", *args, "--monitor_split=train",
                           "--monitor_every=0"))["pretrain"]
  assert "monitor" not in plain
  np.testing.assert_allclose([p["loss"] for p in plain["loss_curve"]],
                             [p["loss"] for p in watched["loss_curve"]], atol=1e-6)


def test_a_monitor_split_that_is_not_there_fails_before_training(shards, tmp_path):
  proc = run_task(common(shards, tmp_path / "job", "--max_steps=3", "--monitor_split=val"))
  assert proc.returncode != 0
  assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no framework noise
  assert proc.stderr.startswith("error: no TFRecord shards match") and "'val'" in proc.stderr
  assert not (tmp_path / "job" / "checkpoints").exists()


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


def test_verbose_brings_the_frameworks_logs_back(shards, tmp_path):
  """The same run as the quiet ones, with --verbose: TensorFlow's C++ lines (CUDA probe,
  oneDNN, grappler notices) reach stderr again, and its Python loggers stdout."""
  proc = run_task(common(shards, tmp_path / "job", "--max_steps=2", "--verbose"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (FRAMEWORK_LINE.search(proc.stderr)
          or "absl::InitializeLog" in proc.stderr), proc.stderr[-3000:]
  assert [line for line in proc.stdout.splitlines() if not OWN_LINE.match(line)]
  assert any(line.startswith("pretrained 2 steps; ") for line in proc.stdout.splitlines())


def test_an_unexpected_failure_is_one_line_naming_the_log(shards, tmp_path, monkeypatch,
                                                          capfd):
  from trainer import train

  def broken(cfg):
    import tensorflow as tf  # noqa: F401  (its logs, if any, go to the log too)
    raise RuntimeError("disk on fire (injected)\nsecond line")

  monkeypatch.setattr(train, "pretrain", broken)
  with pytest.raises(SystemExit) as e:
    task.main(common(shards, tmp_path / "job", "--max_steps=2"))
  assert e.value.code == 1
  err = capfd.readouterr().err.splitlines()
  assert len(err) == 1 and err[0].startswith(
      "trainer: failed (RuntimeError: disk on fire (injected)); the log is "), err
  log = pathlib.Path(err[0].rsplit(" ", 1)[1])
  assert "Traceback" in log.read_text() and "second line" in log.read_text()
  log.unlink()
