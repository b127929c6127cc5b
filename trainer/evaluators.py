"""Evaluators of a frozen representation, as a small registry.

Each evaluator takes a labelled `bank` (what a classifier may learn from) and the
`queries` it is judged on, and yields (name, value) pairs: floats, plus, for the linear
probe, its full classification report under "linear/report". The probe, the report,
`trainer.compare` and the online monitor all call `evaluate(...)`, so a number means the
same thing wherever it appears.

  linear_probe  softmax regression on standardised features (bank -> queries)
  knn           cosine k-nearest-neighbour vote; neighbours of the query's own content
                are never counted, so bank and queries may be the same sample
  retrieval     ALADIN-NST mAP / Recall@1 among the queries: content (same content id)
                and style (same style id, stylized views only)
  chance        the baselines beside them: majority class of the bank, random ranking
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator, Optional

import numpy as np

from trainer import metrics


@dataclasses.dataclass
class Split:
  x: np.ndarray             # [N, D] one representation
  labels: np.ndarray        # int class index; -1: unlabelled
  content_ids: np.ndarray
  style_ids: np.ndarray     # -1: the unstylized original

  @property
  def labelled(self) -> np.ndarray:
    return np.flatnonzero(self.labels >= 0)


@dataclasses.dataclass
class Options:
  num_classes: int = 0      # 0: from the labels
  knn_k: int = 5
  probe_steps: int = 300
  probe_l2: float = 1e-2
  # Style robustness: name -> boolean mask over the queries (trainer.regimes.view_groups:
  # "original" and "stylized" test views); each classifier also yields
  # "<prefix>/robustness", its metrics.style_robustness on these groups.
  groups: Optional[dict] = None


Evaluator = Callable[[Split, Split, Options], Iterator[tuple[str, object]]]
EVALUATORS: dict[str, Evaluator] = {}


def register(name: str):
  def add(fn: Evaluator) -> Evaluator:
    EVALUATORS[name] = fn
    return fn
  return add


def _robustness(prefix: str, queries: Split, te, pred, k: int, opts: Options):
  if opts.groups:
    groups = {g: np.asarray(m, bool)[te] for g, m in opts.groups.items()}
    yield f"{prefix}/robustness", metrics.style_robustness(queries.labels[te], pred,
                                                           groups, k)


def _classes(bank: Split, queries: Split, opts: Options) -> int:
  return opts.num_classes or int(max(bank.labels.max(initial=-1),
                                     queries.labels.max(initial=-1))) + 1


def train_linear(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float = 1e-4,
                 steps: int = 300, lr: float = 0.05):
  """Softmax regression on standardised features, full batch, from zeros: the same
  inputs always give the same classifier. Returns predict(x) -> labels."""
  import keras
  import tensorflow as tf
  mean, std = x.mean(0), x.std(0) + 1e-6
  xs = tf.constant((x - mean) / std, tf.float32)
  w = tf.Variable(tf.zeros([x.shape[1], num_classes]))
  b = tf.Variable(tf.zeros([num_classes]))
  opt = keras.optimizers.Adam(lr)
  yt = tf.constant(y)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      logits = xs @ w + b
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yt, logits))
      loss += l2 * tf.reduce_sum(w * w)
    grads = tape.gradient(loss, [w, b])
    opt.apply_gradients(zip(grads, [w, b]))
    return loss

  for _ in range(steps):
    step()

  def predict(z: np.ndarray) -> np.ndarray:
    zs = tf.constant((z - mean) / std, tf.float32)
    return tf.argmax(zs @ w + b, axis=1).numpy()
  return predict


@register("linear_probe")
def linear_probe(bank: Split, queries: Split, opts: Options):
  k = _classes(bank, queries, opts)
  tr, te = bank.labelled, queries.labelled
  predict = train_linear(bank.x[tr], bank.labels[tr], k, l2=opts.probe_l2,
                         steps=opts.probe_steps)
  pred = predict(queries.x[te])
  rep = metrics.classification_report(queries.labels[te], pred, k)
  yield "linear/accuracy", rep["accuracy"]
  yield "linear/balanced_accuracy", rep["balanced_accuracy"]
  yield "linear/macro_f1", rep["macro_f1"]
  yield "linear/train_accuracy", float(np.mean(predict(bank.x[tr]) == bank.labels[tr]))
  yield "linear/report", rep
  yield from _robustness("linear", queries, te, pred, k, opts)


@register("knn")
def knn(bank: Split, queries: Split, opts: Options):
  k = _classes(bank, queries, opts)
  tr, te = bank.labelled, queries.labelled
  pred = metrics.knn_predict(bank.x[tr], bank.labels[tr], queries.x[te], k=opts.knn_k,
                             num_classes=k, train_groups=bank.content_ids[tr],
                             test_groups=queries.content_ids[te])
  rep = metrics.classification_report(queries.labels[te], pred, k)
  yield "knn/accuracy", rep["accuracy"]
  yield "knn/balanced_accuracy", rep["balanced_accuracy"]
  yield from _robustness("knn", queries, te, pred, k, opts)


def _retrieval_masks(queries: Split):
  stylized = queries.style_ids >= 0
  return {"content": (queries.content_ids, None, None),
          "style": (queries.style_ids, stylized, stylized)}


@register("retrieval")
def retrieval(bank: Split, queries: Split, opts: Options):
  del bank, opts
  for kind, (ids, query_mask, gallery_mask) in _retrieval_masks(queries).items():
    r = metrics.retrieval(queries.x, ids, query_mask, gallery_mask)
    yield f"retrieval/{kind}_queries", r["queries"]
    if r["queries"]:  # no query with a relevant item (e.g. every style seen once)
      yield f"retrieval/{kind}_map", r["map"]
      yield f"retrieval/{kind}_recall_at_1", r["recall_at_1"]


@register("chance")
def chance(bank: Split, queries: Split, opts: Options):
  """Needs no representation: what guessing scores on the same queries."""
  k = _classes(bank, queries, opts)
  tr, te = bank.labelled, queries.labelled
  if len(tr) and len(te):
    rep = metrics.majority_baseline(bank.labels[tr], queries.labels[te], k)
    majority = np.bincount(bank.labels[tr], minlength=k).argmax()
    yield "majority/accuracy", rep["accuracy"]
    yield "majority/balanced_accuracy", rep["balanced_accuracy"]
    yield "majority/train_accuracy", float(np.mean(bank.labels[tr] == majority))
    yield "majority/report", rep
    yield from _robustness("majority", queries, te, np.full(len(te), majority), k, opts)
  for kind, (ids, query_mask, gallery_mask) in _retrieval_masks(queries).items():
    r = metrics.chance_retrieval(ids, query_mask, gallery_mask)
    if r["queries"]:
      yield f"chance/{kind}_map", r["map"]
      yield f"chance/{kind}_recall_at_1", r["recall_at_1"]


def evaluate(names, bank: Split, queries: Split, opts: Options = Options()) -> dict:
  """{name: value} from the named evaluators, in order."""
  unknown = [n for n in names if n not in EVALUATORS]
  if unknown:
    raise ValueError(f"unknown evaluators {unknown}; registered: {sorted(EVALUATORS)}")
  out = {}
  for name in names:
    out.update(EVALUATORS[name](bank, queries, opts))
  return out


def can_classify(bank: Split, queries: Split) -> bool:
  """At least two classes to learn from and a labelled query to judge."""
  return len(np.unique(bank.labels[bank.labelled])) >= 2 and len(queries.labelled) > 0
