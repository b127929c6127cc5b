"""Contrastive losses for Siamese pretraining on stylized views.

Conventions shared by every function here:

* Pure `tf.*` ops with static shapes, so they run inside `strategy.run` in a
  `tf.function` under any `tf.distribute` strategy (TPU included).
* Inputs may be float16 (mixed precision); embeddings and logits are cast to
  float32 before any exp/log, because float16 overflows at 1/temperature scales.
* Two samples with the same content id are never negatives of each other: content
  ids can repeat within a batch at epoch boundaries (`repeat()`), and pushing a
  content away from itself would be a wrong gradient.
* Every loss returns the *per-replica* mean. Under a multi-replica strategy the
  optimizer sums gradients over replicas, so the caller must differentiate
  `scale_for_replicas(loss)` (loss / num_replicas_in_sync). For the cross-replica
  losses (nt_xent, supcon(cross_replica=True)) with equal per-replica batches,
  the mean over replicas then equals the loss on the global batch and the summed
  gradient equals its gradient; the pair losses are per-replica batch losses.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

# Finite stand-in for -inf: exp() underflows to exactly 0 in float32 while
# gradients stay finite (a true -inf risks inf - inf = NaN).
_MASKED_LOGIT = -1e9
_GROUPS = ("positive", "neg_same_style", "neg_diff_style")


def _num_replicas() -> int:
  ctx = tf.distribute.get_replica_context()
  if ctx is None:  # Cross-replica context: losses are meant for strategy.run.
    return tf.distribute.get_strategy().num_replicas_in_sync
  return ctx.num_replicas_in_sync


def gather_across_replicas(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | int]:
  """Concatenates `x` over replicas so local queries can contrast global keys.

  Returns (gathered, offset): local row i is row offset + i of `gathered`.
  Replicas must have equal local batch sizes (static shapes, as on TPU).

  The gradient of `all_gather` sums the upstream gradient over replicas and keeps
  the local slice, so a replica's embeddings also receive the gradient of the
  other replicas' losses in which they appear as keys. Summing the replicas'
  gradients of `scale_for_replicas(loss)` thus gives the exact gradient of the
  global-batch loss (checked in tests/test_losses.py).
  """
  ctx = tf.distribute.get_replica_context()
  if ctx is None or ctx.num_replicas_in_sync == 1:
    return x, 0
  gathered = ctx.all_gather(x, axis=0)
  local = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
  offset = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local
  return gathered, offset


def _gather_ints(ids: tf.Tensor) -> tf.Tensor:
  """Gathers int64 ids as int32 pairs: collectives on some backends lack int64."""
  ids = tf.cast(ids, tf.int64)
  gathered, _ = gather_across_replicas(tf.bitcast(ids, tf.int32))  # [N, 2]
  return tf.bitcast(gathered, tf.int64)


def scale_for_replicas(loss: tf.Tensor) -> tf.Tensor:
  """Divides a per-replica loss by the replica count, for optimizers that sum."""
  return loss / tf.cast(_num_replicas(), loss.dtype)


def _normalize(z: tf.Tensor) -> tf.Tensor:
  return tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1)


def nt_xent(za: tf.Tensor, zb: tf.Tensor, content_ids: tf.Tensor,
            temperature: float = 0.1, cross_replica: bool = True) -> tf.Tensor:
  """SimCLR NT-Xent: each view must pick its partner view out of the batch.

  The 2B local queries (views a and b) are scored against all 2 * B_global
  keys (both views gathered over replicas when `cross_replica`), since more
  negatives make a harder, better-conditioned task. For each query the
  positive is the other view of the same sample; every other key with the same
  content id (its own view, repeats of the content) is dropped from the
  softmax. Returns the mean over the 2B local queries (per replica).
  """
  qa, qb = _normalize(za), _normalize(zb)
  ids = tf.cast(content_ids, tf.int64)
  offset = 0
  ka, kb, kids = qa, qb, ids
  if cross_replica:
    ka, offset = gather_across_replicas(qa)
    kb, _ = gather_across_replicas(qb)
    kids = _gather_ints(ids)
  b = tf.shape(qa)[0]
  g = tf.shape(ka)[0]
  queries = tf.concat([qa, qb], axis=0)                      # [2B, D]
  keys = tf.concat([ka, kb], axis=0)                         # [2G, D]
  q_ids = tf.concat([ids, ids], axis=0)
  k_ids = tf.concat([kids, kids], axis=0)
  logits = tf.matmul(queries, keys, transpose_b=True) / temperature

  rows = tf.range(b) + offset                                # global rows
  pos_idx = tf.concat([rows + g, rows], axis=0)              # a -> b, b -> a
  cols = tf.range(2 * g)
  is_pos = tf.equal(cols[None, :], pos_idx[:, None])         # [2B, 2G]
  same_content = tf.equal(q_ids[:, None], k_ids[None, :])    # includes self
  keep = tf.logical_or(is_pos, tf.logical_not(same_content))
  masked = tf.where(keep, logits, _MASKED_LOGIT)
  pos_logit = tf.reduce_sum(tf.where(is_pos, logits, 0.0), axis=1)
  per_query = tf.reduce_logsumexp(masked, axis=1) - pos_logit
  return tf.reduce_mean(per_query)


def supcon(features: tf.Tensor, labels: tf.Tensor, temperature: float = 0.1,
           valid: tf.Tensor | None = None, cross_replica: bool = False) -> tf.Tensor:
  """Supervised contrastive loss, L_out form (Khosla et al. 2020, eq. 2).

  Positives of anchor i are the other valid samples with its label; the softmax
  runs over all other valid samples. Invalid samples (e.g. unstylized originals
  for a style head) are neither anchors nor keys, so they cannot act as fake
  negatives. Anchors without a positive carry no signal and are left out of the
  mean; with none left the loss is 0. The temperature/base_temperature factor of
  the reference code is 1 here.

  With `cross_replica`, keys are gathered over replicas and the normaliser is
  the global anchor count times 1/num_replicas, so the mean over replicas of the
  returned values equals the loss on the global batch even when replicas hold
  different numbers of usable anchors.
  """
  q = _normalize(features)
  lab = tf.cast(labels, tf.int64)
  ok = tf.ones_like(lab, tf.bool) if valid is None else tf.cast(valid, tf.bool)
  offset = 0
  k, k_lab, k_ok = q, lab, ok
  if cross_replica:
    k, offset = gather_across_replicas(q)
    k_lab = _gather_ints(lab)
    k_ok = tf.cast(_gather_ints(tf.cast(ok, tf.int64)), tf.bool)
  logits = tf.matmul(q, k, transpose_b=True) / temperature   # [N, M]

  rows = tf.range(tf.shape(q)[0]) + offset
  not_self = tf.not_equal(tf.range(tf.shape(k)[0])[None, :], rows[:, None])
  contrast = tf.logical_and(not_self, k_ok[None, :])
  positive = tf.logical_and(contrast, tf.equal(lab[:, None], k_lab[None, :]))
  log_denom = tf.reduce_logsumexp(
      tf.where(contrast, logits, _MASKED_LOGIT), axis=1, keepdims=True)
  log_prob = logits - log_denom
  pos_f = tf.cast(positive, tf.float32)
  n_pos = tf.reduce_sum(pos_f, axis=1)
  anchor = tf.logical_and(ok, n_pos > 0)
  mean_log_prob = tf.reduce_sum(pos_f * log_prob, axis=1) / tf.maximum(n_pos, 1.0)
  total = -tf.reduce_sum(tf.where(anchor, mean_log_prob, 0.0))
  count = tf.reduce_sum(tf.cast(anchor, tf.float32))
  ctx = tf.distribute.get_replica_context()
  if cross_replica and ctx is not None and ctx.num_replicas_in_sync > 1:
    replicas = float(ctx.num_replicas_in_sync)
    count = tf.stop_gradient(
        ctx.all_reduce(tf.distribute.ReduceOp.SUM, count)) / replicas
  return tf.math.divide_no_nan(total, count)


def pair_masks(content_ids: tf.Tensor, style_ids: tf.Tensor) -> dict[str, tf.Tensor]:
  """Splits the N x N pairs into the positives and the two kinds of negatives.

  Same-style negatives are the hard case a style-invariant embedding must
  separate, so they are kept apart from different-style ones to be weighted on
  their own. Style -1 (unstylized original) is not a shared style, so two
  originals of different contents fall in neither negative group, and pairs of
  the same content in the same style (repeats) in no group at all.
  Returns bool [N, N] masks "positive", "neg_same_style", "neg_diff_style";
  ordered pairs, so each unordered pair counts twice.
  """
  c = tf.cast(content_ids, tf.int64)
  s = tf.cast(style_ids, tf.int64)
  same_c = tf.equal(c[:, None], c[None, :])
  same_s = tf.equal(s[:, None], s[None, :])
  n = tf.shape(c)[0]
  not_eye = tf.logical_not(tf.cast(tf.eye(n), tf.bool))
  styled = tf.broadcast_to(tf.not_equal(s, -1)[:, None], tf.shape(same_s))
  diff_c, diff_s = tf.logical_not(same_c), tf.logical_not(same_s)
  return {
      "positive": tf.logical_and(tf.logical_and(same_c, diff_s), not_eye),
      "neg_same_style": tf.logical_and(tf.logical_and(diff_c, same_s), styled),
      "neg_diff_style": tf.logical_and(diff_c, diff_s),
  }


def _grouped_mean(values: tf.Tensor, masks: dict[str, tf.Tensor]
                  ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
  """Averages `values` [N, N] per group, then the non-empty groups equally.

  Negatives outnumber positives ~N to 1; equal group weights keep them from
  drowning the positive term. An empty group is dropped rather than counted 0.
  """
  stats, means, present = {}, [], []
  for name in _GROUPS:
    m = tf.cast(masks[name], tf.float32)
    count = tf.reduce_sum(m)
    mean = tf.math.divide_no_nan(tf.reduce_sum(m * values), count)
    stats[f"{name}_loss"], stats[f"{name}_count"] = mean, count
    means.append(mean)
    present.append(tf.cast(count > 0, tf.float32))
  means, present = tf.stack(means), tf.stack(present)
  loss = tf.math.divide_no_nan(tf.reduce_sum(means * present), tf.reduce_sum(present))
  return loss, stats


def pairwise_contrastive(z: tf.Tensor, content_ids: tf.Tensor, style_ids: tf.Tensor,
                         margin: float = 0.5) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
  """Margin contrastive loss (Hadsell et al. 2006) on L2-normalised embeddings.

  Positives pay d^2, negatives max(0, margin - d)^2, d the Euclidean distance
  (in [0, 2] on the unit sphere). Groups from `pair_masks` are averaged
  separately and combined with equal weight. Returns (loss, stats) with
  "<group>_loss" and "<group>_count" (float32, ordered pairs) per group.
  """
  zn = _normalize(z)
  cos = tf.matmul(zn, zn, transpose_b=True)
  d2 = tf.maximum(2.0 - 2.0 * cos, 0.0)
  # Floor before sqrt: its gradient at 0 is inf, and 0 * inf = NaN even for
  # masked-out pairs such as the diagonal.
  d = tf.sqrt(tf.maximum(d2, 1e-12))
  masks = pair_masks(content_ids, style_ids)
  per_pair = tf.where(masks["positive"], d2, tf.square(tf.nn.relu(margin - d)))
  return _grouped_mean(per_pair, masks)


def pair_classifier_logits_fn(head: Callable[[tf.Tensor], tf.Tensor],
                              z: tf.Tensor) -> tf.Tensor:
  """Scores every ordered pair (i, j) with head(|z_i - z_j|): [N, D] -> [N, N].

  All N*N pairs are scored to keep shapes static; memory is N*N*D floats
  (2B = 1024, D = 128: 512 MB), so shrink the batch if D is large. Embeddings
  are not normalised: the head sees them as the encoder produces them. Logits
  are returned in float32 whatever the head's compute dtype.
  """
  z = tf.cast(z, tf.float32)  # A mixed-precision head casts back itself.
  n = tf.shape(z)[0]
  feats = tf.abs(z[:, None, :] - z[None, :, :])               # [N, N, D]
  flat = tf.reshape(feats, [n * n, z.shape[-1] or tf.shape(z)[-1]])
  logits = tf.cast(head(flat), tf.float32)                    # [N*N, 1]
  return tf.reshape(logits, [n, n])


def pair_classifier_loss(head: Callable[[tf.Tensor], tf.Tensor], z: tf.Tensor,
                         content_ids: tf.Tensor, style_ids: tf.Tensor
                         ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
  """Binary cross-entropy of the Siamese pair classifier (same content or not).

  Labels: positive pairs 1, both negative kinds 0, each group averaged and the
  groups weighted equally, i.e. a class- and style-balanced BCE. Returns
  (loss, stats): per group "<group>_loss", "<group>_count" and
  "<group>_accuracy" (logit > 0 means "same"), plus "balanced_accuracy", the
  mean accuracy over the non-empty groups.
  """
  logits = pair_classifier_logits_fn(head, z)
  masks = pair_masks(content_ids, style_ids)
  labels = tf.cast(masks["positive"], tf.float32)
  bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
  loss, stats = _grouped_mean(bce, masks)
  correct = tf.cast(tf.equal(logits > 0, masks["positive"]), tf.float32)
  accs, present = [], []
  for name in _GROUPS:
    m = tf.cast(masks[name], tf.float32)
    acc = tf.math.divide_no_nan(tf.reduce_sum(m * correct), stats[f"{name}_count"])
    stats[f"{name}_accuracy"] = acc
    accs.append(acc)
    present.append(tf.cast(stats[f"{name}_count"] > 0, tf.float32))
  accs, present = tf.stack(accs), tf.stack(present)
  stats["balanced_accuracy"] = tf.math.divide_no_nan(
      tf.reduce_sum(accs * present), tf.reduce_sum(present))
  return loss, stats
