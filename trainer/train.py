"""Contrastive pretraining: a custom loop under any tf.distribute strategy.

A custom loop rather than `model.fit`, because Keras 3's `fit` fails under
MultiWorkerMirroredStrategy (keras-team/keras#20585); the same loop then serves the
default, Mirrored, MultiWorkerMirrored and TPU strategies. Checkpoints hold the model,
optimizer and step; a restarted run resumes at the last checkpoint, mid-epoch, on the
same data stream (the input order is a pure function of seed and epoch).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf

from trainer import data as data_lib
from trainer import losses
from trainer.config import Config
from trainer.model import ModelConfig, build_model, export_saved_model

log = logging.getLogger("trainer")


def make_strategy(cfg: Config) -> tf.distribute.Strategy:
  """TPU with --tpu; multi-worker with a TF_CONFIG cluster; mirrored with >1 GPU."""
  choice = cfg.strategy
  if choice == "auto":
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    workers = sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))
    choice = ("tpu" if cfg.tpu else "multiworker" if workers > 1 else
              "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else
              "default")
  if choice == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=cfg.tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if choice == "multiworker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if choice == "mirrored":
    return tf.distribute.MirroredStrategy()
  return tf.distribute.get_strategy()


def strategy_name(strategy) -> str:
  """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduce...)."""
  for cls, name in ((tf.distribute.TPUStrategy, "TPUStrategy"),
                    (tf.distribute.MultiWorkerMirroredStrategy,
                     "MultiWorkerMirroredStrategy"),
                    (tf.distribute.MirroredStrategy, "MirroredStrategy")):
    if isinstance(strategy, cls):
      return name
  return "default"


def is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(strategy,
                                        tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                  "chief" not in resolver.cluster_spec().as_dict())


def model_config(cfg: Config) -> ModelConfig:
  return ModelConfig(backbone=cfg.backbone, image_size=cfg.image_size,
                     embedding_dim=cfg.embedding_dim, projection_dim=cfg.projection_dim,
                     style_head=cfg.style_head, weights=cfg.weights, width=cfg.width)


def data_config(cfg: Config) -> data_lib.DataConfig:
  return data_lib.DataConfig(data=cfg.data, split=cfg.split, image_size=cfg.image_size,
                             batch_size=cfg.batch_size, shuffle_buffer=cfg.shuffle_buffer,
                             augment=cfg.augment, augment_strength=cfg.augment_strength,
                             pair_mode=cfg.pair_mode, seed=cfg.seed)


def steps_per_epoch(cfg: Config, dcfg: data_lib.DataConfig) -> int:
  """Contents in the split // batch: from the metadata, else by counting once."""
  if cfg.steps_per_epoch:
    return cfg.steps_per_epoch
  meta = data_lib.read_metadata(cfg.data)
  if meta and cfg.split in meta.get("splits", {}):
    contents = meta["splits"][cfg.split]["contents"]
  else:
    groups = data_lib.group_views(tf.data.TFRecordDataset(
        data_lib.resolve_files(cfg.data, cfg.split)), data_lib.views_per_content(dcfg))
    contents = int(groups.reduce(0, lambda n, _: n + 1))
  steps = contents // cfg.batch_size
  if steps < 1:
    raise data_lib.DataError(f"{cfg.data}: {contents} contents in split {cfg.split!r}, "
                             f"fewer than one batch of {cfg.batch_size}")
  return steps


class Objective:
  """The configured loss on one replica's batch; returns (total, named parts)."""

  def __init__(self, cfg: Config, head=None):
    self.cfg, self.head = cfg, head

  def __call__(self, out_a, out_b, batch):
    c = self.cfg
    za, zb = out_a["embedding"], out_b["embedding"]
    cid = batch["content_id"]
    both_ids = tf.concat([cid, cid], 0)
    both_styles = tf.concat([batch["style_a"], batch["style_b"]], 0)
    if c.loss == "ntxent":
      content = losses.nt_xent(za, zb, cid, temperature=c.temperature)
    elif c.loss == "supcon":
      content = losses.supcon(tf.concat([za, zb], 0), both_ids, temperature=c.temperature,
                              cross_replica=True)
    elif c.loss == "pairwise":
      content, _ = losses.pairwise_contrastive(tf.concat([za, zb], 0), both_ids,
                                               both_styles, margin=c.margin)
    else:
      content, _ = losses.pair_classifier_loss(self.head, tf.concat([za, zb], 0),
                                               both_ids, both_styles)
    parts = {"content_loss": content}
    total = content
    if c.style_head:
      style = losses.supcon(
          tf.concat([out_a["style_embedding"], out_b["style_embedding"]], 0),
          both_styles, temperature=c.temperature, valid=both_styles >= 0,
          cross_replica=True)
      parts["style_loss"] = style
      total = total + c.style_loss_weight * style
    parts["loss"] = total
    return total, parts


