"""When inputs are bad enough that the job must not publish: the rule and its checks.

The rule (the threshold between "some inputs were bad" and "nothing useful"): a dataset
is published when at least one stylized view was written, i.e. at least one content and
one style image were read and the stylizer rendered at least one pair. Any lesser
failure (a corrupt photo, a painting that is a text file, a view the model failed on)
is dead-lettered with its reason and listed in `dead_letter.jsonl`; the job succeeds.
Original views alone (`--include_original`) do not count: a stylized dataset without a
style is not what was asked for.

Two checks enforce it:
- at launch, `probe` opens files of each input until one decodes (the first, normally:
  one read per input). A folder whose probed files all fail (every file of a small
  folder, a seeded sample of `PROBE_LIMIT` of a large one) stops the job before any
  work, naming the reasons and an example;
- after the run, `nothing_useful` reads the dead letters and shard statistics; a run
  whose every content, every style or every view failed is refused before anything is
  published, and its dead letters stay in the staging folder for the user to read.
"""

from __future__ import annotations

import collections
import random
from typing import Iterable, Mapping, Sequence

from pipeline import image_io, sources

#: Files opened at most per input at launch (when all fail): enough that a folder with
#: a usable share of images almost surely shows one, few enough to cost seconds.
PROBE_LIMIT = 32


class NoUsableInputError(sources.SourceError):
  """No file of an input could be read as an image."""


def _reasons(counts: collections.Counter) -> str:
  return ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())


def probe(items: Sequence, what: str, location: str, *, max_pixels: int, seed: int,
          limit: int = PROBE_LIMIT) -> None:
  """Raises NoUsableInputError when none of the probed files of `items` decodes.

  `items` are ContentItem or StyleItem (anything with `uri` and `rel_path`); they are
  tried in a seeded order, stopping at the first image that decodes.
  """
  order = list(items)
  random.Random(seed).shuffle(order)
  tried, failed, example = order[:limit], collections.Counter(), ""
  for item in tried:
    try:
      image_io.load_image(item.uri, max_pixels=max_pixels)
      return
    except image_io.ImageError as e:
      failed[e.reason] += 1
      if not example:  # the file named once, by its path below the input folder
        text = str(e).removeprefix(item.uri + ": ")
        example = (text.replace(item.uri, item.rel_path) if item.uri in text
                   else f"{item.rel_path}: {text}")
  which = (f"its {len(order)} files" if len(tried) == len(order) else
           f"{len(tried)} of its {len(order):,} files, sampled,")
  raise NoUsableInputError(
      f"no {what} image could be read at {location!r}: {which} are not usable images "
      f"({_reasons(failed)}; e.g. {example}); nothing was started")


def nothing_useful(contents: Sequence, styles: Sequence,
                   dead_letters: Iterable[Mapping], shard_stats: Iterable[Mapping],
                   dead_letter_file: str) -> str | None:
  """Why a finished run must not be published, or None when it may be.

  `shard_stats` are the shards' statistics (`records.ShardStats.as_dict()`); a view
  with a style counts in their `style_ids`.
  """
  stylized = sum(n for s in shard_stats for n in s["style_ids"].values())
  if stylized:
    return None
  dead = list(dead_letters)
  by_stage = {stage: collections.Counter(d["reason"] for d in dead if d["stage"] == stage)
              for stage in ("style", "content", "stylize")}
  see = f"see {dead_letter_file}"
  if sum(by_stage["style"].values()) >= len(styles):
    return (f"no style image could be used: {len(styles)} files "
            f"({_reasons(by_stage['style'])}), {see}")
  if sum(by_stage["content"].values()) >= len(contents):
    return (f"no content image could be used: {len(contents)} files "
            f"({_reasons(by_stage['content'])}), {see}")
  failed = sum(by_stage["stylize"].values())
  return (f"no stylized view was written: {failed} views failed in the stylizer "
          f"({_reasons(by_stage['stylize'])}) and no other view was planned, {see}")
