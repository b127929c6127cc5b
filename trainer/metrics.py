"""Evaluation metrics, in numpy, each small enough to check by hand.

Every headline number is meant to be read beside its baselines: plain accuracy on an
imbalanced test set rewards predicting the majority class (the original student report's
"77.6%" was exactly that), so balanced accuracy and macro-F1 are always reported too.
Retrieval follows ALADIN-NST: mAP and Recall@1 for style (relevant = same style id) and
content (relevant = same content id), which shows how much of each an embedding holds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
  """[true, predicted] counts; a prediction of -1 (no prediction) is left out."""
  cm = np.zeros((num_classes, num_classes), np.int64)
  y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
  made = y_pred >= 0
  np.add.at(cm, (y_true[made], y_pred[made]), 1)
  return cm


def classification_report(y_true, y_pred, num_classes: int) -> dict:
  """Accuracy, balanced accuracy, macro-F1, per-class precision/recall, confusion.

  Classes absent from y_true are left out of the balanced accuracy and macro averages
  (their recall is undefined); a class never predicted has precision 0.
  """
  y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
  cm = confusion_matrix(y_true, y_pred, num_classes)
  support = np.bincount(y_true, minlength=num_classes) if len(y_true) else np.zeros(
      num_classes, np.int64)
  predicted = cm.sum(axis=0)
  tp = np.diag(cm).astype(np.float64)
  present = support > 0
  recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
  precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
  f1 = np.divide(2 * precision * recall, precision + recall,
                 out=np.zeros_like(tp), where=(precision + recall) > 0)
  return {
      "n": int(len(y_true)),
      "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
      "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
      "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
      "precision": precision.tolist(), "recall": recall.tolist(),
      "support": support.tolist(), "confusion": cm.tolist(),
  }


def majority_baseline(y_train, y_test, num_classes: int) -> dict:
  """Always predict the training set's most frequent class."""
  majority = int(np.bincount(np.asarray(y_train), minlength=num_classes).argmax())
  return classification_report(y_test, np.full(len(y_test), majority), num_classes)


def _unit(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x, np.float64)
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def knn_predict(train_x, train_y, test_x, k: int = 5, num_classes: int = 0,
                train_groups=None, test_groups=None) -> np.ndarray:
  """Cosine k-nearest-neighbour vote (ties: the class of the nearest among the tied).

  With groups (e.g. content ids), a training item of the query's own group is never a
  neighbour: the same sample can then be both bank and queries (leave-one-content-out).
  A query left without any neighbour is predicted -1 (counted wrong).
  """
  train_y = np.asarray(train_y)
  num_classes = num_classes or int(train_y.max()) + 1
  sims = _unit(test_x) @ _unit(train_x).T
  if train_groups is not None:
    sims[np.asarray(test_groups)[:, None] == np.asarray(train_groups)[None, :]] = -np.inf
  k = min(k, len(train_y))
  order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
  preds = np.full(len(test_x), -1, np.int64)
  for i, nn in enumerate(order):
    nn = nn[np.isfinite(sims[i, nn])]
    if not len(nn):
      continue
    votes = np.bincount(train_y[nn], minlength=num_classes)
    tied = np.flatnonzero(votes == votes.max())
    preds[i] = next(train_y[j] for j in nn if train_y[j] in tied)
  return preds


def _queries(relevant_ids, query_mask=None, gallery_mask=None):
  """For each query (query_mask; None: every item): its index, its gallery (the items
  of gallery_mask other than itself) and which of those are relevant (the same id)."""
  ids = np.asarray(relevant_ids)
  n = len(ids)
  queries = np.flatnonzero(np.ones(n, bool) if query_mask is None else query_mask)
  gallery = np.ones(n, bool) if gallery_mask is None else np.asarray(gallery_mask, bool)
  for q in queries:
    cand = np.flatnonzero(gallery & (np.arange(n) != q))
    yield q, cand, ids[cand] == ids[q]


def retrieval(embeddings, relevant_ids, query_mask=None, gallery_mask=None) -> dict:
  """mAP and Recall@1 of cosine retrieval, each query against the gallery minus itself.

  relevant_ids: an item is relevant to a query when their ids are equal. Queries with no
  relevant item in the gallery are skipped (and counted).
  """
  x = _unit(embeddings)
  aps, r1, skipped = [], [], 0
  for q, cand, rel in _queries(relevant_ids, query_mask, gallery_mask):
    if not rel.any():
      skipped += 1
      continue
    sims = x[cand] @ x[q]
    order = np.argsort(-sims, kind="stable")
    hits = rel[order]
    ranks = np.flatnonzero(hits) + 1
    aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    r1.append(float(hits[0]))
  return {"map": float(np.mean(aps)) if aps else 0.0,
          "recall_at_1": float(np.mean(r1)) if r1 else 0.0,
          "queries": len(aps), "skipped_queries": skipped}


def chance_retrieval(relevant_ids, query_mask=None, gallery_mask=None) -> dict:
  """Expected mAP / Recall@1 of a random ranking: the baseline beside retrieval."""
  r1, aps = [], []
  for _, cand, relevant in _queries(relevant_ids, query_mask, gallery_mask):
    rel = int(relevant.sum())
    if rel == 0:
      continue
    r1.append(rel / len(cand))
    # E[AP] for R relevant among N in random order: (1/R) * sum_k E[precision@rank_k].
    N = len(cand)
    aps.append((rel - 1) / (N - 1) + (1 - (rel - 1) / (N - 1)) * _harmonic(N) / N
               if N > 1 else 1.0)
  return {"map": float(np.mean(aps)) if aps else 0.0,
          "recall_at_1": float(np.mean(r1)) if r1 else 0.0, "queries": len(aps)}


def _harmonic(n: int) -> float:
  return float(np.sum(1.0 / np.arange(1, n + 1)))


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (0 for one value)."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def style_robustness(y_true, y_pred, groups: dict, num_classes: int) -> dict:
  """Accuracy and balanced accuracy on each group of test views ("original",
  "stylized": boolean masks over y_true), and "ratio": stylized / original balanced
  accuracy (1: style costs nothing; None when a group is empty or scores 0)."""
  y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
  out: dict = {}
  for name, mask in groups.items():
    mask = np.asarray(mask, bool)
    if not mask.any():
      out[name] = {"n": 0, "accuracy": None, "balanced_accuracy": None}
      continue
    rep = classification_report(y_true[mask], y_pred[mask], num_classes)
    out[name] = {k: rep[k] for k in ("n", "accuracy", "balanced_accuracy")}
  orig = (out.get("original") or {}).get("balanced_accuracy")
  styl = (out.get("stylized") or {}).get("balanced_accuracy")
  out["ratio"] = styl / orig if orig and styl is not None else None
  return out
