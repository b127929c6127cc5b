"""Launch: list the inputs, check the model, plan every content into a shard.

Everything here runs in the launching process before any worker starts, so a missing
folder, a bad model path or an unusable output fails fast, and the whole plan (which
content lands in which split and shard) is fixed and written down as manifests that
the workers read: one file per shard, so a worker reads just its own contents.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import math
import os

from beam_jobs import output as out
from beam_jobs import staging as stg
from pipeline import coco, manifest, plan, records, render, sources, tfds_coco
from pipeline import usable_inputs, wikiart
from pipeline.stylizers import StylizerConfigError, from_spec
import tfrecords_schema as schema

from beam_jobs.flags import UsageError

#: Flags that do not change what the job writes (left out of the plan's fingerprint).
NOT_IN_PLAN = {"overwrite", "verbose", "output"}


class Prepared:
  """Everything decided at launch, before the pipeline runs."""

  def __init__(self, args, fractions):
    self.args, self.fractions = args, fractions
    self.staging = stg.staging_dir(args.output)
    self.stylizer = from_spec(args.stylizer)
    self.contents: list[manifest.ContentEntry] = []
    self.styles: list[sources.StyleItem] = []
    self.shards: dict[str, dict] = {}
    self.label_vocabulary: list[dict] = []
    self.tasks: list[dict] = []

  @property
  def render_config(self) -> render.RenderConfig:
    a = self.args
    return render.RenderConfig(
        image_size=a.image_size, resize_policy=a.resize_policy, max_pixels=a.max_pixels,
        styles_per_content=a.styles_per_content, include_original=a.include_original,
        strength=a.style_strength, batch_size=a.batch_size)

  @property
  def record_format(self) -> records.RecordFormat:
    return records.RecordFormat(self.args.image_format, self.args.jpeg_quality,
                                self.stylizer.name, self.stylizer.version)

  @property
  def views_per_content(self) -> int:
    return (min(self.args.styles_per_content, len(self.styles))
            + int(self.args.include_original))

  @property
  def planned_views(self) -> int:
    """Views of the plan if every style works (the display's total; the final check
    recomputes it exactly from the styles that did)."""
    return len(self.contents) * self.views_per_content


def list_contents(args) -> tuple[list[sources.ContentItem], list[dict], dict]:
  """The content source the flags name, its label vocabulary, and where a source keeps
  its images inside its own records ({content_id: {"file", "offset"}}; TFDS only)."""
  if args.content.startswith("tfds:"):
    name, _, split = args.content[len("tfds:"):].rpartition(":")
    if not name or not split:
      raise sources.SourceError(f"--content={args.content!r}: expected tfds:NAME:SPLIT, "
                                "e.g. tfds:coco/2017:train")
    found = tfds_coco.tfds_coco_contents(name, split, args.tfds_data_dir)
    return found.items, found.vocabulary, found.locations
  if args.coco_annotations:
    items, labels = coco.coco_contents(args.content, args.coco_annotations)
    return items, labels.vocabulary(), {}
  items = sources.folder_contents(args.content, args.content_labels_from_dirs)
  return items, sources.label_vocabulary(items), {}


def _csv_list(text: str) -> list[str]:
  return [x.strip() for x in text.split(",") if x.strip()]


def list_styles(args) -> list[sources.StyleItem]:
  """The style source the flags name, filtered."""
  if args.styles.lower().endswith(".csv"):
    items = wikiart.manifest_styles(args.styles, wikiart.ManifestColumns(
        style=args.manifest_style_column, url=args.manifest_url_column,
        source_id=args.manifest_source_id_column))
  elif args.styles_layout == "wikiart":
    items = wikiart.wikiart_folder_styles(args.styles)
  else:
    items = sources.folder_styles(args.styles)
  kept = wikiart.filter_styles(
      items, styles=_csv_list(args.style_filter), artists=_csv_list(args.artist_filter),
      max_per_artist=args.max_styles_per_artist, max_total=args.max_styles,
      seed=args.seed)
  if not kept:
    raise sources.SourceError(f"no style image at {args.styles!r} passes the filters "
                              f"({len(items)} listed)")
  return kept


def probe_inputs(args, contents, styles) -> None:
  """A folder of non-images (text files, empty files...) stops the job here: see
  pipeline.usable_inputs. Contents inside TFDS records are read by the workers only."""
  usable_inputs.probe(styles, "style", args.styles, max_pixels=args.max_pixels,
                      seed=args.seed)
  if not args.content.startswith("tfds:"):
    usable_inputs.probe(contents, "content", args.content, max_pixels=args.max_pixels,
                        seed=args.seed)


def prepare(args, fractions) -> Prepared:
  """Fail-fast checks and the launch-time plan. Raises UsageError with one message."""
  try:
    prep = Prepared(args, fractions)
    prep.stylizer.validate()
    out.check_output(args.output, args.overwrite)
    contents, prep.label_vocabulary, located = list_contents(args)
    styles = list_styles(args)
    if args.max_contents:
      contents = sorted(contents, key=lambda c: c.content_id)[:args.max_contents]
    probe_inputs(args, contents, styles)
  except (StylizerConfigError, sources.SourceError, out.OutputError) as e:
    raise UsageError(str(e)) from e
  try:
    prep.stylizer.load()  # a corrupt model fails here, not on every worker
  except StylizerConfigError as e:
    raise UsageError(str(e)) from e
  prep.styles = styles
  if len(styles) < args.styles_per_content:
    logging.warning("only %d style images for --styles_per_content=%d: each content "
                    "gets %d styles", len(styles), args.styles_per_content, len(styles))
  _plan_shards(prep, contents, located)
  return prep


def _plan_shards(prep: Prepared, contents: list[sources.ContentItem],
                 located: dict) -> None:
  """Each content's split and shard (contiguous blocks of a split's contents, in id
  order) as its manifest entry, and one task per shard."""
  a = prep.args
  by_id = {c.content_id: c for c in contents}
  planned = plan.plan_contents(by_id, a.seed, prep.fractions)
  sizes = collections.Counter(pc.split for pc in planned)
  for split, n in sizes.items():
    num = a.num_shards or math.ceil(n * prep.views_per_content / a.records_per_shard)
    prep.shards[split] = {"contents": n, "num_shards": max(1, min(num, n))}
  counts: dict[tuple[str, int], int] = collections.Counter()
  for pc in planned:
    info = prep.shards[pc.split]
    shard = plan.shard_of(pc.index_in_split, info["contents"], info["num_shards"])
    prep.contents.append(manifest.ContentEntry.planned(
        by_id[pc.content_id], split=pc.split, index_in_split=pc.index_in_split,
        shard=shard, source_record=located.get(pc.content_id)))
    counts[pc.split, shard] += 1
  tasks = [{"split": split, "shard": shard, "num_shards": prep.shards[split]["num_shards"],
            "contents": n, "views": n * prep.views_per_content,
            "manifest": stg.manifest_path(prep.staging, stg.shard_key(split, shard))}
           for (split, shard), n in sorted(counts.items())]
  tasks.sort(key=lambda t: (-t["views"], t["split"], t["shard"]))
  prep.tasks = [dict(t, position=i) for i, t in enumerate(tasks)]


def code_digest() -> str:
  """sha256 of this job's own source (the packages that write records): a resumed run
  must not mix shards written by two versions of the code."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  digest = hashlib.sha256()
  for package in ("beam_jobs", "pipeline", "tfrecords_schema"):
    for folder, dirs, files in sorted(os.walk(os.path.join(root, package))):
      dirs.sort()
      for name in sorted(f for f in files if f.endswith(".py")):
        path = os.path.join(folder, name)
        digest.update(os.path.relpath(path, root).encode() + b"\0")
        with open(path, "rb") as f:
          digest.update(f.read())
  return digest.hexdigest()


