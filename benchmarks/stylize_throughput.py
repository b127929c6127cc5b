"""Stylize throughput: bare model vs the whole Beam job, same images, one run.

    .venv/bin/python benchmarks/stylize_throughput.py [--contents N --styles S --k K
        --stylizer SPEC --workers W --batch_size B --job_threads T --json PATH]

1. Bare: the stylizer in this process, no Beam. Styles and contents are decoded and
   resized (256x256, centre crop, as the job does) before the clock starts; then one
   style_step per distinct style and one content_step per planned view (the job's own
   plan, so the very same N*K (content, style) pairs). Thread count: the fastest of a
   short interleaved calibration, so the bare figure is the model's best single
   process here.
2. Job: `beam_jobs.stylize.run` over the same folders, default local runner (one worker
   process per core), timed from the call to its return: Beam start-up, worker imports,
   model loads, decode, encode, shard writing and finalize all count. It runs first, so
   the launcher pays its own TensorFlow import as a real run does.
3. ratio = job views/s / bare images/s (target >= 0.8), and the job's style_step_calls
   against the distinct styles (target: equal, each style's step computed once).

Also printed: the job's counters, RunInference's own metrics, wall time per fused Beam
stage (from the runner's bundle log), and CPU seconds per image in both phases.

Other people's processes on a shared machine distort both figures, and not alike: the
multi-threaded bare process loses more to them than the job's single-threaded workers,
so a busy machine flatters the ratio. CPU used outside this process tree is measured
per phase and reported; --wait_quiet waits for a quiet machine, and `setsid ...
--nice -10` (root) gives the benchmark the CPUs when others keep them busy.
Needs ../shared (real model and photos); without it, says so and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import pathlib
import platform
import re
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("STYLIZED_SHARED_DIR", ROOT.parent / "shared"))
MODEL_DIR = SHARED / "models" / "magenta_v1_256_tflite"
PHOTOS = SHARED / "data" / "coco256" / "images"  # train2017 first, then val2017
PAINTINGS = SHARED / "data" / "paintings_aic" / "images"
TARGET_RATIO = 0.8
BEAM_LOGGER = "apache_beam.runners.portability.local_job_service"  # relays worker logs

if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

from cpu_monitor import CpuMonitor, note  # beside this script  # noqa: E402


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--contents", type=int, default=128, metavar="N",
                 help="content photos (default 128: 256 views, a ~55 s bare run on "
                      "2 cores, long enough to amortise the job's ~20 s of fixed cost)")
  p.add_argument("--styles", type=int, default=8, metavar="S",
                 help="paintings (default 8)")
  p.add_argument("--k", type=int, default=2, metavar="K",
                 help="styles per content (default 2)")
  p.add_argument("--stylizer", default=f"tflite:{MODEL_DIR}",
                 help="stylizer spec (default: the real TF Lite model in ../shared)")
  p.add_argument("--workers", type=int, default=0, metavar="W",
                 help="job worker processes (default 0: the job's own default, "
                      "one per core)")
  p.add_argument("--batch_size", type=int, default=0, metavar="B",
                 help="job --batch_size (default 0: the job's default)")
  p.add_argument("--job_threads", type=int, default=0, metavar="T",
                 help="LiteRT threads per job worker via $STYLIZE_TFLITE_THREADS "
                      "(default 0: the job as shipped, cores // workers)")
  p.add_argument("--bare_threads", type=int, default=0, metavar="T",
                 help="threads of the bare run (default 0: calibrate 1..2*cores)")
  p.add_argument("--calibrate_views", type=int, default=8,
                 help="views timed per thread count when calibrating (default 8)")
  p.add_argument("--wait_quiet", type=float, default=10.0, metavar="SECONDS",
                 help="before each phase wait up to this long for other processes to "
                      "leave the CPUs idle (default 10; 0: do not wait)")
  p.add_argument("--top_stages", type=int, default=5,
                 help="show the N slowest Beam stages of the job (default 5)")
  p.add_argument("--nice", type=int, default=0,
                 help="scheduling priority of this benchmark and its Beam workers, e.g. "
                      "-10 (run under `setsid`) on a machine others keep busy; negative "
                      "values need root")
  p.add_argument("--skip_bare", action="store_true", help="job only (ratio not computed)")
  p.add_argument("--skip_job", action="store_true", help="bare model only")
  p.add_argument("--json", help="also write the figures to this JSON file")
  p.add_argument("--log", help="keep the job's Beam and worker logs in this file")
  p.add_argument("--keep", action="store_true", help="keep the temporary folder")
  args = p.parse_args(argv)
  if min(args.contents, args.styles, args.k) < 1:
    p.error("--contents, --styles and --k must be >= 1")
  return args


# -- scheduling ----------------------------------------------------------------------


def set_priority(nice: int) -> None:
  """Nice value for this process and (inherited) its Beam workers.

  With Linux autogroups (the default) CPU is first shared between sessions, so a
  process's own nice value only counts against its session; when this process leads
  its session (`setsid`), the session's autogroup gets the value too.
  """
  os.setpriority(os.PRIO_PROCESS, 0, nice)
  if os.getsid(0) == os.getpid() and os.path.exists("/proc/self/autogroup"):
    with open("/proc/self/autogroup", "w") as f:
      f.write(str(nice))
  else:
    note(f"note: --nice {nice} covers this session only (start the benchmark with "
         "`setsid` to give its autogroup the same priority)")


# -- inputs --------------------------------------------------------------------------


def link_inputs(tmp: pathlib.Path, n: int, s: int) -> tuple[pathlib.Path, pathlib.Path]:
  """Symlinks the first n photos and s paintings (sorted names) into fresh folders."""
  photos = sorted(PHOTOS.glob("train2017/*.jpg")) + sorted(PHOTOS.glob("val2017/*.jpg"))
  paintings = sorted(PAINTINGS.glob("*.jpg"))
  if n > len(photos) or s > len(paintings):
    raise SystemExit(f"error: asked for {n} contents and {s} styles; ../shared has "
                     f"{len(photos)} photos and {len(paintings)} paintings")
  contents, styles = tmp / "contents", tmp / "styles"
  for folder, files in ((contents, photos[:n]), (styles, paintings[:s])):
    folder.mkdir()
    for f in files:
      (folder / f"{f.parent.name}_{f.name}").symlink_to(f)
  return contents, styles


def planned_views(contents_dir, styles_dir, k: int, seed: int, fractions: str):
  """The job's own plan: [(content uri, style uri)] for every stylized view."""
  from pipeline import plan, sources
  contents = sources.folder_contents(str(contents_dir))
  styles = sources.folder_styles(str(styles_dir))
  by_id = {c.content_id: c for c in contents}
  style_uri = {st.style_id: st.uri for st in styles}
  pools = plan.style_pools(style_uri, seed, 0.0)
  views = []
  for pc in plan.plan_contents(by_id, seed, plan.parse_fractions(fractions)):
    for _, style_id in plan.views_for(pc, pools, k, include_original=False):
      views.append((by_id[pc.content_id].uri, style_uri[style_id]))
  return views


