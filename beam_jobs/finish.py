"""Finish: gather what the shard tasks wrote, check it all adds up, publish.

The shards' done markers (stats and dead letters, from this run and any earlier one
resumed) and the style step's results are the whole record of the run. Before anything
is published, every planned view must be written or dead-lettered; then the metadata,
the TFDS files and the dataset card are written and the staging folder is moved into
place in one step.
"""

from __future__ import annotations

import collections
import json

from apache_beam.io.filesystems import FileSystems

from beam_jobs import card
from beam_jobs import output as out
from beam_jobs import staging as stg
from pipeline import accounting
import tfrecords_schema as schema


class UnaccountedViewsError(RuntimeError):
  """Planned views are neither in the shards nor in the dead letters."""


def vocabularies(prep) -> dict:
  """Content labels, styles, style names and artists, each with a stable dense index
  (position in a sorted list), so a classifier's outputs map back to names."""
  styles = sorted(prep.styles, key=lambda s: s["style_id"])
  return {
      "content_labels": prep.label_vocabulary,
      "styles": [{"index": i, "style_id": s["style_id"], "rel_path": s["rel_path"],
                  "name": s["name"], "artist": s["artist"], "genre": s["genre"],
                  "title": s["title"]} for i, s in enumerate(styles)],
      "style_names": sorted({s["name"] for s in styles if s["name"]}),
      "artists": sorted({s["artist"] for s in styles if s["artist"]}),
  }


def gather(staging: str) -> tuple[dict[str, dict], list[dict]]:
  """(done markers by shard key, every dead letter: style step's and shards')."""
  markers = stg.finished_shards(staging)
  dead = []
  for path in out.match(stg.work(staging, "styles", "*.json")):
    result = json.loads(out.read_text(path))
    if not result["ok"]:
      dead.append(result["dead_letter"])
  for marker in markers.values():
    dead.extend(marker["dead_letters"])
  return markers, dead


def check_every_view_accounted(prep, markers: dict, dead: list[dict]) -> None:
  """Raises UnaccountedViewsError naming what is missing, and forgets the shards that
  hold the problem contents so a rerun renders them again."""
  a = prep.args
  missing_shards = [t for t in prep.tasks
                    if stg.shard_key(t["split"], t["shard"]) not in markers]
  if missing_shards:
    t = missing_shards[0]
    raise UnaccountedViewsError(
        f"{len(missing_shards)} planned shards were not written (e.g. {t['split']} "
        f"shard {t['shard']}); the runner lost a task, so this output is not kept")
  written: collections.Counter = collections.Counter()
  shard_of_content = {}
  for key, m in markers.items():
    for cid, n in m["stats"]["views_per_content"].items():
      written[int(cid)] += n
      shard_of_content[int(cid)] = key
  problems = accounting.unaccounted_views(
      prep.contents, prep.styles, dead, written, seed=a.seed,
      holdout_fraction=a.holdout_style_fraction, k=a.styles_per_content,
      include_original=a.include_original)
  if not problems:
    return
  bad = {shard_of_content.get(p["content_id"]) for p in problems}
  bad |= {stg.shard_key(c["split"], c["shard"]) for c in prep.contents
          if c["content_id"] in {p["content_id"] for p in problems}}
  stale = [stg.work(prep.staging, "done", f"{k}.json") for k in sorted(bad - {None})]
  if stale:
    FileSystems.delete([p for p in stale if FileSystems.exists(p)])
  gaps = [p["planned"] - p["written"] - p["dead_lettered"] for p in problems]
  missing, extra = sum(g for g in gaps if g > 0), -sum(g for g in gaps if g < 0)
  first = problems[0]
  raise UnaccountedViewsError(
      f"{missing} planned views of {len(problems)} contents are neither written nor "
      f"dead-lettered" + (f", {extra} views are there more than planned" if extra
                          else "") +
      f" (e.g. content {first['content_id']} {first['uri']}: planned "
      f"{first['planned']}, written {first['written']}, dead-lettered "
      f"{first['dead_lettered']}); the runner lost or duplicated data, so this "
      f"output is not kept ({len(stale)} shards will be rendered again on a rerun)")


def publish(prep, counters: dict, argv: list[str]) -> dict:
  """Checks, writes metadata and card, commits. Returns the run's summary."""
  a = prep.args
  markers, dead = gather(prep.staging)
  check_every_view_accounted(prep, markers, dead)
  stats = [m["stats"] for _, m in sorted(markers.items())]
  dead_lines = sorted(json.dumps(d, sort_keys=True, ensure_ascii=False) for d in dead)
  out.write_text(f"{prep.staging}/{schema.DEAD_LETTER_FILENAME}",
                 "".join(line + "\n" for line in dead_lines))
  metadata = {
      "schema_version": schema.SCHEMA_VERSION, "dataset_name": a.dataset_name,
      "created_by": "beam_jobs.stylize", "command": " ".join(argv),
      "inputs": {"content": a.content, "styles": a.styles,
                 "contents_listed": len(prep.contents), "styles_listed": len(prep.styles)},
      "stylizer": {"spec": a.stylizer, "name": prep.stylizer.name,
                   "version": prep.stylizer.version},
      "plan": {"styles_per_content": a.styles_per_content,
               "include_original": a.include_original, "seed": a.seed,
               "split_fractions": list(prep.fractions),
               "holdout_style_fraction": a.holdout_style_fraction,
               "style_strength": a.style_strength},
      "image": {"size": a.image_size, "format": a.image_format,
                "jpeg_quality": a.jpeg_quality, "resize_policy": a.resize_policy},
      "layout": "Each shard holds a contiguous block of one split's contents in "
                "content_id order; the records of one content are adjacent, in "
                "ascending view_index.",
      "dead_letters": len(dead), "counters": counters,
      "vocabularies": vocabularies(prep),
  }
  description = (f"Contents from {a.content} rendered in {a.styles_per_content} styles "
                 f"from {a.styles} by {prep.stylizer.version} (record schema "
                 f"v{schema.SCHEMA_VERSION}; fields: tfrecords_schema/README.md).")
  metadata = out.finalize(prep.staging, name=a.dataset_name,
                          image_format=a.image_format, shards=prep.shards,
                          shard_stats=stats, description=description, metadata=metadata)
  card.write_card(prep.staging, metadata, stats, dead_lines)
  out.delete_tree(stg.work(prep.staging))  # lock, manifests, markers: not for readers
  out.commit(prep.staging, a.output)
  return {"splits": metadata["splits"], "dead_letters": len(dead), "counters": counters}
