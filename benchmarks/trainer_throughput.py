"""Trainer throughput: the input pipeline vs the train step, on the same data, in one run.

    .venv/bin/python benchmarks/trainer_throughput.py [--data DIR] [--image_size 64]
        [--batch_size 32] [--steps N] [--backbone small_cnn] [--augment_strength light]
        [--json PATH] [--profile]
    .venv/bin/python benchmarks/trainer_throughput.py --image_size 224 --backbone resnet50

1. input: pairs/s that the trainer's input stream (`trainer.train.input_stream`)
   produces alone (no model), with every core, and its CPU time per pair.
2. input on one core: the same stream with tf.data held to one thread. From it and
   from the CPU time per pair: input pairs/s per core, and the cores that would feed
   1,000 pairs/s (one A100/H100 on ResNet-50 at 224 px in mixed precision trains
   roughly 500-1,500 pairs/s).
3. step: pairs/s that the trainer's train step consumes (same model, optimizer,
   Objective and step body as `trainer.train.pretrain`) on one real batch held in
   memory, so no input cost is counted. Timed by default only for small_cnn: a
   ResNet-50 step on CPU says nothing about a GPU (`--step` forces it).
4. ratio = input / step (target >= 3 for the small CNN at 64 px: on CPU the pipeline and
   the step share the same cores); end to end (the step fed by the real pipeline) is
   shown for context.

Each phase runs --repeats rounds and its fastest run counts: other processes on a
shared machine only slow a run down. Their CPU use is measured per run and reported;
the CPU time per pair moves less with their load than wall-clock rates do.

--profile adds the CPU per pair of each stage of a training pair (read, grouping, pick,
parse, windowed JPEG decode, resize, flip, colour jitter), each run sequentially.

Without --data a dataset is generated once (the demo's recipe at 672 contents, in a child
process) into --cache_dir and reused; its stored images are 128 px, or 256 px when
--image_size is above 128, so a 224 px view is cropped from a larger JPEG as on real data.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_common  # noqa: F401 (beside this script; puts the repository on sys.path)
from cpu_monitor import CpuMonitor, note  # noqa: E402

from tfrecords_schema.files import METADATA_FILENAME  # noqa: E402
from trainer.choices import AUGMENT_STRENGTHS  # noqa: E402

TARGET_RATIO = 3.0
FEED_TARGET = 1000.0  # pairs/s an accelerator host must be fed
CACHE = pathlib.Path(tempfile.gettempdir()) / "stylized_contrastive_bench" / "trainer"


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--data", help="dataset folder (default: generate one into --cache_dir)")
  p.add_argument("--image_size", type=int, default=64)
  p.add_argument("--batch_size", type=int, default=32)
  p.add_argument("--steps", type=int, default=50, metavar="N",
                 help="batches timed per phase, after --warmup (default 50)")
  p.add_argument("--warmup", type=int, default=5)
  p.add_argument("--repeats", type=int, default=3,
                 help="rounds of the phases; the best run of each counts (default 3)")
  p.add_argument("--backbone", default="small_cnn")
  p.add_argument("--loss", default="ntxent")
  p.add_argument("--augment_strength", default="light", choices=AUGMENT_STRENGTHS)
  p.add_argument("--step", action=argparse.BooleanOptionalAction, default=None,
                 help="time the train step (default: only for small_cnn)")
  p.add_argument("--json", metavar="PATH", help="also write the figures here")
  p.add_argument("--profile", action="store_true", help="CPU per pair by input stage")
  p.add_argument("--cache_dir", default=str(CACHE))
  p.add_argument("--contents_per_class", type=int, default=112,
                 help="generated contents per class, 6 classes (default 112: ~540 train "
                      "contents, more than the 512-group shuffle buffer)")
  p.add_argument("--stored_size", type=int, default=0,
                 help="stored image size of a generated dataset (0: 128, or 256 above "
                      "128 px)")
  p.add_argument("--wait_quiet", type=float, default=10.0, metavar="SECONDS",
                 help="before each phase wait up to this long for other processes to go "
                      "below 0.2 cores (0: do not wait)")
  p.add_argument("--_generate", help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.step is None:
    args.step = args.backbone == "small_cnn"
  args.stored_size = args.stored_size or (128 if args.image_size <= 128 else 256)
  return args


# -- data ----------------------------------------------------------------------------


def _generate(out: str, contents_per_class: int, stored_size: int) -> None:
  """Runs in a child process, so Beam's threads and logging stay out of the timings."""
  from beam_jobs import stylize
  from pipeline import sample_images
  sample = sample_images.write_sample(os.path.join(out, "inputs"),
                                      contents_per_class=contents_per_class)
  stylize.run([f"--content={sample['content_dir']}", f"--styles={sample['styles_dir']}",
               "--content_labels_from_dirs", "--stylizer=classical",
               "--styles_per_content=3", "--include_original",
               "--holdout_style_fraction=0.25", f"--image_size={stored_size}",
               "--records_per_shard=256", "--seed=0",
               f"--output={os.path.join(out, 'stylized')}", "--overwrite",
               "--direct_running_mode=in_memory"])


