"""Finish: gather what the shard tasks wrote, check it all adds up, publish.

The shards' done markers (stats and dead letters, from this run and any earlier one
resumed), their index fragments and the style step's results are the whole record of
the run. Before anything is published, every planned view must be written or
dead-lettered; then the folder's self-description (record index, metadata, TFDS files,
SCHEMA.md, croissant.json, dataset card) is written and the staging folder is moved
into place in one step.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import tempfile
import time

from apache_beam.io.filesystems import FileSystems

from beam_jobs import card
from beam_jobs import output as out
from beam_jobs import staging as stg
from pipeline import accounting, provenance, usable_inputs
import tfrecords_schema as schema
from tfrecords_schema import croissant, index as record_index, integrity, schema_doc


class UnaccountedViewsError(RuntimeError):
  """Planned views are neither in the shards nor in the dead letters."""


class NothingToPublishError(RuntimeError):
  """The run wrote no stylized view (pipeline.usable_inputs: the rule)."""


def vocabularies(prep) -> dict:
  """Content labels, styles, style names and artists, each with a stable dense index
  (position in a sorted list), so a classifier's outputs map back to names."""
  styles = sorted(prep.styles, key=lambda s: s.style_id)
  return {
      "content_labels": prep.label_vocabulary,
      "styles": [{"index": i, "style_id": s.style_id, "path": s.rel_path,
                  "name": s.name, "artist": s.artist, "genre": s.genre,
                  "title": s.title, "credit": s.credit, "license": s.license,
                  "source_url": s.source_url, "source_id": s.source_id}
                 for i, s in enumerate(styles)],
      "style_names": sorted({s.name for s in styles if s.name}),
      "artists": sorted({s.artist for s in styles if s.artist}),
  }


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


def write_index(prep, markers: dict) -> dict:
  """index.parquet from the shards' fragments, in shard-file order; its summary."""
  fragments = []
  for key, m in sorted(markers.items(), key=lambda kv: kv[1]["file"]):
    path = stg.index_path(prep.staging, key)
    if not FileSystems.exists(path):  # written before the marker: only if tampered with
      FileSystems.delete([stg.done_path(prep.staging, key)])
      raise UnaccountedViewsError(f"shard {m['file']} has no index fragment; rerun the "
                                  "same command to render it again")
    fragments.append(path)
  groups = ([json.loads(line) for line in out.read_text(p).splitlines() if line]
            for p in fragments)  # one shard's rows at a time
  digest = hashlib.sha256()
  with tempfile.TemporaryDirectory() as tmp:  # Parquet wants a seekable local file
    local = os.path.join(tmp, record_index.INDEX_FILENAME)
    with open(local, "wb") as f:
      rows = record_index.write_index(groups, f)
    with open(local, "rb") as src, FileSystems.create(FileSystems.join(
        prep.staging, record_index.INDEX_FILENAME)) as dst:
      for chunk in iter(lambda: src.read(1 << 20), b""):
        digest.update(chunk)
        dst.write(chunk)
  return {"file": record_index.INDEX_FILENAME, "rows": rows,
          "sha256": digest.hexdigest()}


def describe_sources(prep, stats: list[dict], dead: list[dict]) -> dict:
  """The metadata's sources, licences, citation and held-out styles."""
  a = prep.args
  content = provenance.content_source(a.content, a.coco_annotations)
  styles = provenance.style_source(a.styles, a.styles_layout, prep.styles)
  content["licenses"] = provenance.content_licenses(stats)
  styles["licenses"] = provenance.style_licenses(prep.styles, stats)
  ok = accounting.usable_style_ids(prep.styles, dead)
  return {
      "sources": {"content": content, "styles": styles},
      "held_out_styles": provenance.held_out_styles(prep.styles, ok, a.seed,
                                                    a.holdout_style_fraction),
      "citation": provenance.citation(content, styles, prep.stylizer.name),
      "license_notes": provenance.licence_notes(content["licenses"], styles["licenses"]),
      "redistribution": provenance.redistribution_text(content["licenses"],
                                                       styles["licenses"]),
  }


def publish(prep, counters: dict, argv: list[str], before_commit=None,
            timings: dict | None = None) -> dict:
  """Checks, writes the self-description and card, commits. Returns the run's summary.
  `before_commit()` runs just before the output moves (the lock's heartbeat stops)."""
  a = prep.args
  markers, dead = gather(prep.staging)
  check_every_view_accounted(prep, markers, dead)
  fill_shard_sums(prep.staging, markers)
  stats = [m["stats"] for _, m in sorted(markers.items())]
  dead_lines = sorted(json.dumps(d, sort_keys=True, ensure_ascii=False) for d in dead)
  dead_file = f"{prep.staging}/{schema.DEAD_LETTER_FILENAME}"
  out.write_text(dead_file, "".join(line + "\n" for line in dead_lines))
  why = usable_inputs.nothing_useful(prep.contents, prep.styles, dead, stats, dead_file)
  if why:  # the dead letters stay in staging for the user to read
    stg.forget_plan(prep.staging)
    raise NothingToPublishError(why)
  described = describe_sources(prep, stats, dead)
  src = described["sources"]
  description = (f"{src['content']['name'] or 'Photos'} from {src['content']['root']} "
                 f"rendered in {a.styles_per_content} styles from "
                 f"{src['styles']['root']} by {prep.stylizer.version} (record schema "
                 f"v{schema.SCHEMA_VERSION}: SCHEMA.md in this folder).")
  metadata = {
      "schema_version": schema.SCHEMA_VERSION, "dataset_name": a.dataset_name,
      "description": description,
      "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
      "created_by": "beam_jobs.stylize", "command": " ".join(argv),
      "inputs": {"content": a.content, "styles": a.styles,
                 "contents_listed": len(prep.contents), "styles_listed": len(prep.styles)},
      "stylizer": {"spec": a.stylizer, "name": prep.stylizer.name,
                   "version": prep.stylizer.version, **prep.stylizer.identity()},
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
      "dead_letters": len(dead), "counters": counters, "timings": timings or {},
      "vocabularies": vocabularies(prep), "index": write_index(prep, markers),
      **described,
  }
  metadata = out.finalize(prep.staging, name=a.dataset_name,
                          image_format=a.image_format, shards=prep.shards,
                          shard_stats=stats, description=description, metadata=metadata)
  schema_md = schema_doc.schema_markdown(metadata)
  out.write_text(FileSystems.join(prep.staging, croissant.SCHEMA_FILENAME), schema_md)
  doc = croissant.croissant_json(
      metadata, index_sha256=metadata["index"]["sha256"],
      schema_sha256=hashlib.sha256(schema_md.encode("utf-8")).hexdigest())
  out.write_text(FileSystems.join(prep.staging, croissant.CROISSANT_FILENAME),
                 json.dumps(doc, indent=2, ensure_ascii=False))
  card.write_card(prep.staging, metadata, stats, dead_lines)
  if before_commit:
    before_commit()
  out.commit(prep.staging, a.output, overwrite=a.overwrite,
             keep_out=stg.WORK)  # lock, manifests, markers: not for readers
  return {"splits": metadata["splits"], "dead_letters": len(dead), "counters": counters}