# -- 1. bare model -------------------------------------------------------------------


def _make_stylizer(spec: str, threads: int):
  from pipeline.stylizers import from_spec
  s = from_spec(spec)
  if threads and hasattr(s, "num_threads"):
    s.num_threads = threads
  return s


def _content_step(stylizer, pixels: np.ndarray, state) -> float:
  """One view, fed as the job's model handler feeds it; returns its seconds. One view
  per call: content_step loops over a batch anyway (the networks are batch-1)."""
  t0 = time.perf_counter()
  stylizer.content_step(pixels[None].astype(np.float32) / 255.0, [state], [1.0])
  return time.perf_counter() - t0


def calibrate(args, candidates, style_px, sample) -> dict[int, float]:
  """images/s per thread count, from interleaved rounds (one view per candidate in
  turn), so a burst of someone else's work hits every candidate alike; median based."""
  stylizers = {}
  for threads in candidates:
    s = _make_stylizer(args.stylizer, threads)
    s.load()
    state = s.style_step(style_px)
    _content_step(s, sample[0], state)  # warm-up: first invoke, TF resize kernels
    stylizers[threads] = s, state
  times: dict[int, list[float]] = {t: [] for t in candidates}
  for pixels in sample:
    for threads, (s, state) in stylizers.items():
      times[threads].append(_content_step(s, pixels, state))
  return {t: 1.0 / float(np.median(v)) for t, v in times.items()}


