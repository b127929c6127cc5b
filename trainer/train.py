"""Training: contrastive pretraining, or (--mode=supervised) a classifier on a content
label; one custom loop under any tf.distribute strategy.

A custom loop rather than `model.fit`, because Keras 3's `fit` fails under
MultiWorkerMirroredStrategy (keras-team/keras#20585); the same loop then serves the
default, Mirrored, MultiWorkerMirrored and TPU strategies.

Resume is exact: checkpoints hold the model, optimizer and step, and the input stream
at step s is a pure function of (seed, s) that is rebuilt without decoding the batches
before s (trainer.data); with TF op determinism on (the default without GPU/TPU, else
`--deterministic`) a killed run restarted with the same command reaches the same
weights as one never interrupted. The encoder's configuration is saved beside the
checkpoints and the logged curves with each of them (trainer.checkpoints).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time

import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from trainer import checkpoints
from trainer import data as data_lib
from trainer import distribute, records
from trainer import monitor as monitor_lib
from trainer import regimes, supervised
from trainer.config import Config
from trainer.model import export_saved_model
from trainer.steps import build_trainables, make_objective, make_train_step

log = logging.getLogger("trainer")


def data_config(cfg: Config, steps_per_epoch: int = 0,
                selection: dict | None = None) -> data_lib.DataConfig:
  sel = selection or {}
  return data_lib.DataConfig(data=cfg.data, split=cfg.split, image_size=cfg.image_size,
                             batch_size=cfg.batch_size, shuffle_buffer=cfg.shuffle_buffer,
                             augment=cfg.augment, augment_strength=cfg.augment_strength,
                             pair_mode=cfg.pair_mode, seed=cfg.seed,
                             steps_per_epoch=steps_per_epoch,
                             style_probability=cfg.style_probability,
                             keep_content_ids=sel.get("keep_content_ids"),
                             label_field=cfg.label,
                             class_names=tuple(sel.get("class_names", ())),
                             train_views=cfg.train_views)


def steps_per_epoch(cfg: Config, dcfg: data_lib.DataConfig) -> int:
  """Contents in the split (or kept by the data regime) // batch: from the metadata,
  else by counting once."""
  if cfg.steps_per_epoch:
    return cfg.steps_per_epoch
  meta = records.read_metadata(cfg.data)
  if dcfg.keep_content_ids is not None:
    contents = len(dcfg.keep_content_ids)
  elif meta and cfg.split in meta.get("splits", {}):
    contents = meta["splits"][cfg.split]["contents"]
  else:
    groups = records.group_views(records.read_files(
        records.resolve_files(cfg.data, cfg.split)), data_lib.views_per_content(dcfg))
    contents = int(groups.reduce(0, lambda n, _: n + 1))
  steps = contents // cfg.batch_size
  if steps < 1:
    raise records.DataError(f"{cfg.data}: {contents} contents in split {cfg.split!r}, "
                            f"fewer than one batch of {cfg.batch_size}")
  return steps


def input_stream(strategy, dcfg: data_lib.DataConfig, start_step: int,
                 supervised: bool = False):
  """The distributed pair (or supervised example) stream from global step
  `start_step` on: what pretrain() feeds, uninterrupted (0) or resumed."""
  epoch, skip = divmod(start_step, dcfg.steps_per_epoch)
  make = data_lib.make_supervised_dataset if supervised else data_lib.make_pair_dataset
  return strategy.distribute_datasets_from_function(
      lambda ctx: make(dcfg, ctx, epoch=epoch, skip_steps=skip))


def _determinism(cfg: Config, strategy) -> bool:
  """Turns TF op determinism on when asked (default: without GPU/TPU); returns whether
  this call turned it on, so pretrain() can restore the process's setting."""
  want = cfg.deterministic
  if want is None:
    want = not distribute.on_accelerator(strategy)
  if want and not tf_config.is_op_determinism_enabled():
    tf.config.experimental.enable_op_determinism()
    return True
  return False


def pretrain(cfg: Config) -> dict:
  """Trains, checkpoints, exports; returns the metrics also written to metrics.json."""
  if cfg.mixed_precision != "none":
    keras.mixed_precision.set_global_policy(f"mixed_{cfg.mixed_precision}")
  strategy = distribute.make_strategy(cfg.strategy, cfg.tpu)
  turned_on = _determinism(cfg, strategy)
  try:
    return _pretrain(cfg, strategy)
  finally:
    if turned_on:
      tf_config.disable_op_determinism()


