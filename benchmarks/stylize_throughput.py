"""Stylize throughput: each stylizer bare vs the whole Beam job, same images, one run.

    .venv/bin/python benchmarks/stylize_throughput.py [--contents 128 --styles 8 --k 2]
        [--case SPEC@BATCH ...] [--tf_model DIR] [--workers W] [--json PATH]

Cases (default): the Magenta TF Lite pair through LiteRT (its transfer network runs at
its fixed 384 px, the job's output is 256 px) and the same network ported to TensorFlow
(`python -m pipeline.stylizers.magenta_tf export`) at 256 px, batch 1 and batch 8.
For each case:

1. Bare: `stylizer_speed.measure` in this process, no Beam: contents decoded and resized
   to 256 px beforehand, model loaded beforehand; one style step per style and N*K
   views in content_step calls of BATCH views. images/s = views / (style + content s).
2. Job: `python -m beam_jobs.stylize` on the same files (default local runner: one
   worker process per core), timed from process start to exit: Python and Beam start-up,
   worker imports, model loads, decode, encode, shard writing and finalize all count.
   Its counters come from the published stylized_metadata.json.
3. ratio = job views/s / bare images/s (target >= 0.9 for the LiteRT case), and the
   job's style steps against the distinct styles (target: equal), its content-step
   calls against the sum over shards of ceil(stylized views / batch). Also the job's
   views/s inside its pipeline (from its metadata's timings: without the launch, the
   checks and the publishing), which a longer run approaches.

CPU used by other processes is measured per phase and reported (a busy machine
distorts both figures, not alike); --wait_quiet waits for a quiet machine first.
Needs ../shared (real model and photos); without it, says so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT  # beside this script
from cpu_monitor import CpuMonitor, note
import stylizer_speed as speed

from tfrecords_schema.files import METADATA_FILENAME  # noqa: E402

TARGET_RATIO = 0.9


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--contents", type=int, default=256, metavar="N",
                 help="COCO photos from ../shared (default 256: all of them, so the "
                      "job's fixed costs weigh what they would in a longer run less)")
  p.add_argument("--styles", type=int, default=8, metavar="S", help="paintings (default 8)")
  p.add_argument("--k", type=int, default=2, metavar="K", help="styles per content")
  p.add_argument("--case", action="append", default=[], metavar="SPEC@BATCH",
                 help="stylizer spec and batch size (repeatable; TF_MODEL stands for the "
                      "exported port); default: the tflite pair @8, hub:TF_MODEL @1, @8")
  p.add_argument("--tf_model", help="exported TF port (default: export one to a temp dir)")
  p.add_argument("--workers", type=int, default=0,
                 help="job worker processes (default 0: the job's default, one per core)")
  p.add_argument("--records_per_shard", type=int, default=16,
                 help="job shard size (default 16: ~30 shards, so the last one leaves a "
                      "worker idle for a few seconds only)")
  p.add_argument("--wait_quiet", type=float, default=10.0, metavar="SECONDS",
                 help="wait up to this long for other processes to leave the CPUs idle "
                      "before each phase (0: do not wait)")
  p.add_argument("--skip_bare", action="store_true")
  p.add_argument("--skip_job", action="store_true")
  p.add_argument("--json", help="also write the figures to this JSON file")
  args = p.parse_args(argv)
  if min(args.contents, args.styles, args.k) < 1:
    p.error("--contents, --styles and --k must be >= 1")
  return args


def link_inputs(tmp: pathlib.Path, n: int, s: int) -> tuple[pathlib.Path, pathlib.Path]:
  """Symlinks the first n photos and s paintings (sorted names) into fresh folders:
  the same files `stylizer_speed.load_inputs` reads for the bare runs."""
  photos = (sorted(speed.PHOTOS.glob("train2017/*.jpg"))
            + sorted(speed.PHOTOS.glob("val2017/*.jpg")))
  paintings = sorted(speed.PAINTINGS.glob("*.jpg"))
  contents, styles = tmp / "contents", tmp / "styles"
  for folder, files in ((contents, photos[:n]), (styles, paintings[:s])):
    folder.mkdir()
    for f in files:
      (folder / f"{f.parent.name}_{f.name}").symlink_to(f)
  return contents, styles


def bare_run(spec: str, batch: int, inputs, k: int) -> dict:
  r = speed.measure(spec, *inputs, batch, rounds=k)
  r["images_per_s"] = round(r["views"] / (r["content_s"] + r["style_s"]), 3)
  return r


def job_run(args, spec: str, batch: int, contents, styles, out: pathlib.Path) -> dict:
  """The job as a user runs it, in its own process; counters from its metadata."""
  cmd = [sys.executable, "-m", "beam_jobs.stylize", f"--content={contents}",
         f"--styles={styles}", f"--output={out}", f"--stylizer={spec}",
         f"--styles_per_content={args.k}", f"--batch_size={batch}", "--seed=0",
         f"--records_per_shard={args.records_per_shard}"]
  if args.workers:
    cmd.append(f"--direct_num_workers={args.workers}")
  t0 = time.perf_counter()
  done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
  wall = time.perf_counter() - t0
  if done.returncode:
    raise SystemExit(f"the job failed:\n{done.stderr[-3000:]}")
  meta = json.loads((out / METADATA_FILENAME).read_text())
  c = meta["counters"]
  views = c.get("views_stylized", 0)
  pipeline_s = meta.get("timings", {}).get("pipeline") or wall
  return {"cmd": cmd, "wall_s": round(wall, 2), "views": views,
          "views_per_s": round(views / wall, 3), "timings": meta.get("timings"),
          "pipeline_views_per_s": round(views / pipeline_s, 3), "counters": c,
          "shard_lengths": {s: v["shard_lengths"] for s, v in meta["splits"].items()},
          "summary": done.stdout.strip()}


def expected_calls(job: dict, batch: int) -> int:
  """Content-step calls the job should make: per shard, ceil(stylized views / batch)."""
  return sum(math.ceil(n / batch) for lengths in job["shard_lengths"].values()
             for n in lengths)


def main(argv=None) -> None:
  args = parse_args(argv)
  if not speed.MODEL_DIR.exists() or not speed.PHOTOS.exists():
    print(f"skipped: needs the project's ../shared data ({speed.SHARED} absent; set "
          "STYLIZED_SHARED_DIR to point elsewhere)", file=sys.stderr)
    return
  monitor = CpuMonitor()
  rows, results = [], []
  with tempfile.TemporaryDirectory(prefix="stylize_bench_") as tmp_name:
    tmp = pathlib.Path(tmp_name)
    tf_model = args.tf_model
    if tf_model is None:
      from pipeline.stylizers import magenta_tf
      tf_model = magenta_tf.export(str(speed.MODEL_DIR), str(tmp / "magenta_tf"))
    cases = [(spec.replace("TF_MODEL", tf_model), int(b)) for spec, _, b in
             (c.rpartition("@") for c in args.case)] or [
        (f"tflite:{speed.MODEL_DIR}", 8), (f"hub:{tf_model}", 1), (f"hub:{tf_model}", 8)]
    contents, styles = link_inputs(tmp, args.contents, args.styles)
    inputs = speed.load_inputs(args.contents, args.styles, 256)
    note(f"{args.contents} contents x K={args.k} of {args.styles} styles; "
         f"{os.cpu_count()} cores; cases: {[f'{s}@{b}' for s, b in cases]}")
    for i, (spec, batch) in enumerate(cases):
      result = {"spec": spec, "batch": batch}
      if not args.skip_job:
        monitor.wait_quiet(args.wait_quiet, "the job") if args.wait_quiet else None
        m = monitor.mark()
        result["job"] = job_run(args, spec, batch, contents, styles, tmp / f"out{i}")
        result["job_load"] = monitor.since(m)
        note(f"  job  {spec}@{batch}: {result['job']['views_per_s']:.2f} views/s "
             f"({result['job']['wall_s']} s)")
      if not args.skip_bare:
        monitor.wait_quiet(args.wait_quiet, "the bare run") if args.wait_quiet else None
        m = monitor.mark()
        result["bare"] = bare_run(spec, batch, inputs, args.k)
        result["bare_load"] = monitor.since(m)
        note(f"  bare {spec}@{batch}: {result['bare']['images_per_s']:.2f} images/s")
      results.append(result)
  monitor.stop()
  base = None
  for r in results:
    name = ("LiteRT: int8 predictor + fp16 transfer at 384 px" if r["spec"].startswith(
        "tflite") else "TF port at 256 px") + f", batch {r['batch']}"
    job, bare = r.get("job"), r.get("bare")
    ratio = job["views_per_s"] / bare["images_per_s"] if job and bare else None
    if bare and base is None:
      base = bare["images_per_s"]
    c = job["counters"] if job else {}
    rows.append((name, bare and bare["images_per_s"], job and job["views_per_s"],
                 ratio, job and job["pipeline_views_per_s"],
                 bare and round(bare["images_per_s"] / base, 2),
                 c.get("style_step_calls"), c.get("content_step_calls"),
                 job and expected_calls(job, r["batch"]), c.get("model_loads"),
                 max(r.get("job_load", {}).get("other_cores", 0),
                     r.get("bare_load", {}).get("other_cores", 0))))
    r["ratio"] = ratio
  header = ("case", "bare img/s", "job views/s", "job/bare", "job views/s in pipeline",
            "bare vs 1st",
            "style steps", "content calls", "ceil(views/batch)", "model loads",
            "others' cores")
  note("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
  for row in rows:
    note("| " + " | ".join("" if v is None else f"{v:.2f}" if isinstance(v, float)
                           else str(v) for v in row) + " |")
  note(f"distinct styles: {args.styles}; target job/bare >= {TARGET_RATIO}")
  first = results[0].get("ratio")
  note(f"RESULT ratio={'n/a' if first is None else f'{first:.2f}'} (first case, target "
       f">= {TARGET_RATIO}) style_steps={rows[0][6]} distinct_styles={args.styles}")
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps({
        "date": datetime.date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "config": vars(args), "results": results}, indent=2, default=str) + "\n")


if __name__ == "__main__":
  main()