def bare_run(args, views) -> dict:
  from pipeline import image_io
  size, policy = 256, "center_crop"  # the job's --image_size / --resize_policy defaults
  style_px = {uri: image_io.load_image(uri) for uri in sorted({s for _, s in views})}
  content_px = {uri: image_io.resize_to_square(image_io.load_image(uri), size, policy)
                for uri in sorted({c for c, _ in views})}
  tunable = hasattr(_make_stylizer(args.stylizer, 0), "num_threads")
  cores = os.cpu_count() or 1
  calibration: dict[int, float] = {}
  if args.bare_threads or not tunable:
    threads = args.bare_threads if tunable else 0
  else:
    candidates = sorted({1, 2 * cores} | set(range(1, cores + 1)))
    sample = [content_px[c] for c, _ in views[:max(2, args.calibrate_views)]]
    calibration = calibrate(args, candidates, style_px[views[0][1]], sample)
    threads = max(calibration, key=calibration.get)
    note("  calibration (images/s by threads): " + ", ".join(
        f"{t}: {v:.2f}" for t, v in calibration.items()))

  t0 = time.perf_counter()
  stylizer = _make_stylizer(args.stylizer, threads)
  stylizer.load()
  t_load = time.perf_counter() - t0
  t0, cpu0 = time.perf_counter(), time.process_time()
  states = {uri: stylizer.style_step(px) for uri, px in style_px.items()}
  t_style = time.perf_counter() - t0
  per_view = [_content_step(stylizer, content_px[c], states[s]) for c, s in views]
  t_content, cpu = sum(per_view), time.process_time() - cpu0
  return {"threads": threads if tunable else None,
          "calibration_images_per_s": {str(t): round(v, 3)
                                       for t, v in calibration.items()},
          "load_s": round(t_load, 2), "style_steps": len(states),
          "style_s": round(t_style, 2), "views": len(views),
          "content_s": round(t_content, 2), "seconds": round(t_style + t_content, 2),
          "images_per_s": round(len(views) / (t_style + t_content), 3),
          "images_per_s_median_view": round(1.0 / float(np.median(per_view)), 3),
          "cpu_s_per_image": round(cpu / len(views), 3)}


# -- 2. the job ----------------------------------------------------------------------


@contextlib.contextmanager
def job_threads_env(threads: int):
  """--job_threads: the job's own knob, $STYLIZE_TFLITE_THREADS, which workers inherit."""
  if not threads:
    yield
    return
  from pipeline.stylizers.tflite import THREADS_ENV
  saved = os.environ.get(THREADS_ENV)
  os.environ[THREADS_ENV] = str(threads)
  try:
    yield
  finally:
    if saved is None:
      os.environ.pop(THREADS_ENV, None)
    else:
      os.environ[THREADS_ENV] = saved


@contextlib.contextmanager
def phase_timer(module, name: str, spans: dict):
  """Times calls of module.name (in this process) into spans[name]."""
  original = getattr(module, name)

  def timed(*a, **kw):
    t0 = spans[name + "_start"] = time.perf_counter()
    try:
      return original(*a, **kw)
    finally:
      spans[name] = round(time.perf_counter() - t0, 2)

  setattr(module, name, timed)
  try:
    yield
  finally:
    setattr(module, name, original)


BUNDLE_LOGGER = "apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle"