def ensure_dataset(args) -> str:
  """The demo's recipe (JPEG, original + 3 styles) at a size worth timing."""
  if args.data:
    return args.data
  suffix = "" if args.stored_size == 128 else f"_s{args.stored_size}"
  out = pathlib.Path(args.cache_dir) / f"c{args.contents_per_class}{suffix}"
  dataset = out / "stylized"
  if (dataset / METADATA_FILENAME).exists():
    note(f"dataset (cached): {dataset}")
    return str(dataset)
  note(f"generating {6 * args.contents_per_class} contents x 4 views, "
       f"{args.stored_size} px, into {out} ...")
  t = time.time()
  subprocess.run([sys.executable, __file__, "--_generate", str(out),
                  "--contents_per_class", str(args.contents_per_class),
                  "--stored_size", str(args.stored_size)],
                 check=True, stdout=subprocess.DEVNULL)
  note(f"  generated in {time.time() - t:.0f} s")
  return str(dataset)


# -- the trainer's pieces --------------------------------------------------------------


def trainer_config(args, data: str):
  from trainer.config import Config
  return Config(data=data, backbone=args.backbone, image_size=args.image_size,
                batch_size=args.batch_size, loss=args.loss,
                augment_strength=args.augment_strength, job_dir=tempfile.gettempdir())


def make_train_step(cfg, total_steps: int):
  """pretrain()'s own model, optimizer, Objective and step (trainer.steps), minus I/O
  and checkpoints. Returns train_step(iterator) -> parts."""
  import keras
  import tensorflow as tf
  from trainer import steps
  strategy = tf.distribute.get_strategy()
  keras.utils.set_random_seed(cfg.seed)
  t = steps.build_trainables(cfg, strategy, total_steps)
  return steps.make_train_step(cfg, strategy, t, steps.Objective(cfg, t.head))


def one_core_options():
  import tensorflow as tf
  opts = tf.data.Options()
  opts.threading.private_threadpool_size = 1
  opts.threading.max_intra_op_parallelism = 1
  return opts


# -- timings ---------------------------------------------------------------------------


