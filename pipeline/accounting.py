"""The job's closing check: every planned view is either written or dead-lettered.

Counters can be dropped and a runner can lose data (we saw Beam's local multi-process
runner lose a block of views once in seven runs, with no error). So the launcher
recomputes, from the manifests alone, how many views each content should have, and
compares that with what the shards hold and the dead letters explain. A difference
fails the job instead of shipping a dataset with holes nobody would notice.
"""

from __future__ import annotations

import collections
from typing import Iterable, Mapping, Sequence

from pipeline import plan
from pipeline.manifest import ContentEntry
from pipeline.sources import StyleItem


def planned_views(contents: Sequence[ContentEntry], ok_style_ids: Iterable[int], *,
                  seed: int, holdout_fraction: float, k: int,
                  include_original: bool) -> dict[int, int]:
  """content_id -> views the plan gives it, over the styles whose step succeeded."""
  pools = plan.style_pools(ok_style_ids, seed, holdout_fraction)
  return {c.content_id: min(k, len(pools[c.split])) + int(include_original)
          for c in contents}


def usable_style_ids(styles: Sequence[StyleItem],
                     dead_letters: Iterable[Mapping]) -> list[int]:
  """Ids of the styles whose style step did not fail (the ones the plan deals)."""
  failed = {d["uri"] for d in dead_letters if d["stage"] == "style"}
  return [s.style_id for s in styles if s.uri not in failed]


def unaccounted_views(contents: Sequence[ContentEntry], styles: Sequence[StyleItem],
                      dead_letters: Iterable[Mapping], written: Mapping[int, int], *,
                      seed: int, holdout_fraction: float, k: int,
                      include_original: bool) -> list[dict]:
  """Contents whose views are not all written or dead-lettered (empty: all accounted).

  `written` is records per content_id from the shards. A content dead-lettered as a
  whole accounts for all its views; a dead-lettered view accounts for one.
  """
  dead = list(dead_letters)
  expected = planned_views(contents, usable_style_ids(styles, dead), seed=seed,
                           holdout_fraction=holdout_fraction, k=k,
                           include_original=include_original)
  whole = {d["content_id"] for d in dead if d["stage"] == "content"}
  views_dead = collections.Counter(d["content_id"] for d in dead
                                   if d["stage"] == "stylize")
  problems = []
  for c in contents:
    cid = c.content_id
    dead_lettered = views_dead[cid] + (expected[cid] if cid in whole else 0)
    if written.get(cid, 0) + dead_lettered != expected[cid]:
      problems.append({"content_id": cid, "uri": c.uri, "planned": expected[cid],
                       "written": written.get(cid, 0), "dead_lettered": dead_lettered})
  unknown = set(written) - set(expected)
  problems += [{"content_id": cid, "uri": "", "planned": 0, "written": written[cid],
                "dead_lettered": 0} for cid in sorted(unknown)]
  return problems
