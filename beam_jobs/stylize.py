"""Dataset job: content images x style images -> stylized, versioned, sharded TFRecords.

Local (both cores, downloads nothing; ~1 min for 16 contents x K=2 with `classical`):

  python -m beam_jobs.stylize --content=photos/ --styles=paintings/ \\
      --stylizer=tflite:../shared/models/magenta_v1_256_tflite \\
      --styles_per_content=4 --output=out/stylized --seed=0

Dataflow (any flag this parser does not know goes to Beam's PipelineOptions):

  python -m beam_jobs.stylize --content=gs://b/coco/train2017 --styles=gs://b/wikiart \\
      --stylizer=hub --styles_per_content=4 --output=gs://b/stylized \\
      --runner=DataflowRunner --project=P --region=R --temp_location=gs://b/tmp \\
      --setup_file=./setup.py

Output (readable with `tfds.builder_from_directory(OUTPUT)`): per split
`NAME-SPLIT.tfrecord-XXXXX-of-YYYYY`, `dataset_info.json`, `features.json`,
`stylized_metadata.json`, and `dead_letter.jsonl` (one line per input that failed, with
its reason). Record fields: tfrecords_schema/README.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import math
import os
import sys
import time
import uuid

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # workers inherit it; keeps logs legible

import apache_beam as beam  # pylint: disable=g-import-not-at-top
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs import card
from beam_jobs import output as out
from beam_jobs import transforms as T
from pipeline import accounting, coco, image_io, plan, sources, tfds_coco, wikiart
from pipeline.stylizers import SPEC_HELP, StylizerConfigError, from_spec
import tfrecords_schema as schema

WORK = "_work"


def build_parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="python -m beam_jobs.stylize", description=__doc__.split("\n")[0],
      epilog="Unknown flags are passed to Beam's PipelineOptions (e.g. --runner).")
  p.add_argument("--content", required=True,
                 help="content images: a folder (all files below it) or a glob; "
                      "local or gs://")
  p.add_argument("--styles", required=True,
                 help="style images: a folder, a glob, or a CSV manifest (*.csv) with a "
                      "path column and any of artist, style, genre, title")
  src = p.add_argument_group("sources")
  src.add_argument("--tfds_data_dir", default=None,
                   help="data_dir of a prepared TFDS dataset, for --content=tfds:NAME:SPLIT "
                        "(e.g. tfds:coco/2017:train)")
  src.add_argument("--coco_annotations", default="",
                   help="COCO instances_*.json: label the contents from it (the COCO "
                        "image id becomes the content id)")
  src.add_argument("--content_labels_from_dirs", action="store_true",
                   help="label each content by its first folder under --content "
                        "(one folder per class)")
  src.add_argument("--styles_layout", default="folder", choices=["folder", "wikiart"],
                   help="wikiart: style and artist from <Style>/<artist>_<title>.jpg")
  src.add_argument("--manifest_style_column", default="style",
                   help="manifest column holding the style/movement name (default style)")
  src.add_argument("--style_filter", default="",
                   help="comma-separated style names to keep, e.g. Impressionism")
  src.add_argument("--artist_filter", default="",
                   help="comma-separated artists to keep")
  src.add_argument("--max_styles_per_artist", type=int, default=0,
                   help="at most N styles per artist (seeded choice; 0: no cap)")
  src.add_argument("--max_styles", type=int, default=0,
                   help="at most N styles in all (seeded choice; 0: all)")
  p.add_argument("--output", required=True, help="output folder for the dataset")
  p.add_argument("--stylizer", default="classical", help=f"{SPEC_HELP} (default: "
                 "classical, which needs no model files)")
  p.add_argument("--styles_per_content", type=int, default=4, metavar="K",
                 help="distinct styles rendered per content (default 4)")
  p.add_argument("--include_original", action="store_true",
                 help="also write each content's unstylized view (view_index 0)")
  p.add_argument("--seed", type=int, default=0, help="seed of the plan (splits, styles)")
  p.add_argument("--split_fractions", default="0.8,0.1,0.1",
                 help="train,val,test shares of the contents (default 0.8,0.1,0.1)")
  p.add_argument("--holdout_style_fraction", type=float, default=0.0,
                 help="share of styles used only in val/test (default 0: none)")
  p.add_argument("--style_strength", type=float, default=1.0,
                 help="blend strength in [0,1] (default 1: full style)")
  p.add_argument("--image_size", type=int, default=256,
                 help="output images are SIZE x SIZE (default 256)")
  p.add_argument("--resize_policy", default="center_crop",
                 choices=["center_crop", "pad", "stretch"],
                 help="how contents are made square (default center_crop)")
  p.add_argument("--image_format", default="jpeg", choices=["jpeg", "png"])
  p.add_argument("--jpeg_quality", type=int, default=95)
  p.add_argument("--records_per_shard", type=int, default=1000,
                 help="target records per shard (default 1000)")
  p.add_argument("--num_shards", type=int, default=0,
                 help="shards per split; overrides --records_per_shard when > 0")
  p.add_argument("--batch_size", type=int, default=8,
                 help="max contents per stylizer call (default 8)")
  p.add_argument("--max_pixels", type=int, default=image_io.DEFAULT_MAX_PIXELS,
                 help="refuse images with more pixels (decompression bombs)")
  p.add_argument("--max_contents", type=int, default=0,
                 help="use only the first N contents by id (0: all)")
  p.add_argument("--dataset_name", default="stylized",
                 help="file name prefix of the shards (default stylized)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace an existing dataset at --output (only on success)")
  return p


def _fail(message: str) -> SystemExit:
  return SystemExit(f"error: {message}")


def _validate_args(args) -> tuple[float, float, float]:
  checks = [
      (args.styles_per_content >= 1, "--styles_per_content must be >= 1"),
      (0.0 <= args.style_strength <= 1.0, "--style_strength must be in [0, 1]"),
      (args.image_size >= 16, "--image_size must be >= 16"),
      (1 <= args.jpeg_quality <= 100, "--jpeg_quality must be in [1, 100]"),
      (args.records_per_shard >= 1, "--records_per_shard must be >= 1"),
      (args.num_shards >= 0, "--num_shards must be >= 0"),
      (args.batch_size >= 1, "--batch_size must be >= 1"),
      (args.max_contents >= 0, "--max_contents must be >= 0"),
      (args.max_styles >= 0 and args.max_styles_per_artist >= 0,
       "--max_styles and --max_styles_per_artist must be >= 0"),
      (0.0 <= args.holdout_style_fraction < 1.0,
       "--holdout_style_fraction must be in [0, 1)"),
      ("/" not in args.dataset_name and "-" not in args.dataset_name,
       "--dataset_name may not contain '/' or '-' (TFDS file naming)"),
  ]
  for ok, message in checks:
    if not ok:
      raise _fail(message)
  try:
    return plan.parse_fractions(args.split_fractions)
  except ValueError as e:
    raise _fail(str(e))


def _pipeline_options(beam_args: list[str]) -> PipelineOptions:
  """The local default: the in-process FnApiRunner on every core (no Prism download)."""
  if not any(a.startswith("--runner") for a in beam_args):
    beam_args = list(beam_args)
    if not any(a.startswith("--direct_running_mode") for a in beam_args):
      beam_args.append("--direct_running_mode=multi_processing")
    if not any(a.startswith("--direct_num_workers") for a in beam_args):
      beam_args.append(f"--direct_num_workers={os.cpu_count() or 1}")
  return PipelineOptions(beam_args)


@contextlib.contextmanager
def _cores_shared_between_workers(options: PipelineOptions):
  """Local multi-process runs: give each worker's interpreters cores // workers threads.

  W worker processes that each run LiteRT on every core oversubscribe the CPU; measured
  on 2 cores, one thread per worker lifted the job from 0.73-0.77 to 0.79-0.83 of the
  bare model. Worker processes inherit the launcher's environment, so the setting
  travels as $STYLIZE_TFLITE_THREADS for the duration of the run. An explicit value
  (the variable, or `tflite:<dir>?threads=N`) wins; remote runners are left alone.
  """
  from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
  from pipeline.stylizers.tflite import THREADS_ENV
  direct = options.view_as(DirectOptions)
  local_multi = (not options.view_as(StandardOptions).runner
                 and direct.direct_running_mode == "multi_processing")
  if not local_multi or THREADS_ENV in os.environ:
    yield
    return
  workers = max(1, direct.direct_num_workers or 1)
  os.environ[THREADS_ENV] = str(max(1, (os.cpu_count() or 1) // workers))
  try:
    yield
  finally:
    os.environ.pop(THREADS_ENV, None)


def _no_timed_flushes_in_local_runner() -> None:
  """Works around a race in Beam's local runner that silently drops input chunks.

  The FnApiRunner's data channels to its workers flush every 1000 ms from a timer
  thread: flush() sends get() and then _clear()s the buffer while write() takes no
  lock, so a ~10 MB chunk of a bundle's input written in between is lost (runner-side
  `TimeBasedBufferingClosableOutputStream`, Beam 2.77). Here it cost the demo 170 views
  in one of ~10 runs, with no error. With 0 the channels flush on size and on close
  only; the data sent is the same. (The launcher's accounting check still guards.)
  """
  try:
    from apache_beam.runners.portability.fn_api_runner import worker_handlers
  except ImportError:
    return
  if hasattr(worker_handlers, "DATA_BUFFER_TIME_LIMIT_MS"):
    worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0


def _default_runner(options: PipelineOptions):
  from apache_beam.options.pipeline_options import StandardOptions
  _no_timed_flushes_in_local_runner()  # also for an explicit local --runner
  if options.view_as(StandardOptions).runner:
    return None
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  return FnApiRunner()


class Prepared:
  """Everything decided at launch, before the pipeline runs."""

  def __init__(self, args, fractions):
    self.args, self.fractions = args, fractions
    self.run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    self.staging = out.staging_dir(args.output, self.run_id)
    self.stylizer = from_spec(args.stylizer)
    self.contents: list[dict] = []
    self.styles: list[dict] = []
    self.shards: dict[str, dict] = {}
    self.label_vocabulary: list[dict] = []


def list_contents(args) -> tuple[list[sources.ContentItem], list[dict]]:
  """The content source the flags name, and its label vocabulary."""
  if args.content.startswith("tfds:"):
    name, _, split = args.content[len("tfds:"):].rpartition(":")
    if not name or not split:
      raise sources.SourceError(f"--content={args.content!r}: expected tfds:NAME:SPLIT, "
                                "e.g. tfds:coco/2017:train")
    found = tfds_coco.tfds_coco_contents(name, split, args.tfds_data_dir)
    args.tfds_files = found.files
    return found.items, found.vocabulary
  if args.coco_annotations:
    items, labels = coco.coco_contents(args.content, args.coco_annotations)
    return items, labels.vocabulary()
  items = sources.folder_contents(args.content, args.content_labels_from_dirs)
  return items, sources.label_vocabulary(items)


def _csv_list(text: str) -> list[str]:
  return [x.strip() for x in text.split(",") if x.strip()]


def list_styles(args) -> list[sources.StyleItem]:
  """The style source the flags name, filtered."""
  if args.styles.lower().endswith(".csv"):
    items = wikiart.manifest_styles(args.styles, wikiart.ManifestColumns(
        style=args.manifest_style_column))
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


def prepare(args, fractions) -> Prepared:
  """Fail-fast checks and the launch-time plan. Raises SystemExit with one message."""
  try:
    prep = Prepared(args, fractions)
    prep.stylizer.validate()
    out.check_output(args.output, args.overwrite)
    contents, prep.label_vocabulary = list_contents(args)
    styles = list_styles(args)
  except (StylizerConfigError, sources.SourceError, out.OutputError) as e:
    raise _fail(str(e))
  try:
    prep.stylizer.load()  # a corrupt model fails here, not on every worker
  except StylizerConfigError as e:
    raise _fail(str(e))
  if args.max_contents:
    contents = sorted(contents, key=lambda c: c.content_id)[:args.max_contents]
  by_id = {c.content_id: c for c in contents}
  planned = plan.plan_contents(by_id, args.seed, fractions)
  split_sizes: dict[str, int] = {}
  for pc in planned:
    split_sizes[pc.split] = split_sizes.get(pc.split, 0) + 1
    c = by_id[pc.content_id]
    prep.contents.append({
        "content_id": c.content_id, "uri": c.uri, "rel_path": c.rel_path,
        "label_ids": list(c.label_ids), "label_names": list(c.label_names),
        "primary_label_id": c.primary_label_id, "primary_label": c.primary_label,
        "supercategory": c.supercategory, "split": pc.split,
        "index_in_split": pc.index_in_split, "embedded": bool(args.tfds_files)})
  prep.styles = [{"style_id": s.style_id, "uri": s.uri, "rel_path": s.rel_path,
                  "name": s.name, "artist": s.artist, "genre": s.genre,
                  "title": s.title} for s in styles]
  views = args.styles_per_content + (1 if args.include_original else 0)
  for split, n in split_sizes.items():
    num = args.num_shards or math.ceil(n * views / args.records_per_shard)
    prep.shards[split] = {"contents": n, "num_shards": max(1, min(num, n))}
  if len(styles) < args.styles_per_content:
    logging.warning("only %d style images for --styles_per_content=%d: each content "
                    "gets %d styles", len(styles), args.styles_per_content, len(styles))
  return prep


def build_pipeline(p: beam.Pipeline, prep: Prepared) -> None:
  """The graph. Inputs are the manifests written at launch."""
  a = prep.args
  work = f"{prep.staging}/{WORK}"
  spec, stylizer = a.stylizer, prep.stylizer

  styles = (p | "ReadStyleManifest" >> beam.io.ReadFromText(f"{work}/styles.jsonl")
            | "ParseStyles" >> beam.Map(json.loads)
            | "SpreadStyles" >> beam.Reshuffle())
  style_states = styles | "StyleStep" >> beam.ParDo(
      T.StyleStepFn(spec, a.max_pixels)).with_outputs(T.DEAD, main="ok")

  pools = (style_states.ok
           | "StyleIds" >> beam.Keys()
           | "CollectStyleIds" >> beam.combiners.ToList()
           | "StylePools" >> beam.Map(plan.style_pools, a.seed, a.holdout_style_fraction))

  contents = (p | "ReadContentManifest" >> beam.io.ReadFromText(f"{work}/contents.jsonl")
              | "ParseContents" >> beam.Map(json.loads))
  views = contents | "PlanViews" >> beam.FlatMap(
      T.plan_views, beam.pvalue.AsSingleton(pools), a.styles_per_content,
      a.include_original)
  styled_views = ({"style": style_states.ok, "views": views}
                  | "JoinStyleStates" >> beam.CoGroupByKey()
                  | "AttachStyleStates" >> beam.FlatMap(T.attach_style_state))
  keyed_contents = contents | "KeyContents" >> beam.Map(lambda c: (c["content_id"], c))
  joined = {"content": keyed_contents, "views": styled_views}
  if a.tfds_files:  # images live inside the TFDS shards: read them once, join by id
    joined["bytes"] = (p | "TfdsShardFiles" >> beam.Create(sorted(a.tfds_files))
                       | "ReadTfdsShards" >> beam.io.ReadAllFromTFRecord()
                       | "ImagesFromTfdsRecords" >> beam.Map(tfds_coco.image_from_record))
  decoded = (joined
             | "JoinViewsToContents" >> beam.CoGroupByKey()
             | "SpreadContents" >> beam.Reshuffle()
             | "DecodeContents" >> beam.ParDo(T.DecodeContentFn(
                 a.image_size, a.resize_policy, a.max_pixels, a.include_original,
                 a.style_strength)).with_outputs(T.DEAD, T.ORIGINAL, main="views"))

  inference = (decoded.views
               | "SpreadViews" >> beam.Reshuffle()
               | "Stylize" >> RunInference(T.StylizerModelHandler(
                   spec, max_batch_size=a.batch_size)).with_exception_handling())
  stylized, dlq = inference[0], inference[1]

  records = ((stylized, decoded[T.ORIGINAL])
             | "AllViews" >> beam.Flatten()
             | "BuildRecords" >> beam.ParDo(T.BuildRecordFn(
                 stylizer.name, stylizer.version, a.image_format, a.jpeg_quality,
                 prep.shards)).with_outputs(T.DEAD, main="records"))
  (records.records
   | "GroupByShard" >> beam.GroupByKey()
   | "WriteShards" >> beam.ParDo(T.WriteShardFn(prep.staging, a.dataset_name,
                                                prep.shards))
   | "ShardStatsToJson" >> beam.Map(json.dumps, sort_keys=True)
   | "WriteShardStats" >> beam.io.WriteToText(f"{work}/shard_stats",
                                              file_name_suffix=".jsonl"))

  failed_batches = dlq.failed_inferences | "FailedBatches" >> beam.FlatMap(
      T.failed_batches_to_dead_letters)
  ((style_states[T.DEAD], decoded[T.DEAD], records[T.DEAD], failed_batches)
   | "AllDeadLetters" >> beam.Flatten()
   | "DeadLettersToJson" >> beam.Map(json.dumps, sort_keys=True, ensure_ascii=False)
   | "WriteDeadLetters" >> beam.io.WriteToText(f"{work}/dead_letter",
                                               file_name_suffix=".jsonl"))


def _counters(result) -> dict[str, int]:
  try:
    found = result.metrics().query(MetricsFilter().with_namespace(T.NAMESPACE))
  except Exception:  # some runners cannot report metrics
    return {}
  totals: dict[str, int] = {}
  for c in found["counters"]:
    value = c.committed if c.committed is not None else c.attempted
    totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + int(value or 0)
  return totals


def _write_manifests(prep: Prepared) -> None:
  work = f"{prep.staging}/{WORK}"
  for name, rows in (("contents", prep.contents), ("styles", prep.styles)):
    out.write_text(f"{work}/{name}.jsonl",
                   "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def vocabularies(prep: Prepared) -> dict:
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


class UnaccountedViewsError(RuntimeError):
  """Planned views are neither in the shards nor in the dead letters."""


def _check_every_view_accounted(prep: Prepared, stats: list[dict],
                                dead: list[str]) -> None:
  a = prep.args
  written: collections.Counter = collections.Counter()
  for s in stats:
    written.update({int(k): v for k, v in s.get("views_per_content", {}).items()})
  problems = accounting.unaccounted_views(
      prep.contents, prep.styles, [json.loads(line) for line in dead], written,
      seed=a.seed, holdout_fraction=a.holdout_style_fraction, k=a.styles_per_content,
      include_original=a.include_original)
  if problems:
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
        "output is not kept")


def _finish(prep: Prepared, result, argv: list[str]) -> dict:
  a = prep.args
  work = f"{prep.staging}/{WORK}"
  stats = [json.loads(line) for line in out.read_lines(f"{work}/shard_stats*")]
  dead = sorted(out.read_lines(f"{work}/dead_letter*"))
  _check_every_view_accounted(prep, stats, dead)
  out.write_text(f"{prep.staging}/{schema.DEAD_LETTER_FILENAME}",
                 "".join(line + "\n" for line in dead))
  counters = _counters(result)
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
  card.write_card(prep.staging, metadata, stats, dead)
  out.delete_tree(work)
  out.commit(prep.staging, a.output)
  return {"splits": metadata["splits"], "dead_letters": len(dead), "counters": counters}


def run(argv=None, test_pipeline=None):
  """Runs the job; returns the Beam PipelineResult (with `.summary` attached)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  args, beam_args = build_parser().parse_known_args(argv)
  args.tfds_files = []
  fractions = _validate_args(args)
  options = _pipeline_options(beam_args)
  prep = prepare(args, fractions)
  logging.info("plan: %d contents, %d styles, K=%d, shards %s -> %s", len(prep.contents),
               len(prep.styles), args.styles_per_content,
               {s: v["num_shards"] for s, v in prep.shards.items()}, args.output)
  try:
    _write_manifests(prep)
    p = test_pipeline or beam.Pipeline(runner=_default_runner(options), options=options)
    build_pipeline(p, prep)
    with _cores_shared_between_workers(options):
      result = p.run()
      result.wait_until_finish()
    summary = _finish(prep, result, argv)
  except BaseException as e:
    out.delete_tree(prep.staging)  # no partial output, ever
    logging.error("the job failed (%s: %s); nothing was written to %s and its staging "
                  "folder was removed; rerun the same command to rebuild it whole",
                  type(e).__name__, str(e).splitlines()[0] if str(e) else "", args.output)
    raise
  result.summary = summary
  c, splits = summary["counters"], summary["splits"]
  per_split = ", ".join(f"{k}: {v['records']}" for k, v in splits.items())
  print(f"wrote {sum(v['records'] for v in splits.values())} records ({per_split}) to "
        f"{args.output}; {summary['dead_letters']} inputs dead-lettered (see "
        f"{schema.DEAD_LETTER_FILENAME}); contents read {c.get('contents_read', 0)}, "
        f"style steps {c.get('style_step_calls', 0)}", flush=True)
  return result


def main():
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
  for noisy in ("apache_beam", "absl", "tensorflow"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  run()


if __name__ == "__main__":
  main()
