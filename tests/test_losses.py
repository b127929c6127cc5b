"""The contrastive losses against plain numpy references, and their edge cases.

References are written loop by loop from the papers' definitions so they share no
code (and no masking trick) with trainer/losses.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import losses as L

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- references

def _unit(x):
  x = np.asarray(x, np.float64)
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _logsumexp(v):
  m = np.max(v)
  return m + np.log(np.sum(np.exp(v - m)))


def ref_nt_xent(za, zb, ids, t=0.1, mask_same_content=True):
  """SimCLR over the 2B views; positives are (i, i+B); self never a key."""
  z = np.concatenate([_unit(za), _unit(zb)])
  ids2 = np.concatenate([ids, ids])
  n, b = len(z), len(za)
  sim = z @ z.T / t
  out = []
  for i in range(n):
    p = (i + b) % n
    keys = [j for j in range(n) if j != i and
            (j == p or not mask_same_content or ids2[j] != ids2[i])]
    out.append(-sim[i, p] + _logsumexp(sim[i, keys]))
  return float(np.mean(out))


def ref_supcon_terms(f, labels, t=0.1, valid=None):
  """Per-anchor L_out terms {i: loss_i} of the anchors that have a positive."""
  f = _unit(f)
  valid = np.ones(len(f), bool) if valid is None else np.asarray(valid)
  sim = f @ f.T / t
  terms = {}
  for i in range(len(f)):
    if not valid[i]:
      continue
    a = [j for j in range(len(f)) if j != i and valid[j]]
    p = [j for j in a if labels[j] == labels[i]]
    if p:
      terms[i] = -np.mean([sim[i, j] - _logsumexp(sim[i, a]) for j in p])
  return terms


def ref_supcon(f, labels, t=0.1, valid=None):
  terms = ref_supcon_terms(f, labels, t, valid)
  return float(np.mean(list(terms.values()))) if terms else 0.0


def ref_pair_group(c, s, i, j):
  if i == j:
    return None
  if c[i] == c[j]:
    return "positive" if s[i] != s[j] else None
  if s[i] == s[j]:
    return "neg_same_style" if s[i] != -1 else None
  return "neg_diff_style"


def ref_pairwise(z, c, s, margin=0.5):
  z = _unit(z)
  groups = {g: [] for g in L._GROUPS}
  for i in range(len(z)):
    for j in range(len(z)):
      g = ref_pair_group(c, s, i, j)
      if g is None:
        continue
      d = np.linalg.norm(z[i] - z[j])
      groups[g].append(d ** 2 if g == "positive" else max(0.0, margin - d) ** 2)
  means = [np.mean(v) for v in groups.values() if v]
  return float(np.mean(means)), {g: len(v) for g, v in groups.items()}


def _np(stats):
  return {k: float(v) for k, v in stats.items()}


# Three contents x two styles, plus the original (style -1) of content 10.
CIDS = np.array([10, 10, 20, 20, 30, 30, 10], np.int64)
SIDS = np.array([1, 2, 1, 2, 1, 2, -1], np.int64)


# ------------------------------------------------------------------- nt_xent

def test_nt_xent_matches_numpy_reference():
  rng = np.random.default_rng(0)
  za, zb = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
  ids = np.arange(100, 106, dtype=np.int64)
  got = float(L.nt_xent(tf.constant(za, tf.float32), tf.constant(zb, tf.float32), ids))
  assert got == pytest.approx(ref_nt_xent(za, zb, ids), abs=1e-5)
  assert got == pytest.approx(ref_nt_xent(za, zb, ids, mask_same_content=False), abs=1e-5)
  # Temperature is honoured.
  got_t = float(L.nt_xent(tf.constant(za, tf.float32), tf.constant(zb, tf.float32), ids,
                          temperature=0.5))
  assert got_t == pytest.approx(ref_nt_xent(za, zb, ids, t=0.5), abs=1e-5)


def test_nt_xent_aligned_views_reach_the_minimum():
  b = 6
  z = np.eye(8)[:b] * 3.0  # orthogonal contents; norm is divided out
  ids = np.arange(b, dtype=np.int64)
  aligned = float(L.nt_xent(tf.constant(z, tf.float32), tf.constant(z, tf.float32), ids))
  # Positive cosine 1, the 2(B-1) negatives cosine 0: log(1 + 10 e^-10).
  floor = np.log1p(2 * (b - 1) * np.exp(-1 / 0.1))
  assert aligned == pytest.approx(floor, abs=1e-6)
  rng = np.random.default_rng(1)
  rand = float(L.nt_xent(tf.constant(rng.normal(size=(b, 8)), tf.float32),
                         tf.constant(rng.normal(size=(b, 8)), tf.float32), ids))
  assert rand > 1.0 > 1000 * aligned


def test_nt_xent_is_symmetric_in_the_views():
  rng = np.random.default_rng(2)
  za = tf.constant(rng.normal(size=(6, 8)), tf.float32)
  zb = tf.constant(rng.normal(size=(6, 8)), tf.float32)
  ids = tf.range(6, dtype=tf.int64)
  assert float(L.nt_xent(za, zb, ids)) == pytest.approx(float(L.nt_xent(zb, za, ids)),
                                                        abs=1e-6)


def test_nt_xent_masks_a_repeated_content():
  rng = np.random.default_rng(3)
  za, zb = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
  ids = np.array([7, 1, 2, 7, 4, 5], np.int64)  # samples 0 and 3 share content 7
  got = float(L.nt_xent(tf.constant(za, tf.float32), tf.constant(zb, tf.float32), ids))
  masked = ref_nt_xent(za, zb, ids, mask_same_content=True)
  unmasked = ref_nt_xent(za, zb, ids, mask_same_content=False)
  assert got == pytest.approx(masked, abs=1e-5)
  assert abs(got - unmasked) > 1e-3
  # A repeat embedded exactly like its twin costs nothing extra when masked; as a
  # negative it would be a near-maximal false negative.
  za2, zb2 = za.copy(), zb.copy()
  za2[3], zb2[3] = za[0], zb[0]
  got2 = float(L.nt_xent(tf.constant(za2, tf.float32), tf.constant(zb2, tf.float32), ids))
  assert got2 == pytest.approx(ref_nt_xent(za2, zb2, ids), abs=1e-5)
  assert ref_nt_xent(za2, zb2, ids, mask_same_content=False) - got2 > 0.1


def test_supcon_on_both_views_equals_nt_xent_when_contents_are_unique():
  rng = np.random.default_rng(4)
  za = tf.constant(rng.normal(size=(6, 8)), tf.float32)
  zb = tf.constant(rng.normal(size=(6, 8)), tf.float32)
  ids = tf.range(6, dtype=tf.int64)
  sc = L.supcon(tf.concat([za, zb], 0), tf.concat([ids, ids], 0))
  assert float(sc) == pytest.approx(float(L.nt_xent(za, zb, ids)), abs=1e-5)


def test_gather_is_identity_with_one_replica():
  x = tf.ones([3, 2])
  gathered, offset = L.gather_across_replicas(x)
  assert gathered is x and offset == 0
  assert float(L.scale_for_replicas(tf.constant(4.0))) == 4.0


# -------------------------------------------------------------------- supcon

def test_supcon_matches_numpy_reference():
  rng = np.random.default_rng(5)
  f = rng.normal(size=(10, 8))
  labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 4], np.int64)
  valid = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 1], bool)
  got = float(L.supcon(tf.constant(f, tf.float32), labels))
  assert got == pytest.approx(ref_supcon(f, labels), abs=1e-5)
  got_v = float(L.supcon(tf.constant(f, tf.float32), labels, valid=valid,
                         temperature=0.3))
  assert got_v == pytest.approx(ref_supcon(f, labels, 0.3, valid), abs=1e-5)


def test_supcon_ignores_invalid_samples_entirely():
  rng = np.random.default_rng(6)
  f = rng.normal(size=(8, 8))
  styles = np.array([-1, 3, 3, 5, 5, -1, 3, 5], np.int64)  # -1: unstylized original
  valid = styles >= 0
  base = float(L.supcon(tf.constant(f, tf.float32), styles, valid=valid))
  f2 = f.copy()
  f2[[0, 5]] = f[1] * 2.0  # invalid samples moved onto a valid one
  moved = float(L.supcon(tf.constant(f2, tf.float32), styles, valid=valid))
  assert moved == pytest.approx(base, abs=1e-6)
  # Not merely unchanged: the same samples, valid, do change the loss.
  all_valid = float(L.supcon(tf.constant(f2, tf.float32), styles))
  assert abs(all_valid - base) > 1e-3


def test_supcon_leaves_out_anchors_without_a_positive():
  rng = np.random.default_rng(7)
  f = rng.normal(size=(5, 8))
  labels = np.array([0, 0, 1, 1, 2], np.int64)  # sample 4 has no positive
  terms = ref_supcon_terms(f, labels)
  assert sorted(terms) == [0, 1, 2, 3]
  got = float(L.supcon(tf.constant(f, tf.float32), labels))
  assert got == pytest.approx(sum(terms.values()) / 4, abs=1e-5)
  assert abs(got - sum(terms.values()) / 5) > 1e-3
  # No anchor at all: 0, not NaN.
  none = L.supcon(tf.constant(f, tf.float32), np.arange(5, dtype=np.int64))
  assert float(none) == 0.0


# ---------------------------------------------------------------- pair_masks

def _sym(n, pairs):
  m = np.zeros((n, n), bool)
  for i, j in pairs:
    m[i, j] = m[j, i] = True
  return m


def test_pair_masks_on_a_hand_example():
  masks = {k: v.numpy() for k, v in L.pair_masks(CIDS, SIDS).items()}
  want = {
      "positive": _sym(7, [(0, 1), (2, 3), (4, 5), (0, 6), (1, 6)]),
      "neg_same_style": _sym(7, [(0, 2), (0, 4), (2, 4), (1, 3), (1, 5), (3, 5)]),
      "neg_diff_style": _sym(7, [(0, 3), (0, 5), (2, 1), (2, 5), (4, 1), (4, 3),
                                 (6, 2), (6, 3), (6, 4), (6, 5)]),
  }
  for name in want:
    np.testing.assert_array_equal(masks[name], want[name], err_msg=name)
  same_c = CIDS[:, None] == CIDS[None, :]
  same_s = SIDS[:, None] == SIDS[None, :]
  assert np.all(same_c[masks["positive"]]) and not np.any(same_s[masks["positive"]])
  for name in ("neg_same_style", "neg_diff_style"):
    assert not np.any(same_c[masks[name]])
  total = sum(m.astype(int) for m in masks.values())
  assert total.max() == 1 and not np.any(np.diag(total))


def test_pair_masks_leave_originals_and_same_style_repeats_unpaired():
  cids = np.array([1, 2, 3, 3], np.int64)
  sids = np.array([-1, -1, 4, 4], np.int64)  # two originals; a same-style repeat
  masks = L.pair_masks(cids, sids)
  total = sum(m.numpy().astype(int) for m in masks.values())
  assert total[0, 1] == total[1, 0] == 0 and total[2, 3] == total[3, 2] == 0
  assert masks["neg_diff_style"].numpy()[0, 2]


# ------------------------------------------------------ pairwise_contrastive

def _views(n_dim=10, spread=0.0, n_contents=3):
  """Content c at basis e_c; views pushed `spread` along private axes."""
  rows = []
  for c, s in zip(CIDS, SIDS):
    k = [10, 20, 30].index(c)
    v = np.eye(n_dim)[k].copy()
    v[n_contents + 2 * k + (s == 2)] += spread if s != -1 else 0.0
    rows.append(v)
  return np.array(rows)


def test_pairwise_contrastive_matches_reference():
  rng = np.random.default_rng(8)
  z = rng.normal(size=(7, 5))
  for margin in (0.5, 1.5):
    loss, stats = L.pairwise_contrastive(tf.constant(z, tf.float32), CIDS, SIDS, margin)
    want, counts = ref_pairwise(z, CIDS, SIDS, margin)
    assert float(loss) == pytest.approx(want, abs=1e-5)
    for g, n in counts.items():
      assert float(stats[f"{g}_count"]) == n


def test_pairwise_contrastive_good_and_bad_embeddings():
  good = _views()  # views identical, contents orthogonal (d = sqrt 2 > margin)
  loss, stats = L.pairwise_contrastive(tf.constant(good, tf.float32), CIDS, SIDS)
  assert float(loss) < 1e-6
  # Swapped: embedding by style, so positives far apart and same-style negatives equal.
  bad = np.eye(8)[SIDS + 1]
  loss, stats = L.pairwise_contrastive(tf.constant(bad, tf.float32), CIDS, SIDS)
  s = _np(stats)
  assert s["positive_loss"] == pytest.approx(2.0, abs=1e-5)  # d^2 = 2
  assert s["neg_same_style_loss"] == pytest.approx(0.25, abs=1e-5)  # margin^2
  assert s["neg_diff_style_loss"] == pytest.approx(0.0, abs=1e-6)
  assert float(loss) == pytest.approx((2.0 + 0.25) / 3, abs=1e-5)


def test_pairwise_contrastive_groups_weigh_equally():
  d = 64
  base = _views(d, spread=0.5)
  loss, stats = L.pairwise_contrastive(tf.constant(base, tf.float32), CIDS, SIDS)
  s = _np(stats)
  assert s["positive_loss"] > 0.01
  assert float(loss) == pytest.approx(s["positive_loss"] / 3, abs=1e-6)
  # 40 more style-1 contents, each far from everything: hundreds of extra
  # (zero-loss) negatives, yet the positives keep their weight of 1/3.
  extra = np.eye(d)[20:60]
  z = np.concatenate([base, extra])
  cids = np.concatenate([CIDS, 1000 + np.arange(40)])
  sids = np.concatenate([SIDS, np.ones(40, np.int64)])
  loss2, stats2 = L.pairwise_contrastive(tf.constant(z, tf.float32), cids, sids)
  s2 = _np(stats2)
  assert s2["neg_same_style_count"] > 50 * s["neg_same_style_count"]
  assert float(loss2) == pytest.approx(float(loss), abs=1e-6)
  # A pooled mean over all pairs would have diluted the positives.
  pooled = s2["positive_loss"] * s2["positive_count"] / sum(
      s2[f"{g}_count"] for g in L._GROUPS)
  assert pooled < float(loss2) / 20


def test_pairwise_contrastive_drops_an_empty_group():
  z = np.eye(8)[:4] + 0.9 * np.eye(8)[[4, 4, 5, 5]]  # close pairs, all negatives
  cids = np.arange(4, dtype=np.int64)
  sids = np.array([1, 1, 2, 2], np.int64)
  loss, stats = L.pairwise_contrastive(tf.constant(z, tf.float32), cids, sids,
                                       margin=1.5)
  s = _np(stats)
  assert s["positive_count"] == 0 and s["positive_loss"] == 0.0
  assert s["neg_same_style_loss"] > 0.01
  want = (s["neg_same_style_loss"] + s["neg_diff_style_loss"]) / 2
  assert float(loss) == pytest.approx(want, abs=1e-6)
  assert float(loss) == pytest.approx(ref_pairwise(z, cids, sids, 1.5)[0], abs=1e-5)


# ------------------------------------------------------ pair_classifier_loss

def _distance_head(d, scale=10.0):
  """logit = 10 - scale * sum|e1 - e2|: +10 for identical, -10 at L1 distance 2."""
  head = keras.layers.Dense(1)
  head.build((None, d))
  head.set_weights([-scale * np.ones((d, 1), np.float32), np.array([10.0], np.float32)])
  return head


def test_pair_classifier_separable_example():
  z = tf.constant(_views(), tf.float32)
  loss, stats = L.pair_classifier_loss(_distance_head(10), z, CIDS, SIDS)
  s = _np(stats)
  assert float(loss) == pytest.approx(np.log1p(np.exp(-10.0)), rel=1e-3)
  assert s["balanced_accuracy"] == 1.0
  for g in L._GROUPS:
    assert s[f"{g}_accuracy"] == 1.0
  # A head that says "same" for everything: right on positives only.
  const = lambda x: tf.ones([tf.shape(x)[0], 1])
  loss, stats = L.pair_classifier_loss(const, z, CIDS, SIDS)
  s = _np(stats)
  assert s["positive_accuracy"] == 1.0 and s["neg_same_style_accuracy"] == 0.0
  assert s["balanced_accuracy"] == pytest.approx(1 / 3)
  sp = lambda x: np.log1p(np.exp(x))
  assert float(loss) == pytest.approx((sp(-1.0) + 2 * sp(1.0)) / 3, abs=1e-5)


def test_pair_classifier_logits_score_every_pair():
  rng = np.random.default_rng(9)
  z = rng.normal(size=(4, 3)).astype(np.float32)
  head = lambda x: tf.reduce_sum(x, axis=-1, keepdims=True)
  logits = L.pair_classifier_logits_fn(head, tf.constant(z)).numpy()
  want = np.abs(z[:, None, :] - z[None, :, :]).sum(-1)
  np.testing.assert_allclose(logits, want, rtol=1e-6)


def test_pair_classifier_gradients_reach_head_and_embeddings():
  rng = np.random.default_rng(10)
  z = tf.Variable(rng.normal(size=(7, 8)).astype(np.float32))
  head = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                           keras.layers.Dense(1)])
  head.build((None, 8))
  with tf.GradientTape() as tape:
    loss, _ = L.pair_classifier_loss(head, z, CIDS, SIDS)
  grads = tape.gradient(loss, [z] + list(head.trainable_variables))
  assert len(grads) == 5
  for g in grads:
    assert g is not None and np.all(np.isfinite(g.numpy()))
    assert float(tf.reduce_max(tf.abs(g))) > 0


# ------------------------------------------------- graph mode and float16

def test_all_losses_in_tf_function_with_float16():
  rng = np.random.default_rng(11)
  za32 = rng.normal(size=(6, 8)).astype(np.float32)
  zb32 = rng.normal(size=(6, 8)).astype(np.float32)
  z7 = rng.normal(size=(7, 8)).astype(np.float32)
  ids = tf.constant([0, 1, 2, 0, 4, 5], tf.int64)
  cids, sids = tf.constant(CIDS), tf.constant(SIDS)
  head = keras.layers.Dense(1, dtype="mixed_float16")  # float16 logits
  head.build((None, 8))

  def losses(za, zb, z):
    return {
        "nt_xent": L.nt_xent(za, zb, ids),
        "supcon": L.supcon(tf.concat([za, zb], 0), tf.concat([ids, ids], 0)),
        "supcon_style": L.supcon(z, sids, valid=sids >= 0, cross_replica=True),
        "pairwise": L.pairwise_contrastive(z, cids, sids)[0],
        "pair_clf": L.pair_classifier_loss(head, z, cids, sids)[0],
    }

  @tf.function
  def run(za, zb, z):
    out = losses(za, zb, z)
    return out, tf.gradients(tf.add_n(list(out.values())), [za, zb, z])

  out16, grads16 = run(tf.constant(za32, tf.float16), tf.constant(zb32, tf.float16),
                       tf.constant(z7, tf.float16))
  out32 = losses(tf.constant(za32), tf.constant(zb32), tf.constant(z7))  # eager
  for name, v in out16.items():
    assert v.dtype == tf.float32 and v.shape == (), name
    assert np.isfinite(float(v)), name
    assert float(v) == pytest.approx(float(out32[name]), rel=2e-2, abs=2e-2), name
  for g in grads16:
    assert g.dtype == tf.float16 and np.all(np.isfinite(g.numpy()))
    assert float(tf.reduce_max(tf.abs(g))) > 0


# ------------------------------------------------------------- cross-replica
# Last in the file: the child started at the first test runs alongside the rest.

_CROSS_REPLICA = textwrap.dedent("""
  import json, sys
  import numpy as np
  import tensorflow as tf
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  from trainer import losses as L

  rng = np.random.default_rng(0)
  R, B, D = 2, 4, 8
  xa = rng.normal(size=(R * B, D)).astype(np.float32)
  xb = rng.normal(size=(R * B, D)).astype(np.float32)
  ids = np.array([0, 1, 2, 3, 4, 1, 6, 7], np.int64)  # content 1 on both replicas
  feats = rng.normal(size=(R * B, D)).astype(np.float32)
  labels = np.array([0, 0, 5, 2, 1, 0, 2, 2], np.int64)  # label 0 on both replicas
  valid = np.array([1, 1, 1, 0, 1, 1, 1, 1], bool)  # replicas: 2 and 3 anchors
  w0 = rng.normal(size=(D, D)).astype(np.float32)

  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    w = tf.Variable(w0)

  def losses(xa, xb, ids, feats, labels, valid, cross):
    with tf.GradientTape() as tape:
      nt = L.nt_xent(xa @ w, xb @ w, ids, cross_replica=cross)
      sc = L.supcon(feats @ w, labels, valid=valid, cross_replica=cross)
      scaled = L.scale_for_replicas(nt + sc)
    return nt, sc, tape.gradient(scaled, w)

  def local(ctx):
    r = ctx.replica_id_in_sync_group
    sl = slice(r * B, (r + 1) * B)
    return tuple(tf.constant(a[sl]) for a in (xa, xb, ids, feats, labels, valid))

  @tf.function
  def distributed():
    args = strategy.experimental_distribute_values_from_function(local)
    nt, sc, g = strategy.run(lambda *a: losses(*a, cross=True), args=args)
    mean = tf.distribute.ReduceOp.MEAN
    return (strategy.reduce(mean, nt, None), strategy.reduce(mean, sc, None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, g, None))

  nt_d, sc_d, g_d = distributed()
  with tf.device("/cpu:0"):  # the reference: one device, whole batch, eager
    nt_s, sc_s, g_s = losses(xa, xb, ids, feats, labels, valid, cross=False)
  json.dump({"replicas": strategy.num_replicas_in_sync,
             "nt": [float(nt_d), float(nt_s)], "sc": [float(sc_d), float(sc_s)],
             "grad_max_diff": float(tf.reduce_max(tf.abs(g_d - g_s))),
             "grad_max": float(tf.reduce_max(tf.abs(g_s)))}, sys.stdout)