def plan_summary(prep: Prepared) -> dict:
  """What the output depends on, for the staging folder's fingerprint."""
  a = prep.args
  digest = lambda rows: hashlib.sha256(  # noqa: E731
      "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()).hexdigest()
  listed = [c.listed_json() for c in prep.contents]  # the plan follows from the flags
  return {"flags": {k: v for k, v in sorted(vars(a).items()) if k not in NOT_IN_PLAN},
          "contents": digest(listed),
          "styles": digest(manifest.style_to_json(s) for s in prep.styles),
          "stylizer_version": prep.stylizer.version,
          "schema_version": schema.SCHEMA_VERSION, "code": code_digest()}


def write_manifests(prep: Prepared, tasks: list[dict]) -> None:
  """The styles, and the contents of every shard still to do, one file each."""
  out.write_text(stg.manifest_path(prep.staging, "styles"),
                 manifest.to_lines(manifest.style_to_json(s) for s in prep.styles))
  todo = {(t["split"], t["shard"]): t["manifest"] for t in tasks}
  by_shard: dict[tuple[str, int], list[dict]] = {}
  for c in prep.contents:
    if (c.split, c.shard) in todo:
      by_shard.setdefault((c.split, c.shard), []).append(c.to_json())
  for key, rows in by_shard.items():
    out.write_text(todo[key], manifest.to_lines(rows))