class Bench:
  """The phases on one config. Each call times one run, after a warm-up, with its own
  iterator (freed before the next phase, so no pipeline runs in the background)."""

  def __init__(self, args, cfg, dcfg, load: CpuMonitor):
    import tensorflow as tf
    self.args, self.dcfg, self.load = args, dcfg, load
    self.b, self.n, self.w = args.batch_size, args.steps, args.warmup
    self.strategy = tf.distribute.get_strategy()
    self.train_step = make_train_step(
        cfg, total_steps=10 * args.repeats * (args.steps + args.warmup)) if args.step \
        else None
    self._held = None

  def _wait(self, label: str) -> None:
    self.load.wait_quiet(self.args.wait_quiet, label, limit=0.2, sample_s=1.0)

  def _stream(self, one_core: bool = False):
    from trainer import data as data_lib
    from trainer import train
    if one_core:
      return data_lib.make_pair_dataset(self.dcfg).with_options(one_core_options())
    return train.input_stream(self.strategy, self.dcfg, 0)

  def _figures(self, m, wall_steps: int) -> dict:
    f = self.load.since(m)
    pairs = wall_steps * self.b
    f["pairs_per_s"] = round(pairs / f["wall_s"], 1)
    f["cpu_ms_per_pair"] = round(1e3 * f["our_cores"] * f["wall_s"] / pairs, 3)
    return f

  def input(self, one_core: bool = False) -> dict:
    """Pairs/s pulled from the pipeline as fast as Python asks: no model."""
    self._wait("input (one core)" if one_core else "input")
    it = iter(self._stream(one_core))
    for _ in range(self.w):
      next(it)
    m = self.load.mark()
    for _ in range(self.n):
      next(it)
    f = self._figures(m, self.n)
    del it
    gc.collect()
    return f

  def _steps(self, it) -> dict:
    for _ in range(self.w):
      float(self.train_step(it)["loss"])
    m = self.load.mark()
    for _ in range(self.n):
      parts = self.train_step(it)
    float(parts["loss"])  # the step's work is done when its loss is read
    f = self._figures(m, self.n)
    f["ms_per_step"] = round(1e3 * f["wall_s"] / self.n, 1)
    return f

  def step(self) -> dict:
    """The train step on one real batch held in memory: no input cost."""
    import tensorflow as tf
    if self._held is None:
      self._held = next(iter(self._stream()))
      gc.collect()
    self._wait("step")
    return self._steps(iter(tf.data.Dataset.from_tensors(self._held).repeat()))

  def end_to_end(self) -> dict:
    """The step fed by the real pipeline, as in pretrain()."""
    self._wait("end-to-end")
    it = iter(self._stream())
    f = self._steps(it)
    del it
    gc.collect()
    return f


def best(runs: list) -> dict:
  """The fastest run: other processes only ever slow a run down."""
  top = dict(max(runs, key=lambda r: r["pairs_per_s"]))
  top["runs_pairs_per_s"] = [r["pairs_per_s"] for r in runs]
  top["least_cpu_ms_per_pair"] = min(r["cpu_ms_per_pair"] for r in runs)
  return top


def show(label: str, f: dict) -> None:
  note(f"  {label}: {f['pairs_per_s']} pairs/s, {f['cpu_ms_per_pair']} CPU ms/pair "
       f"(others {f['other_cores']} cores)")


def measure(bench: Bench, repeats: int) -> dict:
  """The phases in turn, `repeats` rounds; best of each."""
  phases = [("input", bench.input), ("input_one_core", lambda: bench.input(True))]
  if bench.train_step is not None:
    phases += [("step", bench.step), ("end_to_end", bench.end_to_end)]
  runs = {name: [] for name, _ in phases}
  for r in range(repeats):
    note(f"round {r + 1}/{repeats}")
    for name, fn in phases:
      runs[name].append(fn())
      show(name, runs[name][-1])
  res = {k: best(v) for k, v in runs.items()}
  one = res["input_one_core"]["pairs_per_s"]
  by_cpu = 1e3 / max(res["input"]["least_cpu_ms_per_pair"], 1e-9)
  res["per_core"] = {"measured_one_thread": one, "from_cpu_time": round(by_cpu, 1),
                     "cores_for_1000": math.ceil(FEED_TARGET / min(one, by_cpu))}
  if "step" in res:
    res["ratio"] = round(res["input"]["pairs_per_s"] / res["step"]["pairs_per_s"], 2)
    res["cpu_ratio"] = round(res["step"]["least_cpu_ms_per_pair"]
                             / res["input"]["least_cpu_ms_per_pair"], 2)
  return res


# -- profile: what each stage of a training pair costs ---------------------------------


