"""Metrics against hand-computed values, and the majority-class trap made visible."""

import numpy as np
import pytest

from trainer import metrics


def test_majority_predictor_on_imbalanced_set_gets_balanced_accuracy_one_over_k():
  y_true = np.array([0] * 80 + [1] * 15 + [2] * 5)  # 80% majority
  always_zero = np.zeros_like(y_true)
  rep = metrics.classification_report(y_true, always_zero, 3)
  assert rep["accuracy"] == pytest.approx(0.80)       # looks good...
  assert rep["balanced_accuracy"] == pytest.approx(1 / 3)  # ...and is chance
  assert rep["recall"] == [1.0, 0.0, 0.0]
  assert rep["macro_f1"] == pytest.approx((2 * 0.8 / 1.8) / 3)
  base = metrics.majority_baseline(np.array([0, 0, 1]), y_true, 3)
  assert base == rep


def test_report_by_hand():
  y_true = [0, 0, 1, 1, 2]
  y_pred = [0, 1, 1, 1, 0]
  rep = metrics.classification_report(y_true, y_pred, 4)  # class 3 absent
  assert rep["confusion"][0] == [1, 1, 0, 0] and rep["confusion"][2] == [1, 0, 0, 0]
  assert rep["precision"][:3] == [0.5, pytest.approx(2 / 3), 0.0]
  assert rep["recall"][:3] == [0.5, 1.0, 0.0]
  assert rep["balanced_accuracy"] == pytest.approx(0.5)  # mean over 3 present classes
  f1 = [0.5, 0.8, 0.0]
  assert rep["macro_f1"] == pytest.approx(np.mean(f1))


def test_knn_by_hand():
  train = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
  labels = np.array([0, 0, 1, 1])
  test = np.array([[1, 0.2], [0.2, 1]])
  assert metrics.knn_predict(train, labels, test, k=3).tolist() == [0, 1]
  # k=4: a 2-2 tie; the nearest neighbour's class wins.
  assert metrics.knn_predict(train, labels, np.array([[0.6, 0.5]]), k=4).tolist() == [0]


def test_retrieval_matches_hand_computed_values():
  # Four items on a circle; ids: A A B B. Cosine order from item 0: 1, 3, 2.
  ang = np.deg2rad([0, 30, 180, 60])
  x = np.stack([np.cos(ang), np.sin(ang)], 1)
  ids = ["A", "A", "B", "B"]
  r = metrics.retrieval(x, ids)
  # q0: [1(A) 3 2] -> AP 1, R@1 1.   q1: [0(A) 3 2] -> AP 1, R@1 1.
  # q2: sims to 0,1,3 = cos180, cos150, cos120 -> order 3(B),1,0 -> AP 1, R@1 1.
  # q3: sims to 0,1,2 = cos60, cos30, cos120 -> order 1,0,2(B) -> AP 1/3, R@1 0.
  assert r["map"] == pytest.approx((1 + 1 + 1 + 1 / 3) / 4)
  assert r["recall_at_1"] == pytest.approx(3 / 4)
  assert r["queries"] == 4 and r["skipped_queries"] == 0


def test_retrieval_masks_and_skips():
  x = np.eye(3)
  r = metrics.retrieval(x, [1, 2, 3])  # nothing relevant anywhere
  assert r["queries"] == 0 and r["skipped_queries"] == 3
  r = metrics.retrieval(np.array([[1, 0], [1, 0.1], [0, 1]]), [7, 7, 7],
                        query_mask=[True, False, False], gallery_mask=[True, False, True])
  assert r["queries"] == 1 and r["map"] == 1.0  # only item 2 is in the gallery


def test_chance_retrieval_matches_simulation():
  rng = np.random.default_rng(0)
  ids = np.array([0] * 3 + [1] * 5 + [2] * 12)
  exact = metrics.chance_retrieval(ids)
  sims = [metrics.retrieval(rng.normal(size=(20, 16)), ids) for _ in range(400)]
  assert exact["map"] == pytest.approx(np.mean([s["map"] for s in sims]), abs=0.01)
  assert exact["recall_at_1"] == pytest.approx(
      np.mean([s["recall_at_1"] for s in sims]), abs=0.02)


def test_mean_and_spread():
  assert metrics.mean_and_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
  assert metrics.mean_and_spread([5.0]) == (5.0, 0.0)


def test_knn_leaves_out_the_querys_own_group():
  """Leave-one-content-out: a view's other views are not its neighbours."""
  x = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99], [0.7, 0.7]])
  y = np.array([0, 0, 1, 1, 1])
  groups = np.array([7, 7, 8, 8, 9])
  # Without groups item 0 finds itself (class 0); with them itself and its twin (same
  # content) are out, and its nearest is item 4 (class 1).
  assert metrics.knn_predict(x, y, x[:1], k=1)[0] == 0
  assert metrics.knn_predict(x, y, x[:1], k=1, train_groups=groups,
                             test_groups=groups[:1])[0] == 1
  lonely = metrics.knn_predict(x[:2], y[:2], x[:1], k=1, train_groups=groups[:2],
                               test_groups=groups[:1])
  assert lonely.tolist() == [-1]  # no neighbour left: no prediction, counted wrong
  rep = metrics.classification_report([0, 1], [-1, 1], 2)
  assert rep["accuracy"] == 0.5 and rep["support"] == [1, 1]
  assert np.array(rep["confusion"]).sum() == 1


def test_retrieval_without_any_relevant_item_reports_no_queries():
  ids = np.array([1, 2, 3])
  assert metrics.retrieval(np.eye(3), ids)["queries"] == 0
  assert metrics.chance_retrieval(ids)["queries"] == 0


def test_evaluators_yield_named_values_and_leave_out_what_cannot_be_measured():
  from trainer import evaluators
  rng = np.random.default_rng(0)
  labels = np.repeat([0, 1, 2], 8)
  x = rng.normal(size=(24, 6)) + 3.0 * np.eye(6)[labels]
  split = evaluators.Split(x, labels, np.arange(24) // 2, np.full(24, -1))
  out = evaluators.evaluate(["knn", "retrieval", "chance"], split, split)
  assert out["knn/accuracy"] > 0.9 > out["majority/accuracy"]
  assert out["retrieval/content_queries"] == 24 and 0 < out["retrieval/content_map"] <= 1
  # Only originals: no style to retrieve, so no style figure (not a misleading 0).
  assert out["retrieval/style_queries"] == 0 and "retrieval/style_map" not in out
  assert "chance/style_map" not in out and "chance/content_map" in out
  with pytest.raises(ValueError, match="unknown evaluators"):
    evaluators.evaluate(["knnn"], split, split)