""")


@pytest.fixture(scope="module", autouse=True)
def cross_replica_child(request):
  """Starts the 2-replica child at the module's first test, when it is selected.

  Logical CPU devices must be set before TF initialises, which this pytest
  process has already done, hence a child; started early, its TF start-up and
  tracing (~10 s) overlap the in-process tests instead of adding to them.
  """
  name = "test_cross_replica_losses_and_gradients_equal_the_global_batch"
  wanted = any(item.name == name for item in request.session.items)
  proc = None
  if wanted:
    proc = subprocess.Popen([sys.executable, "-c", _CROSS_REPLICA], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  yield proc
  if proc is not None and proc.poll() is None:
    proc.kill()
    proc.communicate()


def test_cross_replica_losses_and_gradients_equal_the_global_batch(cross_replica_child):
  stdout, stderr = cross_replica_child.communicate(timeout=300)
  assert cross_replica_child.returncode == 0, stderr[-3000:]
  out = json.loads(stdout.strip().splitlines()[-1])
  assert out["replicas"] == 2
  # Content 1 sits on both replicas: the gathered-key mask must catch it.
  assert out["nt"][0] == pytest.approx(out["nt"][1], abs=1e-5)
  # Replicas hold 2 and 3 usable supcon anchors: the global normaliser copes.
  assert out["sc"][0] == pytest.approx(out["sc"][1], abs=1e-5)
  # Summed per-replica gradients of scale_for_replicas(loss) == global gradient.
  assert out["grad_max"] > 1e-3
  assert out["grad_max_diff"] < 1e-5 * max(1.0, out["grad_max"])
