"""The plan: which styles each content gets, and which split it lands in.

Pure functions of (ids, seed, flags), so a rerun with the same inputs and seed yields
the same plan on any runner, and the plan is testable without Beam.

* Split by content id (hash with the seed): a content's views never straddle splits.
* Optional held-out styles: a seeded subset of styles used only by val/test, so
  evaluation can measure generalisation to styles never seen in training.
* K distinct styles per content, balanced: each split's pool is permuted once by the
  seed and dealt out round-robin, so every style is used floor or ceil(N*K/S) times.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterable, Mapping, Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def _unit(seed: int, *parts) -> float:
  """Deterministic value in [0, 1) from the seed and parts."""
  key = ":".join(str(p) for p in (seed,) + parts).encode()
  return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64


def split_of(content_id: int, seed: int, fractions: Sequence[float]) -> str:
  """train/val/test for a content, by a seeded hash of its id."""
  u, acc = _unit(seed, "split", content_id), 0.0
  for split, frac in zip(SPLITS, fractions):
    acc += frac
    if u < acc:
      return split
  return SPLITS[len(fractions) - 1]


def parse_fractions(text: str) -> tuple[float, float, float]:
  """'0.8,0.1,0.1' -> validated fractions (non-negative, sum to 1)."""
  try:
    parts = tuple(float(x) for x in text.split(","))
  except ValueError:
    raise ValueError(f"split fractions {text!r}: expected three numbers like 0.8,0.1,0.1")
  if len(parts) != 3 or min(parts) < 0 or abs(sum(parts) - 1.0) > 1e-6:
    raise ValueError(f"split fractions {text!r}: need three non-negative numbers "
                     "summing to 1 (train,val,test)")
  return parts  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class PlannedContent:
  content_id: int
  split: str
  index_in_split: int  # position among the split's contents sorted by id


def plan_contents(content_ids: Iterable[int], seed: int,
                  fractions: Sequence[float]) -> list[PlannedContent]:
  """Split and within-split index of each content, in content-id order."""
  counters = {s: 0 for s in SPLITS}
  out = []
  for cid in sorted(content_ids):
    split = split_of(cid, seed, fractions)
    out.append(PlannedContent(cid, split, counters[split]))
    counters[split] += 1
  return out


def style_pools(style_ids: Iterable[int], seed: int,
                holdout_fraction: float = 0.0) -> dict[str, list[int]]:
  """Per split, the seeded permutation of the style ids it may use.

  With holdout_fraction > 0, that share of styles (at least one) is used only by val
  and test, and train uses the rest.
  """
  ids = sorted(set(style_ids))
  if not 0.0 <= holdout_fraction < 1.0:
    raise ValueError(f"holdout fraction {holdout_fraction} not in [0, 1)")
  held: set[int] = set()
  if holdout_fraction > 0 and len(ids) > 1:
    n = min(len(ids) - 1, max(1, round(holdout_fraction * len(ids))))
    held = set(sorted(ids, key=lambda i: _unit(seed, "holdout", i))[:n])
  pools = {}
  for split in SPLITS:
    pool = [i for i in ids if (i in held) == (split != "train")] if held else ids
    rng = np.random.default_rng(int(_unit(seed, "pool", split) * 2**63))
    pools[split] = [pool[j] for j in rng.permutation(len(pool))]
  return pools


def assign_styles(index_in_split: int, pool: Sequence[int], k: int) -> list[int]:
  """The k distinct styles (min(k, len(pool))) for the content at this index."""
  n = len(pool)
  k = min(k, n)
  start = index_in_split * k
  return [pool[(start + j) % n] for j in range(k)]


def views_for(content: PlannedContent, pools: Mapping[str, Sequence[int]], k: int,
              include_original: bool) -> list[tuple[int, int | None]]:
  """[(view_index, style_id or None for the original)] for one content (anything with
  its `split` and `index_in_split`: a PlannedContent or a manifest.ContentEntry)."""
  views: list[tuple[int, int | None]] = [(0, None)] if include_original else []
  styles = assign_styles(content.index_in_split, pools[content.split], k)
  views.extend((j + 1, sid) for j, sid in enumerate(styles))
  return views


def shard_of(index_in_split: int, split_size: int, num_shards: int) -> int:
  """Contiguous blocks of contents per shard: every shard gets a share of contents."""
  return min(num_shards - 1, index_in_split * num_shards // max(1, split_size))