class _Collect(logging.Handler):
  """Keeps relayed worker messages, and when each runner bundle (stage) started."""

  def __init__(self):
    super().__init__(logging.DEBUG)
    self.messages: list[str] = []
    self.bundles: list[tuple[float, str]] = []

  def emit(self, record):
    if record.name == BUNDLE_LOGGER:
      if record.msg.startswith("Running bundle for stage"):
        self.bundles.append((time.perf_counter(), str(record.args[0])))
    else:
      self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_logs(path: pathlib.Path):
  """Beam's, TF's and the workers' logs (workers inherit fd 2) go to a file; messages
  the workers relay through Beam are also collected, to check what ran in them."""
  sys.stderr.flush()
  saved_fd = os.dup(2)
  log_file = open(path, "ab")
  os.dup2(log_file.fileno(), 2)
  collect = _Collect()
  loggers = [(logging.getLogger(BEAM_LOGGER), logging.INFO, True),
             (logging.getLogger(BUNDLE_LOGGER), logging.DEBUG, False)]
  saved = [(lg, lg.level, lg.propagate) for lg, _, _ in loggers]
  for lg, level, propagate in loggers:
    lg.setLevel(level)
    lg.propagate = propagate
    lg.addHandler(collect)
  try:
    yield collect
  finally:
    for lg, level, propagate in saved:
      lg.removeHandler(collect)
      lg.setLevel(level)
      lg.propagate = propagate
    sys.stderr.flush()
    os.dup2(saved_fd, 2)
    os.close(saved_fd)
    log_file.close()


def _stage_label(fused: str) -> str:
  """'((A/Read)+(ref_AppliedPTransform_B-ParDo-..._7))+(C/Write)' -> 'A+B+C'."""
  names = re.findall(r"\((?:ref_AppliedPTransform_)?([A-Za-z][A-Za-z0-9]*)[-/_)]", fused)
  names = [n for n in names if n not in ("ref", "PCollection")]
  return "+".join(dict.fromkeys(names)) or fused[:60]


def stage_times(bundles: list[tuple[float, str]], end: float) -> list[tuple[str, float]]:
  """Wall seconds per fused stage: from a bundle's start to the next one's (the local
  runner runs one stage at a time, split over its workers). The last stage's time runs
  to the end of the pipeline, so it includes stopping the workers."""
  totals: dict[str, float] = {}
  for i, ((t, name), (t_next, _)) in enumerate(zip(bundles, bundles[1:] + [(end, "")])):
    label = _stage_label(name) + (" (+ worker shutdown)" if i == len(bundles) - 1 else "")
    totals[label] = totals.get(label, 0.0) + t_next - t
  return sorted(((n, round(v, 2)) for n, v in totals.items()), key=lambda x: -x[1])


def _distributions(result) -> dict:
  """RunInference's own distributions (batch sizes, latencies, model loads)."""
  from apache_beam.metrics.metric import MetricsFilter
  from beam_jobs import transforms as T
  try:
    found = result.metrics().query(MetricsFilter().with_namespace(T.NAMESPACE))
  except Exception:
    return {}
  out = {}
  for d in found["distributions"]:
    v = d.committed or d.attempted
    if v is not None and v.count:
      out[d.key.metric.name] = {"count": v.count, "sum": v.sum, "min": v.min,
                                "max": v.max}
  return out


def job_run(args, contents_dir, styles_dir, tmp: pathlib.Path, logs: _Collect) -> dict:
  """One run of the job as a user runs it; wall time plus what explains it."""
  from beam_jobs import stylize
  argv = [f"--content={contents_dir}", f"--styles={styles_dir}",
          f"--output={tmp / 'out'}", f"--stylizer={args.stylizer}",
          f"--styles_per_content={args.k}", "--seed=0"]
  if args.batch_size:
    argv.append(f"--batch_size={args.batch_size}")
  if args.workers:
    argv.append(f"--direct_num_workers={args.workers}")
  spans: dict[str, float] = {}
  first_log, first_bundle = len(logs.messages), len(logs.bundles)
  with job_threads_env(args.job_threads), phase_timer(stylize, "prepare", spans), \
      phase_timer(stylize, "_finish", spans):
    t0 = time.perf_counter()
    result = stylize.run(argv)
    wall = time.perf_counter() - t0
  counters = dict(sorted(result["counters"].items()))
  dists = _distributions(result)
  relayed = logs.messages[first_log:]
  stages = stage_times(logs.bundles[first_bundle:], spans.get("_finish_start", t0 + wall))
  loads = [m for m in relayed if 'message: "loaded stylizer' in m]
  threads_seen = sorted({int(t) for m in loads
                         for t in re.findall(r", (\d+) threads", m)})
  batches = dists.get("inference_batch_latency_micro_secs", {})
  workers = args.workers or os.cpu_count() or 1
  views = counters.get("views_stylized", 0)
  inside = {}
  if batches:
    busy = batches["sum"] / 1e6 / workers  # per worker, if the load was balanced
    inside = {"model_s_per_worker": round(busy, 2),
              "views_per_s_inside_run_inference": round(views / busy, 3)}
  return {"argv": argv, "workers": workers, "job_threads": args.job_threads or None,
          "worker_threads_confirmed": threads_seen, "wall_s": round(wall, 2),
          "launch_s": spans.get("prepare"), "finalize_s": spans.get("_finish"),
          "pipeline_s": round(wall - spans.get("prepare", 0)
                              - spans.get("_finish", 0), 2),
          "views": views, "views_per_s": round(views / wall, 3), "counters": counters,
          "model_loads_counter": counters.get("model_loads"),
          "model_loads_logged_by_workers": len(loads),
          "run_inference_model_loads": dists.get("load_model_latency_milli_secs",
                                                 {}).get("count"),
          "batches": batches.get("count"), **inside, "distributions": dists,
          "pipeline_start_s": round(logs.bundles[first_bundle][0] - t0, 2)
          if len(logs.bundles) > first_bundle else None,
          "stage_s": dict(stages)}


