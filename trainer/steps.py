"""What one training step is: the objective, the learning-rate schedule and optimizer,
the variables it updates, and the replicated step function.

The content loss is picked by name from a registry (`CONTENT_LOSSES`, filled by
`register` as trainer.evaluators fills its own), whose names are the --loss choices.

Shared by trainer.train.pretrain and benchmarks/trainer_throughput.py, so the benchmark
times exactly the step that trains.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Optional

import keras
import tensorflow as tf

from trainer import losses
from trainer.checkpoints import model_config
from trainer.config import Config
from trainer.model import build_model


class Pairs(NamedTuple):
  """One replica's batch of positive pairs, embedded: what a content loss sees."""
  za: tf.Tensor           # [B, D] first views' embeddings
  zb: tf.Tensor           # [B, D] second views'
  content_ids: tf.Tensor  # [B] the pairs' content ids
  ids: tf.Tensor          # [2B] content id of each row of `z`
  styles: tf.Tensor       # [2B] style id of each row of `z` (-1: the original)

  @property
  def z(self) -> tf.Tensor:
    return tf.concat([self.za, self.zb], 0)


ContentLoss = Callable[[Pairs, Config, Optional[keras.Model]], tf.Tensor]
#: --loss name -> its content loss; the names are trainer.choices.LOSSES (a test holds
#: them equal), so the flag's check and the registry never disagree.
CONTENT_LOSSES: dict[str, ContentLoss] = {}
#: --loss name -> builder of the trainable head it needs, for the losses that have one.
LOSS_HEADS: dict[str, Callable[[Config], keras.Model]] = {}


def register(name: str, head: Optional[Callable[[Config], keras.Model]] = None):
  """Registers a content loss under its --loss name, as trainer.evaluators does."""
  def add(fn: ContentLoss) -> ContentLoss:
    CONTENT_LOSSES[name] = fn
    if head is not None:
      LOSS_HEADS[name] = head
    return fn
  return add


@register("ntxent")
def _nt_xent(p: Pairs, cfg: Config, head) -> tf.Tensor:
  return losses.nt_xent(p.za, p.zb, p.content_ids, temperature=cfg.temperature)


@register("supcon")
def _supcon(p: Pairs, cfg: Config, head) -> tf.Tensor:
  return losses.supcon(p.z, p.ids, temperature=cfg.temperature, cross_replica=True)


@register("pairwise")
def _pairwise(p: Pairs, cfg: Config, head) -> tf.Tensor:
  return losses.pairwise_contrastive(p.z, p.ids, p.styles, margin=cfg.margin)[0]


def _pair_head(cfg: Config) -> keras.Model:
  """The original work's Siamese classifier: an MLP on a pair's embeddings."""
  head = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                           keras.layers.Dense(1, dtype="float32")], name="pair_head")
  head.build((None, cfg.embedding_dim))
  return head


@register("pair_classifier", head=_pair_head)
def _pair_classifier(p: Pairs, cfg: Config, head) -> tf.Tensor:
  return losses.pair_classifier_loss(head, p.z, p.ids, p.styles)[0]


class Objective:
  """The configured loss on one replica's batch; returns (total, named parts)."""

  def __init__(self, cfg: Config, head=None):
    self.cfg, self.head = cfg, head
    self.content_loss = CONTENT_LOSSES[cfg.loss]

  def forward(self, model, batch):
    """(total, parts) of a batch of pairs: one forward over both views: the same
    (Siamese) weights, and BatchNorm statistics over the whole pair batch."""
    out = model(tf.concat([batch["view_a"], batch["view_b"]], 0), training=True)
    n = tf.shape(batch["view_a"])[0]
    return self({k: v[:n] for k, v in out.items()}, {k: v[n:] for k, v in out.items()},
                batch)

  def __call__(self, out_a, out_b, batch):
    c = self.cfg
    cid = batch["content_id"]
    both_styles = tf.concat([batch["style_a"], batch["style_b"]], 0)
    pairs = Pairs(out_a["embedding"], out_b["embedding"], cid, tf.concat([cid, cid], 0),
                  both_styles)
    content = self.content_loss(pairs, c, self.head)
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


class SupervisedObjective:
  """Softmax cross-entropy of a linear classifier on the backbone's features."""

  def __init__(self, cfg: Config, head):
    self.cfg, self.head = cfg, head

  def forward(self, model, batch):
    features = model(batch["image"], training=True)["features"]
    logits = tf.cast(self.head(features, training=True), tf.float32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.cast(batch["label"], tf.int32), logits))
    hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                    tf.cast(batch["label"], tf.int32))
    return loss, {"loss": loss, "train_accuracy": tf.reduce_mean(tf.cast(hits, tf.float32))}


def make_objective(cfg: Config, head):
  return SupervisedObjective(cfg, head) if cfg.mode == "supervised" else Objective(cfg, head)


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
  head: keras.Model | None  # pair classifier head (loss=pair_classifier) or the
  #                           supervised mode's classifier
  optimizer: keras.optimizers.Optimizer
  step: tf.Variable
  variables: list

  def checkpoint(self, **extra) -> tf.train.Checkpoint:
    tracked = {"model": self.model, "optimizer": self.optimizer, "step": self.step}
    if self.head is not None:
      tracked[self.head.name] = self.head
    return tf.train.Checkpoint(**tracked, **extra)


def classifier_head(model, num_classes: int) -> keras.Model:
  """The supervised mode's linear classifier on the backbone's pooled features."""
  head = keras.Sequential([keras.layers.Dense(num_classes, dtype="float32")],
                          name="classifier")
  head.build((None, model.backbone.output_shape[-1]))
  return head


def build_trainables(cfg: Config, strategy: tf.distribute.Strategy,
                     total_steps: int, num_classes: int = 0) -> Trainables:
  with strategy.scope():
    model = build_model(model_config(cfg))
    head = None
    if cfg.mode == "supervised":
      head = classifier_head(model, num_classes)
    elif cfg.loss in LOSS_HEADS:
      head = LOSS_HEADS[cfg.loss](cfg)
    optimizer = make_optimizer(cfg, total_steps)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    # Supervised: the backbone and the classifier (the projection heads get no
    # gradient and stay as initialised).
    body = model.backbone if cfg.mode == "supervised" else model
    variables = body.trainable_variables + (head.trainable_variables if head else [])
    optimizer.build(variables)
  return Trainables(model, head, optimizer, step, variables)


def make_train_step(cfg: Config, strategy: tf.distribute.Strategy, t: Trainables,
                    objective: Objective):
  """iterator -> replica-mean loss parts; one optimizer step on every replica."""

  @tf.function
  def train_step(iterator):
    def step_fn(batch):
      with tf.GradientTape() as tape:
        total, parts = objective.forward(t.model, batch)
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