def _pretrain(cfg: Config, strategy) -> dict:
  chief = distribute.is_chief(strategy)
  files = records.resolve_files(cfg.data, cfg.split)
  records.check_shards(files)
  is_supervised = cfg.mode == "supervised"
  selection = regimes.select_data(cfg, files)
  spe = steps_per_epoch(cfg, data_config(cfg, 0, selection))
  dcfg = data_config(cfg, spe, selection)
  total_steps = cfg.max_steps or cfg.epochs * spe
  mcfg = checkpoints.model_config(cfg)
  sample = monitor_lib.sample_for(cfg, data_lib.views_per_content(dcfg))
  keras.utils.set_random_seed(cfg.seed)

  ckpt_dir = distribute.worker_dir(cfg.checkpoint_dir, strategy, chief)
  if tf.train.latest_checkpoint(ckpt_dir):
    checkpoints.check_resume(mcfg, ckpt_dir)
  if is_supervised and tf.train.latest_checkpoint(ckpt_dir):
    supervised.check_classes(selection, ckpt_dir)
  t = build_trainables(cfg, strategy, total_steps, len(selection.get("class_names", ())))
  ckpt = t.checkpoint()
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
  start = 0
  if manager.latest_checkpoint:
    status = ckpt.restore(manager.latest_checkpoint)
    checkpoints.check_every_weight(status, t.model, manager.latest_checkpoint)
    start = int(t.step.numpy())
    log.info("resumed from checkpoint %s at step %d", manager.latest_checkpoint, start)
  elif chief:
    checkpoints.write_model_config(mcfg, cfg.checkpoint_dir)
    if is_supervised:
      supervised.write_classes(selection, cfg.checkpoint_dir)
  if start >= total_steps:
    log.info("already trained %d of %d steps", start, total_steps)
  curves = checkpoints.load_curves(ckpt_dir, start) if start else {}
  curve = curves.get("loss", [])

  iterator = iter(input_stream(strategy, dcfg, start, is_supervised))
  train_step = make_train_step(cfg, strategy, t, make_objective(cfg, t.head))
  monitor = None
  if sample is not None:
    monitor = monitor_lib.Monitor(sample, t.model, strategy, knn_k=cfg.knn_k)
    monitor.curve = curves.get("monitor", [])
  writer = tf.summary.create_file_writer(
      distribute.worker_dir(cfg.tensorboard_dir, strategy, chief))

  def run_monitor(step):
    point = monitor(step)
    with writer.as_default(step=step):
      for k, v in point.items():
        if k != "step":
          tf.summary.scalar(f"monitor/{k}", v)

  def save(step):
    manager.save(checkpoint_number=step)
    if chief:
      checkpoints.save_curves(cfg.checkpoint_dir, {
          "loss": curve, "monitor": monitor.curve if monitor else []})

  if monitor and start == 0:
    run_monitor(0)
  t0, t_log, n_log = time.time(), time.time(), 0
  try:
    for s in range(start, total_steps):
      parts = train_step(iterator)
      n_log += 1
      done = s + 1
      if done % cfg.log_every == 0 or done == total_steps or s == start:
        values = {k: float(v) for k, v in parts.items()}
        rate = n_log * cfg.batch_size / max(time.time() - t_log, 1e-9)
        t_log, n_log = time.time(), 0
        curve.append({"step": done, **values})
        log.info("step %d/%d  epoch %d  %s  %.1f pairs/s", done, total_steps,
                 s // spe + 1, "  ".join(f"{k} {v:.4f}" for k, v in values.items()), rate)
        with writer.as_default(step=done):
          for k, v in values.items():
            tf.summary.scalar(k, v)
          tf.summary.scalar("pairs_per_second", rate)
      if monitor and done % cfg.monitor_every == 0:
        run_monitor(done)
        t_log = time.time()
      if done % cfg.checkpoint_every == 0 and done < total_steps:
        save(done)
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    bad = records.find_bad_shard(files)
    if bad:
      raise records.DataError(bad) from None
    raise
  final = int(t.step.numpy())
  if monitor and (not monitor.curve or monitor.curve[-1]["step"] != final):
    run_monitor(final)
  if total_steps > start or not manager.latest_checkpoint:
    save(final)
  train_seconds = time.time() - t0
  monitor_seconds = monitor.seconds if monitor else 0.0

  export_dir = distribute.worker_dir(cfg.model_dir, strategy, chief)
  export_saved_model(t.model, mcfg, export_dir, classifier=t.head if is_supervised else None)
  checkpoints.write_model_config(mcfg, os.path.join(export_dir, "assets"))
  if is_supervised:
    supervised.write_classes(selection, os.path.join(export_dir, "assets"))
  if not chief:  # the throwaway copies of non-chief workers
    shutil.rmtree(os.path.dirname(export_dir), ignore_errors=True)

  metrics = {
      "mode": "supervised" if is_supervised else "pretrain",
      "strategy": distribute.strategy_name(strategy),
      "replicas": strategy.num_replicas_in_sync, "steps": final,
      "steps_per_epoch": spe, "resumed_from_step": start,
      "first_logged_loss": curve[0]["loss"] if curve else None,
      "final_loss": curve[-1]["loss"] if curve else None,
      "loss_curve": curve, "train_seconds": round(train_seconds, 2),
      "pairs_per_second": round((final - start) * cfg.batch_size
                                / max(train_seconds - monitor_seconds, 1e-9), 2),
      "deterministic": tf_config.is_op_determinism_enabled(),
      "export_dir": cfg.model_dir, "checkpoint_dir": cfg.checkpoint_dir,
      "model_config": dataclasses.asdict(mcfg),
      "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "explicit"},
  }
  if selection:
    metrics["data_selection"] = {k: v for k, v in selection.items()
                                 if k != "keep_content_ids"}
    metrics["data_selection"]["contents_trained_on"] = len(
        selection.get("keep_content_ids") or ()) or None
  if monitor:
    metrics["monitor"] = {"split": cfg.monitor_split, "every": cfg.monitor_every,
                          "images": int(len(monitor.sample["labels"])),
                          "curve": monitor.curve, "baselines": monitor.baselines,
                          "seconds": round(monitor_seconds, 2)}
  if chief:
    tf.io.gfile.makedirs(cfg.job_dir)
    with tf.io.gfile.GFile(os.path.join(cfg.job_dir, "metrics.json"), "w") as f:
      json.dump(metrics, f, indent=2)
  return metrics
