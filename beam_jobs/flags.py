"""The stylize job's command line: its flags and their checks.

Every check here runs before any input is listed or any model loaded, so a wrong flag
fails at once with one message: a `UsageError`, which the entry point
(`stylize.run`) turns into `error: MESSAGE` and exit status 1. Library code raises it
instead of exiting, so a caller (a test, a notebook) can catch it like any error.
"""

from __future__ import annotations

import argparse

from pipeline import geometry, image_io, plan, wikiart
from pipeline.stylizers import SPEC_HELP


def build_parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="python -m beam_jobs.stylize",
      description="Dataset job: content images x style images -> stylized, versioned, "
                  "sharded TFRecords.",
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
  for column, what, names in (("url", "each image's public URL", wikiart.URL_COLUMNS),
                              ("source_id", "the work's id at its source",
                               wikiart.SOURCE_ID_COLUMNS)):
    src.add_argument(f"--manifest_{column}_column", default="", help=(
        f"manifest column with {what} (default: the first of {', '.join(names)})"))
  src.add_argument("--style_filter", default="",
                   help="comma-separated style names to keep, e.g. Impressionism")
  src.add_argument("--artist_filter", default="",
                   help="comma-separated artists to keep")
  src.add_argument("--max_styles_per_artist", type=int, default=0,
                   help="at most N styles per artist (seeded choice; 0: no cap)")
  src.add_argument("--max_styles", type=int, default=0,
                   help="at most N styles in all (seeded choice; 0: all)")
  p.add_argument("--output", required=True, help="output folder for the dataset")
  p.add_argument("--stylizer", default="hub",
                 help=f"{SPEC_HELP} (default: hub, the published TF-Hub Magenta model "
                      "arbitrary-image-stylization-v1-256/2, downloaded by each worker; "
                      "offline, use hub:<SavedModel dir>, tflite:<dir> or classical)")
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
                 choices=geometry.RESIZE_POLICIES,
                 help="how contents are made square (default center_crop)")
  p.add_argument("--image_format", default="jpeg", choices=["jpeg", "png"])
  p.add_argument("--jpeg_quality", type=int, default=95)
  p.add_argument("--records_per_shard", type=int, default=1000,
                 help="target records per shard (default 1000)")
  p.add_argument("--num_shards", type=int, default=0,
                 help="shards per split; overrides --records_per_shard when > 0")
  p.add_argument("--batch_size", type=int, default=8,
                 help="stylized views per stylizer call: views of one or several "
                      "contents, each with its own style (default 8)")
  p.add_argument("--max_pixels", type=int, default=image_io.DEFAULT_MAX_PIXELS,
                 help="refuse images with more pixels (decompression bombs)")
  p.add_argument("--max_contents", type=int, default=0,
                 help="use only the first N contents by id (0: all)")
  p.add_argument("--dataset_name", default="stylized",
                 help="file name prefix of the shards (default stylized)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace an existing dataset at --output (only on success)")
  p.add_argument("--stall_timeout", type=float, default=1800.0, metavar="SECONDS",
                 help="fail (and cancel a remote job) when no style step or shard "
                      "finishes and no running shard's progress note changes for this "
                      "long; the same command then resumes (default 1800: a Dataflow "
                      "worker pool can take 10 minutes to start; 0: wait forever)")
  p.add_argument("--verbose", action="store_true",
                 help="show Beam's, TensorFlow's and the workers' logs on the console "
                      "(by default they go to a temporary log file, whose path is shown "
                      "when the job fails)")
  return p


class UsageError(ValueError):
  """A flag, path or input that cannot work, found before any work started."""


def validate_args(args) -> tuple[float, float, float]:
  checks = [
      (args.styles_per_content >= 1, "--styles_per_content must be >= 1"),
      (0.0 <= args.style_strength <= 1.0, "--style_strength must be in [0, 1]"),
      (args.image_size >= 16, "--image_size must be >= 16"),
      (1 <= args.jpeg_quality <= 100, "--jpeg_quality must be in [1, 100]"),
      (args.records_per_shard >= 1, "--records_per_shard must be >= 1"),
      (args.num_shards >= 0, "--num_shards must be >= 0"),
      (args.batch_size >= 1, "--batch_size must be >= 1"),
      (args.max_contents >= 0, "--max_contents must be >= 0"),
      (args.stall_timeout >= 0, "--stall_timeout must be >= 0"),
      (args.max_styles >= 0 and args.max_styles_per_artist >= 0,
       "--max_styles and --max_styles_per_artist must be >= 0"),
      (0.0 <= args.holdout_style_fraction < 1.0,
       "--holdout_style_fraction must be in [0, 1)"),
      ("/" not in args.dataset_name and "-" not in args.dataset_name,
       "--dataset_name may not contain '/' or '-' (TFDS file naming)"),
  ]
  for ok, message in checks:
    if not ok:
      raise UsageError(message)
  try:
    return plan.parse_fractions(args.split_fractions)
  except ValueError as e:
    raise UsageError(str(e)) from e


def check_paths_for_runner(args, remote: bool) -> None:
  """With a remote runner (Dataflow...), the workers cannot see this machine's files:
  every path they read or write must be a URI (gs://...), checked before any work."""
  if not remote:
    return
  named = [("--output", args.output), ("--styles", args.styles)]
  if args.content.startswith("tfds:"):
    named.append(("--tfds_data_dir", args.tfds_data_dir or ""))
  else:
    named.append(("--content", args.content))
  kind, _, model = args.stylizer.partition(":")
  if kind in ("tflite", "hub") and model and not model.startswith(("http://", "https://")):
    named.append(("--stylizer", model.split("?")[0]))
  local = [f"{flag}={path!r}" for flag, path in named if "://" not in path]
  if local:
    raise UsageError(f"with a remote runner the workers cannot read this machine's files: "
                     f"{', '.join(local)} must be on shared storage (gs://...)")