def _optimizer(cfg: Config, total_steps: int):
  schedule = keras.optimizers.schedules.CosineDecay(
      cfg.learning_rate, decay_steps=max(1, total_steps - cfg.warmup_steps),
      warmup_target=cfg.learning_rate if cfg.warmup_steps else None,
      warmup_steps=cfg.warmup_steps,
      initial_learning_rate=0.0 if cfg.warmup_steps else cfg.learning_rate) \
      if cfg.warmup_steps else keras.optimizers.schedules.CosineDecay(
          cfg.learning_rate, decay_steps=max(1, total_steps))
  opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)
  if cfg.mixed_precision == "float16":
    opt = keras.optimizers.LossScaleOptimizer(opt)
  return opt


def _worker_dir(path: str, strategy, chief: bool) -> str:
  """Non-chief workers must save too (collectives), but into a throwaway folder."""
  if chief:
    return path
  resolver = strategy.cluster_resolver
  return os.path.join(tempfile.gettempdir(),
                      f"worker_{resolver.task_type}_{resolver.task_id}",
                      os.path.basename(path.rstrip("/")))


@dataclasses.dataclass
class Trainables:
  """What a train step updates, created in the strategy's scope."""
  model: keras.Model
  head: keras.Model | None  # the pair classifier's head, for loss=pair_classifier
  optimizer: keras.optimizers.Optimizer
  step: tf.Variable
  variables: list


def build_trainables(cfg: Config, strategy: tf.distribute.Strategy,
                     total_steps: int) -> Trainables:
  with strategy.scope():
    model = build_model(model_config(cfg))
    head = None
    if cfg.loss == "pair_classifier":
      head = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                               keras.layers.Dense(1, dtype="float32")], name="pair_head")
      head.build((None, cfg.embedding_dim))
    optimizer = _optimizer(cfg, total_steps)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    variables = model.trainable_variables + (head.trainable_variables if head else [])
    optimizer.build(variables)
  return Trainables(model, head, optimizer, step, variables)


def make_train_step(cfg: Config, strategy: tf.distribute.Strategy, t: Trainables,
                    objective: Objective):
  """iterator -> replica-mean loss parts; one optimizer step on every replica."""

  @tf.function
  def train_step(iterator):
    def step_fn(batch):
      with tf.GradientTape() as tape:
        # One forward over both views: the same (Siamese) weights, and BatchNorm
        # statistics over the whole pair batch.
        out = t.model(tf.concat([batch["view_a"], batch["view_b"]], 0), training=True)
        n = tf.shape(batch["view_a"])[0]
        out_a = {k: v[:n] for k, v in out.items()}
        out_b = {k: v[n:] for k, v in out.items()}
        total, parts = objective(out_a, out_b, batch)
        scaled = losses.scale_for_replicas(total)
        if cfg.mixed_precision == "float16":
          scaled = t.optimizer.scale_loss(scaled)
      grads = tape.gradient(scaled, t.variables)
      t.optimizer.apply_gradients(zip(grads, t.variables))
      return parts
    parts = strategy.run(step_fn, args=(next(iterator),))
    t.step.assign_add(1)
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in parts.items()}

  return train_step


