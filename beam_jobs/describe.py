"""Describe: every file by which a finished dataset folder explains itself.

Publishing (`finish.publish`) checks, describes, commits; this is the middle step. From
the launch plan, the shards' statistics and the dead letters, `write_all` writes, in
this order, into the staging folder (nothing is visible at --output before the commit):

  index.parquet                      one row per record, from the shards' fragments
  (empty shard files)                a planned shard whose every content failed
  dataset_info.json, features.json   TFDS's files (`tfds.builder_from_directory`)
  stylized_metadata.json             inputs, plan, sources, licences, vocabularies
  SCHEMA.md, croissant.json          the record contract, and its Croissant metadata
  DATASET_CARD.md, contact_sheet.png for a person (beam_jobs.card)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

from apache_beam.io.filesystems import FileSystems

from beam_jobs import card
from beam_jobs import output as out
from beam_jobs import staging as stg
from pipeline import accounting, provenance
import tfrecords_schema as schema
from tfrecords_schema import croissant, index as record_index, integrity, schema_doc


def write_all(prep, markers: dict, stats: list[dict], dead: list[dict],
              dead_lines: list[str], counters: dict, argv: list[str],
              timings: dict | None = None) -> dict:
  """Writes every self-description file; returns the metadata as written."""
  a = prep.args
  index = write_index(prep, markers)
  by_split = split_summary(prep.staging, a.dataset_name, prep.shards, stats)
  metadata = dataset_metadata(prep, stats, dead, counters, argv, timings, index)
  metadata["splits"] = {s: v for s, v in by_split.items() if v["records"] > 0}
  write_tfds_files(prep.staging, a.dataset_name, a.image_format, by_split, metadata)
  out.write_text(FileSystems.join(prep.staging, schema.METADATA_FILENAME),
                 json.dumps(metadata, indent=2, sort_keys=True))
  schema_md = schema_doc.schema_markdown(metadata)
  out.write_text(FileSystems.join(prep.staging, schema.SCHEMA_FILENAME), schema_md)
  doc = croissant.croissant_json(
      metadata, index_sha256=metadata["index"]["sha256"],
      schema_sha256=hashlib.sha256(schema_md.encode("utf-8")).hexdigest())
  out.write_text(FileSystems.join(prep.staging, schema.CROISSANT_FILENAME),
                 json.dumps(doc, indent=2, ensure_ascii=False))
  card.write_card(prep.staging, metadata, stats, dead_lines)
  return metadata


def write_index(prep, markers: dict) -> dict:
  """index.parquet from the shards' fragments, in shard-file order; its summary."""
  fragments = [stg.index_path(prep.staging, key)
               for key, _ in sorted(markers.items(), key=lambda kv: kv[1]["file"])]
  groups = ([json.loads(line) for line in out.read_text(p).splitlines() if line]
            for p in fragments)  # one shard's rows at a time
  digest = hashlib.sha256()
  with tempfile.TemporaryDirectory() as tmp:  # Parquet wants a seekable local file
    local = os.path.join(tmp, schema.INDEX_FILENAME)
    with open(local, "wb") as f:
      rows = record_index.write_index(groups, f)
    with open(local, "rb") as src, FileSystems.create(FileSystems.join(
        prep.staging, schema.INDEX_FILENAME)) as dst:
      for chunk in iter(lambda: src.read(1 << 20), b""):
        digest.update(chunk)
        dst.write(chunk)
  return {"file": schema.INDEX_FILENAME, "rows": rows,
          "sha256": digest.hexdigest()}


def split_summary(staging: str, name: str, shards: dict[str, dict],
                  shard_stats: list[dict]) -> dict[str, dict]:
  """Per planned split: records, contents, shards, bytes, and each shard's length and
  sha256. A shard whose every content failed must still exist: it is written empty."""
  by_split: dict[str, dict] = {}
  for split, info in shards.items():
    n = info["num_shards"]
    lengths, sizes, contents = [0] * n, [0] * n, 0
    sums = [integrity.EMPTY_SHA256] * n  # a shard left empty is an empty file
    for s in shard_stats:
      if s["split"] == split:
        lengths[s["shard"]], sizes[s["shard"]] = s["records"], s["bytes"]
        sums[s["shard"]] = s["sha256"]
        contents += s["contents"]
    for shard in range(n):
      path = FileSystems.join(staging, schema.shard_filename(name, split, shard, n))
      if lengths[shard] == 0 and not FileSystems.exists(path):
        out.write_text(path, "")
    by_split[split] = {"records": sum(lengths), "contents": contents, "shards": n,
                       "bytes": sum(sizes), "shard_lengths": lengths,
                       "shard_sha256": sums}
  return by_split


def write_tfds_files(staging: str, name: str, image_format: str,
                     by_split: dict[str, dict], metadata: dict) -> None:
  """dataset_info.json and features.json, with the metadata's description, citation
  and redistribution text. TFDS knows only non-empty splits: an empty split's shard
  files are removed."""
  files = schema.tfds_metadata_json(
      name=name, description=metadata["description"], image_format=image_format,
      splits={s: (v["shard_lengths"], v["bytes"]) for s, v in by_split.items()
              if v["records"] > 0},
      citation=metadata.get("citation", ""),
      redistribution=metadata.get("redistribution", ""))
  for split, v in by_split.items():
    if v["records"] == 0:
      for shard in range(v["shards"]):
        FileSystems.delete([FileSystems.join(
            staging, schema.shard_filename(name, split, shard, v["shards"]))])
  for filename, text in files.items():
    out.write_text(FileSystems.join(staging, filename), text)


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


def dataset_metadata(prep, stats: list[dict], dead: list[dict], counters: dict,
                     argv: list[str], timings: dict | None, index: dict) -> dict:
  """stylized_metadata.json's content, but for the per-split summary."""
  a = prep.args
  described = describe_sources(prep, stats, dead)
  src = described["sources"]
  description = (f"{src['content']['name'] or 'Photos'} from {src['content']['root']} "
                 f"rendered in {a.styles_per_content} styles from "
                 f"{src['styles']['root']} by {prep.stylizer.version} (record schema "
                 f"v{schema.SCHEMA_VERSION}: SCHEMA.md in this folder).")
  return {
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
      "vocabularies": vocabularies(prep), "index": index,
      **described,
  }