# -- report --------------------------------------------------------------------------


def report(args, bare, job, load) -> dict:
  """Prints the table and the RESULT line; returns the verdict for the JSON."""
  rows = []
  if bare:
    rows += [("bare: threads (best of calibration)", bare["threads"]),
             ("bare: calibration images/s by threads", bare["calibration_images_per_s"]),
             ("bare: model load s (excluded)", bare["load_s"]),
             ("bare: style steps / s", f"{bare['style_steps']} / {bare['style_s']}"),
             ("bare: views / content s", f"{bare['views']} / {bare['content_s']}"),
             ("bare: images/s", bare["images_per_s"]),
             ("bare: images/s from the median view (robust to bursts)",
              bare["images_per_s_median_view"]),
             ("bare: CPU s per image", bare["cpu_s_per_image"])]
  if job:
    rows += [("job: workers x threads", f"{job['workers']} x "
              f"{job['job_threads'] or 'default'} (seen in workers: "
              f"{job['worker_threads_confirmed'] or '?'})"),
             ("job: wall s (launch / pipeline / finalize)",
              f"{job['wall_s']} ({job['launch_s']} / {job['pipeline_s']} / "
              f"{job['finalize_s']})"),
             ("job: views stylized", job["views"]),
             ("job: views/s end to end", job["views_per_s"]),
             ("job: CPU s per view (all its processes)", job["cpu_s_per_view"]),
             ("job: RunInference batches", job["batches"]),
             ("job: model s per worker, views/s inside",
              f"{job.get('model_s_per_worker')}, "
              f"{job.get('views_per_s_inside_run_inference')}")]
    rows.append(("job: first stage starts after s", job["pipeline_start_s"]))
    rows += [(f"job stage s: {name[:64]}", v) for name, v in
             list(job["stage_s"].items())[:args.top_stages]]
    rows += [(f"job counter: {k}", v) for k, v in job["counters"].items()]
    rows += [("job: model loads in workers (log lines)",
              job["model_loads_logged_by_workers"]),
             ("job: model loads (RunInference's load_model_latency count)",
              job["run_inference_model_loads"])]
  for phase, figures in load.items():
    rows.append((f"other processes' CPU during {phase} (cores)", figures["other_cores"]))
  ratio = None
  if bare and job:
    ratio = job["views_per_s"] / bare["images_per_s"]
    rows.append(("ratio job/bare (target >= 0.8)", f"{ratio:.2f}"))
  if job:
    rows.append(("style_step_calls vs distinct styles",
                 f"{job['counters'].get('style_step_calls', 0)} vs {args.styles}"))
  width = max(len(name) for name, _ in rows)
  note("")
  for name, value in rows:
    note(f"{name:<{width}}  {value}")
  busy = [p for p, f in load.items() if f["other_cores"] > 0.15]
  if busy:
    note(f"WARNING: other processes used the CPUs during {', '.join(busy)}: both figures "
         "are low, the bare one more (its threads wait for each other when a core is "
         "taken), so the ratio is overstated. Rerun on a quiet machine.")
  style_steps = job["counters"].get("style_step_calls", 0) if job else None
  note(f"RESULT ratio={'n/a' if ratio is None else f'{ratio:.2f}'} "
       f"(target >= {TARGET_RATIO}) style_steps={style_steps} "
       f"distinct_styles={args.styles}")
  return {"ratio": None if ratio is None else round(ratio, 3), "target": TARGET_RATIO,
          "style_steps": style_steps, "distinct_styles": args.styles,
          "ratio_ok": None if ratio is None else ratio >= TARGET_RATIO,
          "style_steps_ok": None if style_steps is None else style_steps == args.styles}


