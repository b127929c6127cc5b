"""What one training step is: the objective, the learning-rate schedule and optimizer,
the variables it updates, and the replicated step function.

Shared by trainer.train.pretrain and benchmarks/trainer_throughput.py, so the benchmark
times exactly the step that trains.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from trainer import losses
from trainer.checkpoints import model_config
from trainer.config import Config
from trainer.model import build_model


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


def learning_rate_schedule(peak: float, total_steps: int, warmup_steps: int = 0):
  """Linear warmup from 0 to `peak` over `warmup_steps`, then cosine decay to 0 at
  `total_steps` (SimCLR's schedule); plain cosine from `peak` without warmup."""
  if warmup_steps <= 0:
    return keras.optimizers.schedules.CosineDecay(peak, decay_steps=max(1, total_steps))
  return keras.optimizers.schedules.CosineDecay(
      0.0, decay_steps=max(1, total_steps - warmup_steps), warmup_target=peak,
      warmup_steps=warmup_steps)


def make_optimizer(cfg: Config, total_steps: int):
  schedule = learning_rate_schedule(cfg.learning_rate, total_steps, cfg.warmup_steps)
  opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)
  if cfg.mixed_precision == "float16":
    opt = keras.optimizers.LossScaleOptimizer(opt)
  return opt


@dataclasses.dataclass
class Trainables:
  """What a train step updates, created in the strategy's scope."""
  model: keras.Model
  head: keras.Model | None  # the pair classifier's head, for loss=pair_classifier
  optimizer: keras.optimizers.Optimizer
  step: tf.Variable
  variables: list

  def checkpoint(self, **extra) -> tf.train.Checkpoint:
    tracked = {"model": self.model, "optimizer": self.optimizer, "step": self.step}
    if self.head is not None:
      tracked["pair_head"] = self.head
    return tf.train.Checkpoint(**tracked, **extra)


def build_trainables(cfg: Config, strategy: tf.distribute.Strategy,
                     total_steps: int) -> Trainables:
  with strategy.scope():
    model = build_model(model_config(cfg))
    head = None
    if cfg.loss == "pair_classifier":
      head = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                               keras.layers.Dense(1, dtype="float32")], name="pair_head")
      head.build((None, cfg.embedding_dim))
    optimizer = make_optimizer(cfg, total_steps)
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