def stage_costs(dcfg, load: CpuMonitor, pairs: int = 512, repeats: int = 5) -> list:
  """CPU ms per pair of each stage, cumulative maps over groups held in memory, each
  run on one thread with no prefetch; a stage's cost is its difference from the row
  before (least of `repeats`, round-robin: others' load hits every row alike)."""
  import tensorflow as tf
  from trainer import data as data_lib
  from trainer import records
  files = records.resolve_files(dcfg.data, dcfg.split)
  max_views = data_lib.views_per_content(dcfg)
  size, strong = dcfg.image_size, dcfg.augment_strength == "strong"
  opts = one_core_options()
  opts.autotune.enabled = False
  opts.experimental_optimization.inject_prefetch = False
  timed = []

  def add(name, ds, per_item=1):
    it = iter(ds.batch(32).with_options(opts))
    next(it)
    timed.append((name, it, per_item))

  read = tf.data.TFRecordDataset(files).repeat()
  add(f"read {max_views} records", read.map(tf.strings.length), per_item=max_views)
  add("read + group_views", records.group_views(read, max_views))
  held = (records.group_views(tf.data.TFRecordDataset(files), max_views)
          .filter(lambda v, n: n >= 2).take(256).cache())
  for _ in held:
    pass
  held = held.repeat().enumerate()

  def seeds(i):
    return tf.random.experimental.stateless_split(
        tf.stack([tf.constant(dcfg.seed, tf.int64), i]), 4)

  def recs(i, g):
    s = seeds(i)
    a, b = data_lib.choose_views(g[0], g[1], s[0], dcfg)
    return [records.parse_lean(g[0][a]), records.parse_lean(g[0][b])], s

  def window(rec, s):
    return data_lib.crop_window(tf.cast(rec["height"], tf.int32),
                                tf.cast(rec["width"], tf.int32), s)

  def decoded(rec, s):
    return records.decode_window(rec["image"], window(rec, s))

  def resized(rec, s):
    return tf.image.resize(tf.cast(decoded(rec, s), tf.float32) / 255.0, [size, size])

  def flipped(rec, s):
    return tf.image.stateless_random_flip_left_right(resized(rec, s), s)

  stages = [("pick 2 views + parse x2", lambda r, s: r["content_id"]),
            ("+ crop window, JPEG decode x2", lambda r, s: decoded(r, s)[0, 0, 0]),
            (f"+ cast, resize to {size} x2", resized),
            ("+ flip x2", flipped)]
  if strong:
    stages.append(("+ colour jitter x2", lambda r, s: data_lib.colour_jitter(
        flipped(r, s), s)))
  cumulative = set()
  for name, fn in stages:
    def pair(i, g, fn=fn):
      rs, s = recs(i, g)
      return fn(rs[0], s[1]), fn(rs[1], s[2])
    add(name, held.map(pair))
    cumulative.add(name)
  add("make_pair, as the trainer has it",
      held.map(lambda i, g: data_lib.make_pair(g[0], g[1], tf.stack(
          [tf.constant(dcfg.seed, tf.int64), i]), dcfg)))
  least = {name: float("inf") for name, _, _ in timed}
  for _ in range(repeats):
    for name, it, per_item in timed:
      m = load.mark()
      for _ in range(pairs // 32):
        next(it)
      f = load.since(m)
      least[name] = min(least[name], 1e3 * f["our_cores"] * f["wall_s"] * per_item
                        / (pairs // 32 * 32))
  rows, prev = [], 0.0
  for name, _, _ in timed:
    if name in cumulative:
      rows.append((name, least[name] - prev))
      prev = least[name]
    else:
      rows.append((name, least[name]))
  return rows


# -- report ----------------------------------------------------------------------------


def table(rows) -> str:
  w = max(len(r[0]) for r in rows)
  return "\n".join(f"{k:{w}s}  {v}" for k, v in rows)


def main(argv=None) -> dict:
  args = parse_args(argv)
  if args._generate:
    _generate(args._generate, args.contents_per_class, args.stored_size)
    return {}
  data = ensure_dataset(args)
  import tensorflow as tf
  from trainer import train
  cfg = trainer_config(args, data)
  spe = train.steps_per_epoch(cfg, train.data_config(cfg))
  dcfg = train.data_config(cfg, spe)
  note(f"data {data}: {spe} batches of {cfg.batch_size} per epoch; {cfg.backbone}, "
       f"{cfg.image_size} px, {cfg.augment_strength} augmentation, loss {cfg.loss}; "
       f"{os.cpu_count()} CPUs, TF {tf.__version__}")
  load = CpuMonitor()
  res = measure(Bench(args, cfg, dcfg, load), args.repeats)
  per_core = res["per_core"]
  figures = {
      "config": {"data": data, "backbone": cfg.backbone, "image_size": cfg.image_size,
                 "augment_strength": cfg.augment_strength, "batch_size": cfg.batch_size,
                 "loss": cfg.loss, "steps": args.steps, "warmup": args.warmup,
                 "repeats": args.repeats, "batches_per_epoch": spe,
                 "cpus": os.cpu_count(), "tensorflow": tf.__version__},
      "input_pairs_per_s": res["input"]["pairs_per_s"],
      "input_pairs_per_s_per_core": per_core["measured_one_thread"],
      "input_pairs_per_s_per_core_from_cpu_time": per_core["from_cpu_time"],
      "cores_for_1000_pairs_per_s": per_core["cores_for_1000"],
      "phases": res,
  }
  if "step" in res:
    figures.update(step_pairs_per_s=res["step"]["pairs_per_s"],
                   end_to_end_pairs_per_s=res["end_to_end"]["pairs_per_s"],
                   ratio=res["ratio"], cpu_ratio=res["cpu_ratio"],
                   target_ratio=TARGET_RATIO)
  if args.profile:
    note("profile: CPU ms per pair by stage (one thread, sequential) ...")
    load.wait_quiet(args.wait_quiet, "stage costs", limit=0.2, sample_s=1.0)
    figures["stages_cpu_ms_per_pair"] = {k: round(v, 3) for k, v in
                                         stage_costs(dcfg, load)}

  def row(name, f, extra=""):
    return (name, f"{f['pairs_per_s']:8.1f}  {f['least_cpu_ms_per_pair']:8.3f}  "
                  f"{f['other_cores']:6.2f}  {extra}")

  rows = [("", " pairs/s  CPU ms/pair  others' cores (best run)"),
          row("input pipeline, all cores", res["input"]),
          row("input pipeline, one thread", res["input_one_core"])]
  if "step" in res:
    rows += [row("train step alone", res["step"], f"{res['step']['ms_per_step']} ms/step"),
             row("end-to-end", res["end_to_end"]),
             ("ratio input/step", f"{res['ratio']:8.2f}  (target >= {TARGET_RATIO:g}; "
              f"by CPU time per pair: {res['cpu_ratio']})")]
  rows.append(("input pairs/s per core", f"{per_core['measured_one_thread']:8.1f}  (one "
               f"thread; from CPU time per pair: {per_core['from_cpu_time']})"))
  rows.append((f"cores to feed {FEED_TARGET:g} pairs/s", f"{per_core['cores_for_1000']:8d}"))
  for name, ms in figures.get("stages_cpu_ms_per_pair", {}).items():
    rows.append((f"  stage: {name}", f"{ms:8.3f} CPU ms/pair"))
  note("")
  note(table(rows))
  busy = sorted(k for k in res if isinstance(res[k], dict) and
                res[k].get("other_cores", 0) >= 0.3)
  if busy:
    note(f"WARNING: other processes used >= 0.3 cores during the best {', '.join(busy)} "
         "run; those pairs/s are low (CPU time per pair is steadier). Rerun on a quiet "
         "machine.")
  result = (f"RESULT input_pairs_per_s={figures['input_pairs_per_s']} "
            f"per_core={per_core['measured_one_thread']} "
            f"cores_for_1000_pairs_per_s={per_core['cores_for_1000']}")
  if "step" in res:
    result += (f" step_pairs_per_s={figures['step_pairs_per_s']} ratio={res['ratio']} "
               f"(target >= {TARGET_RATIO:g})")
  note(result)
  if args.json:
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(figures, indent=2))
  return figures


if __name__ == "__main__":
  main()