def measure(args, defaults, tmp, monitor, load, logs):
  """Both phases on the same linked inputs; each waits for a quiet machine first."""
  contents_dir, styles_dir = link_inputs(tmp, args.contents, args.styles)
  views = planned_views(contents_dir, styles_dir, args.k, defaults.seed,
                        defaults.split_fractions)
  note(f"{args.contents} contents x K={args.k} of {args.styles} styles = {len(views)} "
       f"views; stylizer {args.stylizer}; {os.cpu_count()} cores; temp {tmp}")
  bare = job = None
  if not args.skip_job:  # first: a fresh launcher pays its own imports (TF, TFDS)
    if args.wait_quiet:
      monitor.wait_quiet(args.wait_quiet, "the job phase")
    note("job ...")
    preimported = "tensorflow" in sys.modules
    m = monitor.mark()
    job = job_run(args, contents_dir, styles_dir, tmp, logs)
    load["job"] = monitor.since(m)
    job["tensorflow_preimported"] = preimported
    job["cpu_s_per_view"] = round(load["job"]["our_cores"] * load["job"]["wall_s"]
                                  / max(1, job["views"]), 3)
    note(f"  {job['views_per_s']:.2f} views/s in {job['wall_s']:.1f} s")
  if not args.skip_bare:
    if args.wait_quiet:
      monitor.wait_quiet(args.wait_quiet, "the bare phase")
    note("bare model ...")
    m = monitor.mark()
    bare = bare_run(args, views)
    load["bare"] = monitor.since(m)
    note(f"  {bare['images_per_s']:.2f} images/s with {bare['threads']} thread(s)")
  return bare, job


def main(argv=None) -> None:
  args = parse_args(argv)
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still clean up the temp dir
  if args.nice:
    set_priority(args.nice)
  needed = [PHOTOS, PAINTINGS] + ([MODEL_DIR] if args.stylizer.endswith(str(MODEL_DIR))
                                  else [])
  missing = [str(p) for p in needed if not p.exists()]
  if missing:
    print(f"skipped: needs the project's ../shared data ({', '.join(missing)} absent; "
          "set STYLIZED_SHARED_DIR to point elsewhere)", file=sys.stderr)
    raise SystemExit(0)  # as the tests: a clone without ../shared is not a failure
  logging.basicConfig(level=logging.WARNING,
                      format="%(asctime)s %(levelname)s %(message)s")
  from beam_jobs import stylize
  defaults = stylize.build_parser().parse_args(
      ["--content=x", "--styles=x", "--output=x"])
  monitor = CpuMonitor()
  tmp = pathlib.Path(tempfile.mkdtemp(prefix="stylize_bench_"))
  log_path = pathlib.Path(args.log) if args.log else tmp / "job.log"
  load: dict[str, dict] = {}
  try:
    with captured_logs(log_path) as logs:
      bare, job = measure(args, defaults, tmp, monitor, load, logs)
    verdict = report(args, bare, job, load)
  except BaseException:
    if not (args.keep or args.log) and log_path.exists():  # Beam's errors are in it
      log_path = pathlib.Path(shutil.copy(log_path, f"{tmp}.log"))
      note(f"failed; the job's and workers' logs are in {log_path}")
    raise
  finally:
    monitor.stop()
    if args.keep or args.log:
      note(f"kept {tmp if args.keep else log_path}")
    if not args.keep:
      shutil.rmtree(tmp, ignore_errors=True)
  if args.json:
    figures = {"date": datetime.date.today().isoformat(), "machine": {
        "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version()},
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "log")},
        "bare": bare, "job": job, "other_load": load, **verdict}
    pathlib.Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
  main()