def pretrain(cfg: Config) -> dict:
  """Trains, checkpoints, exports; returns the metrics also written to metrics.json."""
  if cfg.mixed_precision != "none":
    keras.mixed_precision.set_global_policy(f"mixed_{cfg.mixed_precision}")
  strategy = make_strategy(cfg)
  chief = is_chief(strategy)
  dcfg = data_config(cfg)
  files = data_lib.resolve_files(cfg.data, cfg.split)
  data_lib.check_shards(files)
  spe = steps_per_epoch(cfg, dcfg)
  total_steps = cfg.max_steps or cfg.epochs * spe
  mcfg = model_config(cfg)
  keras.utils.set_random_seed(cfg.seed)

  t = build_trainables(cfg, strategy, total_steps)
  model, head, optimizer, step = t.model, t.head, t.optimizer, t.step
  tracked = {"model": model, "optimizer": optimizer, "step": step}
  if head is not None:
    tracked["pair_head"] = head
  ckpt = tf.train.Checkpoint(**tracked)
  manager = tf.train.CheckpointManager(
      ckpt, _worker_dir(cfg.checkpoint_dir, strategy, chief), max_to_keep=3)
  resumed_from = 0
  if manager.latest_checkpoint:
    ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    resumed_from = int(step.numpy())
    log.info("resumed from checkpoint %s at step %d", manager.latest_checkpoint,
             resumed_from)
  start = resumed_from
  if start >= total_steps:
    log.info("already trained %d of %d steps", start, total_steps)

  epoch0, skip = divmod(start, spe)
  dist = strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.make_pair_dataset(dcfg, ctx, epoch=epoch0).skip(skip))
  iterator = iter(dist)
  train_step = make_train_step(cfg, strategy, t, Objective(cfg, head))

  writer = tf.summary.create_file_writer(
      _worker_dir(cfg.tensorboard_dir, strategy, chief))
  curve, pairs_per_step = [], cfg.batch_size
  t0, t_log, n_log = time.time(), time.time(), 0
  first_loss = None
  try:
    for s in range(start, total_steps):
      parts = train_step(iterator)
      n_log += 1
      done = s + 1
      if done % cfg.log_every == 0 or done == total_steps or s == start:
        values = {k: float(v) for k, v in parts.items()}
        first_loss = values["loss"] if first_loss is None else first_loss
        rate = n_log * pairs_per_step / max(time.time() - t_log, 1e-9)
        t_log, n_log = time.time(), 0
        curve.append({"step": done, **values})
        log.info("step %d/%d  epoch %d  %s  %.1f pairs/s", done, total_steps,
                 s // spe + 1, "  ".join(f"{k} {v:.4f}" for k, v in values.items()), rate)
        with writer.as_default(step=done):
          for k, v in values.items():
            tf.summary.scalar(k, v)
          tf.summary.scalar("pairs_per_second", rate)
      if done % cfg.checkpoint_every == 0 and done < total_steps:
        manager.save(checkpoint_number=done)
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    bad = data_lib.find_bad_shard(files)
    if bad:
      raise data_lib.DataError(bad) from None
    raise
  if total_steps > start or not manager.latest_checkpoint:
    manager.save(checkpoint_number=int(step.numpy()))
  train_seconds = time.time() - t0

  export_dir = _worker_dir(cfg.model_dir, strategy, chief)
  export_saved_model(model, mcfg, export_dir)
  if not chief:  # the throwaway copies of non-chief workers
    shutil.rmtree(os.path.dirname(export_dir), ignore_errors=True)

  metrics = {
      "mode": "pretrain", "strategy": strategy_name(strategy),
      "replicas": strategy.num_replicas_in_sync, "steps": int(step.numpy()),
      "steps_per_epoch": spe, "resumed_from_step": resumed_from,
      "first_logged_loss": first_loss, "final_loss": curve[-1]["loss"] if curve else None,
      "loss_curve": curve, "train_seconds": round(train_seconds, 2),
      "pairs_per_second": round((int(step.numpy()) - start) * pairs_per_step
                                / max(train_seconds, 1e-9), 2),
      "export_dir": cfg.model_dir, "checkpoint_dir": cfg.checkpoint_dir,
      "config": dataclasses.asdict(cfg),
  }
  if chief:
    tf.io.gfile.makedirs(cfg.job_dir)
    with tf.io.gfile.GFile(os.path.join(cfg.job_dir, "metrics.json"), "w") as f:
      json.dump(metrics, f, indent=2)
  return metrics
