"""Finish: publish what the shard tasks wrote, read top to bottom in `publish`.

Check, describe, commit. The shards' done markers (stats and dead letters, from this
run and any earlier one resumed), their index fragments and the style step's results
are the whole record of the run. Before anything is published, every planned view
must be written or dead-lettered and at least one stylized view written
(pipeline.usable_inputs); then `describe` writes the folder's self-description (record
index, TFDS files, metadata, SCHEMA.md, croissant.json, dataset card), and
`output.commit` moves the staging folder into place.
"""

from __future__ import annotations

import collections
import json

from apache_beam.io.filesystems import FileSystems

from beam_jobs import describe
from beam_jobs import output as out
from beam_jobs import staging as stg
from pipeline import accounting, usable_inputs
import tfrecords_schema as schema
from tfrecords_schema import integrity


class UnaccountedViewsError(RuntimeError):
  """Planned views are neither in the shards nor in the dead letters."""


class NothingToPublishError(RuntimeError):
  """The run wrote no stylized view (pipeline.usable_inputs: the rule)."""


def gather(staging: str) -> tuple[dict[str, dict], list[dict]]:
  """(done markers by shard key, every dead letter: style step's and shards')."""
  markers = stg.finished_shards(staging)
  dead = []
  for path in out.match(stg.style_result_path(staging, "*", "dead.json")):
    dead.append(json.loads(out.read_text(path))["dead_letter"])
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
  ids = {p["content_id"] for p in problems}
  bad = {shard_of_content[cid] for cid in ids if cid in shard_of_content}  # written
  bad |= {stg.shard_key(c.split, c.shard) for c in prep.contents  # planned
          if c.content_id in ids}
  stale = [stg.done_path(prep.staging, k) for k in sorted(bad)]
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


def fill_shard_sums(staging: str, markers: dict) -> None:
  """Shards hash themselves as they are written; one resumed from a done marker of an
  older version of the job has no sum yet, so it is read once here."""
  for m in markers.values():
    if not m["stats"].get("sha256"):
      m["stats"]["sha256"] = integrity.file_sha256(FileSystems.join(staging, m["file"]))


def check_index_fragments(prep, markers: dict) -> None:
  """Every finished shard has its rows of the record index (written before its done
  marker, so a missing one means the folder was tampered with)."""
  for key, m in sorted(markers.items(), key=lambda kv: kv[1]["file"]):
    if not FileSystems.exists(stg.index_path(prep.staging, key)):
      FileSystems.delete([stg.done_path(prep.staging, key)])
      raise UnaccountedViewsError(f"shard {m['file']} has no index fragment; rerun the "
                                  "same command to render it again")


def write_dead_letters(staging: str, dead: list[dict]) -> tuple[str, list[str]]:
  """dead_letter.jsonl, sorted; (its path, its lines). Written while checking, not
  describing: a run refused for having nothing to publish leaves it for the user."""
  lines = sorted(json.dumps(d, sort_keys=True, ensure_ascii=False) for d in dead)
  path = f"{staging}/{schema.DEAD_LETTER_FILENAME}"
  out.write_text(path, "".join(line + "\n" for line in lines))
  return path, lines


def publish(prep, counters: dict, argv: list[str], before_commit=None,
            timings: dict | None = None) -> dict:
  """Checks, describes, commits; returns the run's summary. `before_commit()` runs
  just before the output moves (the lock's heartbeat stops)."""
  # Check: every planned view is written or dead-lettered, and something useful was.
  markers, dead = gather(prep.staging)
  check_every_view_accounted(prep, markers, dead)
  fill_shard_sums(prep.staging, markers)
  stats = [m["stats"] for _, m in sorted(markers.items())]
  dead_file, dead_lines = write_dead_letters(prep.staging, dead)
  why = usable_inputs.nothing_useful(prep.contents, prep.styles, dead, stats, dead_file)
  if why:  # the dead letters stay in staging for the user to read
    stg.forget_plan(prep.staging)
    raise NothingToPublishError(why)
  check_index_fragments(prep, markers)
  # Describe: every file by which the folder explains itself.
  metadata = describe.write_all(prep, markers, stats, dead, dead_lines, counters, argv,
                                timings)
  # Commit: the staging folder becomes the output, in one step where it can.
  if before_commit:
    before_commit()
  out.commit(prep.staging, prep.args.output, overwrite=prep.args.overwrite,
             keep_out=stg.WORK)  # lock, manifests, markers: not for readers
  return {"splits": metadata["splits"], "dead_letters": len(dead), "counters": counters}
