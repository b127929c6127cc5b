"""Trainer throughput: the input pipeline vs the train step, on the same data, in one run.

    .venv/bin/python benchmarks/trainer_throughput.py [--data DIR] [--image_size 64]
        [--batch_size 32] [--steps N] [--backbone small_cnn] [--json PATH] [--profile]

1. input: pairs/s that `trainer.data.make_pair_dataset` produces alone (no model).
2. step: pairs/s that the trainer's train step consumes (same model, optimizer,
   Objective and step body as `trainer.train.pretrain`) on one real batch held in
   memory, so no input cost is counted.
3. ratio = input / step. Target >= 3: on CPU the pipeline and the step share the same
   cores, so the pipeline needs a wide margin to keep the step fed. End-to-end (the step
   fed by the real pipeline) is shown for context; it is below both on 2 cores.

Each phase runs --repeats rounds and its fastest run counts: other processes on a
shared machine only slow a run down. Their CPU use is measured per run and reported;
the ratio of CPU time per pair (step / input) is printed too, as it moves less with
their load than wall-clock rates do.

--profile adds the input pipeline's CPU per pair by stage (read, grouping, parse, JPEG
decode, resize, augment; each stage sequential, least of 3) and candidate fixes, each
monkeypatched into trainer.data in this process only: its per-pair CPU, a check that
it yields the same pairs, and its pairs/s (round-robin with the baseline).

Without --data a dataset is generated once (the demo's recipe at 672 contents, ~1.5 min
on 2 cores, in a child process) into --cache_dir and reused.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

from cpu_monitor import CpuMonitor, note  # beside this script  # noqa: E402

TARGET_RATIO = 3.0
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
  p.add_argument("--json", metavar="PATH", help="also write the figures here")
  p.add_argument("--profile", action="store_true",
                 help="CPU per pair by input stage, and candidate fixes measured")
  p.add_argument("--cache_dir", default=str(CACHE))
  p.add_argument("--contents_per_class", type=int, default=112,
                 help="generated contents per class, 6 classes (default 112: ~540 train "
                      "contents, more than the 512-group shuffle buffer)")
  p.add_argument("--wait_quiet", type=float, default=10.0, metavar="SECONDS",
                 help="before each phase wait up to this long for other processes to go "
                      "below 0.2 cores (0: do not wait)")
  p.add_argument("--_generate", help=argparse.SUPPRESS)
  return p.parse_args(argv)


# -- data ----------------------------------------------------------------------------


def _generate(out: str, contents_per_class: int) -> None:
  """Runs in a child process, so Beam's threads and logging stay out of the timings."""
  from beam_jobs import stylize
  from pipeline import sample_images
  sample = sample_images.write_sample(os.path.join(out, "inputs"),
                                      contents_per_class=contents_per_class)
  stylize.run([f"--content={sample['content_dir']}", f"--styles={sample['styles_dir']}",
               "--content_labels_from_dirs", "--stylizer=classical",
               "--styles_per_content=3", "--include_original",
               "--holdout_style_fraction=0.25", "--image_size=128",
               "--records_per_shard=256", "--seed=0",
               f"--output={os.path.join(out, 'stylized')}", "--overwrite",
               "--direct_running_mode=in_memory"])


def ensure_dataset(args) -> str:
  """The demo's recipe (128 px JPEG, original + 3 styles) at a size worth timing."""
  if args.data:
    return args.data
  out = pathlib.Path(args.cache_dir) / f"c{args.contents_per_class}"
  dataset = out / "stylized"
  if (dataset / "stylized_metadata.json").exists():
    note(f"dataset (cached): {dataset}")
    return str(dataset)
  note(f"generating {6 * args.contents_per_class} contents x 4 views into {out} ...")
  t = time.time()
  subprocess.run([sys.executable, __file__, "--_generate", str(out),
                  "--contents_per_class", str(args.contents_per_class)],
                 check=True, stdout=subprocess.DEVNULL)
  note(f"  generated in {time.time() - t:.0f} s")
  return str(dataset)


# -- the trainer's pieces --------------------------------------------------------------


def trainer_config(args, data: str):
  from trainer.config import Config
  return Config(data=data, backbone=args.backbone, image_size=args.image_size,
                batch_size=args.batch_size, loss=args.loss, job_dir=tempfile.gettempdir())


def make_train_step(cfg, total_steps: int):
  """pretrain()'s own model, optimizer, Objective and step (trainer.train), minus I/O
  and checkpoints. Returns (train_step(iterator) -> parts, strategy)."""
  import keras
  import tensorflow as tf
  from trainer import train
  strategy = tf.distribute.get_strategy()
  keras.utils.set_random_seed(cfg.seed)
  t = train.build_trainables(cfg, strategy, total_steps)
  return train.make_train_step(cfg, strategy, t, train.Objective(cfg, t.head)), strategy


def pipeline(dcfg, strategy):
  """The trainer's input, built the way pretrain() builds it."""
  from trainer import data as data_lib
  return strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.make_pair_dataset(dcfg, ctx))


# -- timings ---------------------------------------------------------------------------


class Bench:
  """The three phases on one config. Each call times one run, after a warm-up, with its
  own iterator (freed before the next phase, so no pipeline runs in the background)."""

  def __init__(self, args, cfg, dcfg, load: CpuMonitor):
    self.args, self.dcfg, self.load = args, dcfg, load
    self.b, self.n, self.w = args.batch_size, args.steps, args.warmup
    self.train_step, self.strategy = make_train_step(
        cfg, total_steps=10 * args.repeats * (args.steps + args.warmup))
    self._held = None

  def _wait(self, label: str) -> None:
    self.load.wait_quiet(self.args.wait_quiet, label, limit=0.2, sample_s=1.0)

  def _figures(self, m, wall_steps: int) -> dict:
    f = self.load.since(m)
    pairs = wall_steps * self.b
    f["pairs_per_s"] = round(pairs / f["wall_s"], 1)
    f["cpu_ms_per_pair"] = round(1e3 * f["our_cores"] * f["wall_s"] / pairs, 3)
    return f

  def input(self, label: str = "input") -> dict:
    """Pairs/s pulled from the pipeline as fast as Python asks: no model."""
    self._wait(label)
    it = iter(pipeline(self.dcfg, self.strategy))
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
      self._held = next(iter(pipeline(self.dcfg, self.strategy)))
      gc.collect()
    self._wait("step")
    return self._steps(iter(tf.data.Dataset.from_tensors(self._held).repeat()))

  def end_to_end(self, label: str = "end-to-end") -> dict:
    """The step fed by the real pipeline, as in pretrain()."""
    self._wait(label)
    it = iter(pipeline(self.dcfg, self.strategy))
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
  """input, step, end-to-end in turn, `repeats` rounds; best of each."""
  runs = {"input": [], "step": [], "end_to_end": []}
  for r in range(repeats):
    note(f"round {r + 1}/{repeats}")
    for phase, fn in (("input", bench.input), ("step", bench.step),
                      ("end_to_end", bench.end_to_end)):
      runs[phase].append(fn())
      show(phase, runs[phase][-1])
  res = {k: best(v) for k, v in runs.items()}
  res["ratio"] = round(res["input"]["pairs_per_s"] / res["step"]["pairs_per_s"], 2)
  res["cpu_ratio"] = round(res["step"]["least_cpu_ms_per_pair"]
                           / res["input"]["least_cpu_ms_per_pair"], 2)
  return res


# -- profile: stage costs and candidate fixes ------------------------------------------


@contextlib.contextmanager
def patched(module, **attrs):
  """Swaps module attributes for the duration (this process only)."""
  saved = {k: getattr(module, k) for k in attrs}
  for k, v in attrs.items():
    setattr(module, k, v)
  try:
    yield
  finally:
    for k, v in saved.items():
      setattr(module, k, v)


def _lean_spec():
  import tfrecords_schema as schema
  keep = ("image", "content_id", "style_id", "content_primary_label_id", "schema_version")
  return {k: v for k, v in schema.feature_spec().items() if k in keep}


def lean_decode_view(serialized, image_size: int, image: bool = True):
  """decode_view parsing only the fields _pair uses (not every field, lists densified);
  the schema version is still checked. image=False: the parsed fields only."""
  import tensorflow as tf
  import tfrecords_schema as schema
  rec = tf.io.parse_single_example(serialized, _lean_spec())
  tf.debugging.assert_equal(rec["schema_version"], tf.constant(schema.SCHEMA_VERSION,
                            tf.int64), message="record schema_version differs")
  if not image:
    return rec
  img = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
  img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [image_size, image_size])
  img.set_shape([image_size, image_size, 3])
  return img, rec


def make_crop_pair(original_pair):
  """_pair whose light augmentation decodes only the crop window of the stored JPEG
  (decode_and_crop_jpeg) and resizes once, instead of decode all -> resize to S ->
  crop -> resize to S. The crop is augment()'s, drawn with the same seeds in S-pixel
  units and mapped to stored pixels, so only the interpolation differs."""
  import tensorflow as tf
  from trainer import data as data_lib

  def view(serialized, seed, size):
    rec = data_lib.schema.parse_example(serialized)
    s = tf.random.experimental.stateless_split(seed, 6)
    scale = tf.random.stateless_uniform([], s[0], 0.6, 1.0)
    side = tf.cast(tf.round(tf.sqrt(scale) * size), tf.int32)
    # stateless_random_crop's own offset draw, for a [side, side, 3] crop of [S, S, 3]
    off = tf.random.stateless_uniform([3], s[1], 0, tf.int32.max, tf.int32)[:2] % (
        size - side + 1)
    hw = tf.cast(tf.io.extract_jpeg_shape(rec["image"])[:2], tf.float32)
    k = hw / size  # stored pixels per S pixel
    top_left = tf.cast(tf.round(tf.cast(off, tf.float32) * k), tf.int32)
    extent = tf.minimum(tf.cast(tf.round(tf.cast(side, tf.float32) * k), tf.int32),
                        tf.cast(hw, tf.int32) - top_left)
    img = tf.io.decode_and_crop_jpeg(rec["image"], tf.concat([top_left, extent], 0),
                                     channels=3)
    img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [size, size])
    img = tf.image.stateless_random_flip_left_right(img, s[2])
    img = tf.clip_by_value(img, 0.0, 1.0)
    img.set_shape([size, size, 3])
    return img, rec

  def crop_pair(views, n, seed, cfg):
    if not cfg.augment or cfg.pair_mode != "styles":
      return original_pair(views, n, seed, cfg)
    s = tf.random.experimental.stateless_split(seed, 4)
    i = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
    j = (i + tf.random.stateless_uniform([], s[1], 1, n, tf.int32)) % n
    img_a, rec_a = view(views[i], s[2], cfg.image_size)
    img_b, rec_b = view(views[j], s[3], cfg.image_size)
    return {"view_a": img_a, "view_b": img_b, "content_id": rec_a["content_id"],
            "content_id_b": rec_b["content_id"], "style_a": rec_a["style_id"],
            "style_b": rec_b["style_id"], "label": rec_a["content_primary_label_id"]}

  return crop_pair


def group_views_blocked(records, max_views: int, block: int = 64):
  """group_views with one function call per block of records instead of ~4 per record.

  Content ids of a block are parsed together; groups wholly inside the block are
  emitted at once; the block's trailing group (it may go on in the next block) is
  carried in the scan state. Same elements, same order, same max_views rule.
  """
  import tensorflow as tf
  spec = {"content_id": tf.io.FixedLenFeature([], tf.int64)}
  end = tf.data.Dataset.from_tensors((tf.constant([-2], tf.int64), tf.constant([b""])))
  blocks = records.batch(block).map(
      lambda s: (tf.io.parse_example(s, spec)["content_id"], s)).concatenate(end)

  def step(carry, blk):
    ids = tf.concat([carry[0], blk[0]], 0)
    strs = tf.concat([carry[1], blk[1]], 0)
    starts = tf.concat([[True], tf.not_equal(ids[1:], ids[:-1])], 0)
    seg = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    last = seg[-1]  # the trailing group: carried, not emitted
    count = tf.math.unsorted_segment_sum(tf.ones_like(seg), seg, last + 1)
    first = tf.gather(tf.cast(tf.where(starts)[:, 0], tf.int32), seg)
    pos = tf.range(tf.shape(seg)[0]) - first
    slot = tf.minimum(pos, max_views - 1)  # as group_views: the last view takes the
    keep = tf.logical_and(seg < last, tf.logical_or(  # last slot of an oversize group
        pos < max_views - 1, tf.equal(pos, tf.gather(count, seg) - 1)))
    index = tf.boolean_mask(tf.stack([seg, slot], 1), keep)
    views = tf.tensor_scatter_nd_update(tf.fill(tf.stack([last, max_views]), ""),
                                        index, tf.boolean_mask(strs, keep))
    n = tf.minimum(count[:last], max_views)
    tail = tf.equal(seg, last)
    return (tf.boolean_mask(ids, tail), tf.boolean_mask(strs, tail)), (views, n)

  init = (tf.zeros([0], tf.int64), tf.zeros([0], tf.string))
  return blocks.scan(init, step).unbatch()


def make_batch_augment(original_make, stored: int):
  """make_pair_dataset with the light augmentation moved after batching.

  Per pair only the chosen views are parsed (lean) and JPEG-decoded, at their stored
  size; per batch one crop_and_resize does every view's random crop, flip and single
  resize to S: ~15 ops per batch instead of ~25 per view, one resampling, not two.
  The crops are drawn per batch from its first pair's seed, so the stream stays a pure
  function of (seed, epoch). Needs every stored image to be stored x stored (the
  dataset job writes --image_size squares; the metadata says which).
  """
  import tensorflow as tf
  from trainer import data as data_lib

  def raw(serialized):
    rec = lean_decode_view(serialized, 0, image=False)
    img = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
    img = tf.ensure_shape(img, [stored, stored, 3])
    return img, rec

  def pair_raw(views, n, seed, cfg):
    s = tf.random.experimental.stateless_split(seed, 4)
    i = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
    j = (i + tf.random.stateless_uniform([], s[1], 1, n, tf.int32)) % n
    (img_a, rec_a), (img_b, rec_b) = raw(views[i]), raw(views[j])
    return {"view_a": img_a, "view_b": img_b, "content_id": rec_a["content_id"],
            "content_id_b": rec_b["content_id"], "style_a": rec_a["style_id"],
            "style_b": rec_b["style_id"], "label": rec_a["content_primary_label_id"],
            "_seed": s[2]}

  def augment_batch(batch, size):
    batch = dict(batch)
    seed = batch.pop("_seed")[0]
    b = tf.shape(batch["view_a"])[0]
    images = tf.concat([batch["view_a"], batch["view_b"]], 0)
    m = 2 * b
    s = tf.random.experimental.stateless_split(seed, 3)
    side = tf.sqrt(tf.random.stateless_uniform([m], s[0], 0.6, 1.0))
    y0, x0 = tf.unstack(tf.random.stateless_uniform([2, m], s[1]) * (1.0 - side))
    # A box with x1 > x2 is read mirrored: the flip costs nothing (a separate
    # reverse + where over the batch cost more than the crop itself).
    flip = tf.random.stateless_uniform([m], s[2]) < 0.5
    x_from, x_to = tf.where(flip, x0 + side, x0), tf.where(flip, x0, x0 + side)
    boxes = tf.stack([y0, x_from, y0 + side, x_to], 1)
    # Bilinear weights are convex: values stay in [0, 255], so no clip is needed.
    out = tf.image.crop_and_resize(images, boxes, tf.range(m), [size, size]) / 255.0
    batch["view_a"], batch["view_b"] = out[:b], out[b:]
    return batch

  def make(cfg, input_context=None, epoch=0, repeat=True):
    if not cfg.augment or cfg.pair_mode != "styles":
      return original_make(cfg, input_context, epoch, repeat)
    with patched(data_lib, _pair=pair_raw):
      ds = original_make(cfg, input_context, epoch, repeat)
    return ds.map(lambda x: augment_batch(x, cfg.image_size),
                  num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

  make.pair_raw, make.augment_batch = pair_raw, augment_batch
  return make


ORIGINAL: dict = {}


def fixes(dcfg) -> dict:
  """name -> attributes of trainer.data to patch."""
  from trainer import data as data_lib
  ORIGINAL.update(decode_view=data_lib.decode_view, _pair=data_lib._pair,
                  group_views=data_lib.group_views,
                  make_pair_dataset=data_lib.make_pair_dataset)
  out = {
      "lean_parse": {"decode_view": lean_decode_view},
      "crop_decode": {"_pair": make_crop_pair(ORIGINAL["_pair"])},
      "blocked_grouping": {"group_views": group_views_blocked},
  }
  meta = data_lib.read_metadata(dcfg.data) or {}
  image = meta.get("image", {})
  if image.get("size"):
    batched = make_batch_augment(ORIGINAL["make_pair_dataset"], int(image["size"]))
    out["batch_augment"] = {"make_pair_dataset": batched}
    out["all"] = {"group_views": group_views_blocked, "make_pair_dataset": batched}
  return out


def same_groups(files, max_views: int) -> bool:
  """Blocked grouping yields exactly group_views's elements, shard by shard."""
  import tensorflow as tf
  for f in files:
    a = list(ORIGINAL["group_views"](tf.data.TFRecordDataset(f), max_views)
             .as_numpy_iterator())
    b = list(group_views_blocked(tf.data.TFRecordDataset(f), max_views)
             .as_numpy_iterator())
    if len(a) != len(b) or any(x[1] != y[1] or list(x[0]) != list(y[0])
                               for x, y in zip(a, b)):
      return False
  return True


def stage_costs(dcfg, load: CpuMonitor, variants: dict, pairs: int = 512,
                repeats: int = 5) -> tuple:
  """CPU ms per pair of each input stage, each run sequentially (one map, no overlap).

  Grouping is timed on the shards; the per-pair rows are cumulative maps over groups
  held in memory, each row's cost its difference from the row before; then the whole
  per-pair map as the trainer has it and with each fix. All are timed round-robin,
  `repeats` times, least CPU kept: others' load only ever adds (shared caches and
  cores), and round-robin spreads it over every row alike. Also checks that each fix
  yields the trainer's pairs (identical, or the mean |difference| of the views).
  """
  import numpy as np
  import tensorflow as tf
  from trainer import data as data_lib
  files = data_lib.resolve_files(dcfg.data, dcfg.split)
  max_views = data_lib.views_per_content(dcfg)
  size = dcfg.image_size
  opts = tf.data.Options()  # no injected prefetch: an idle iterator must not compute
  opts.autotune.enabled = False
  opts.experimental_optimization.inject_prefetch = False
  timed = []  # (name, iterator, items per element)

  def add(name, ds, batched=False, per_item=1):
    it = iter((ds if batched else ds.batch(32)).with_options(opts))
    next(it)
    timed.append((name, it, per_item))

  read = tf.data.TFRecordDataset(files).repeat()
  add(f"read {max_views} records", read.map(tf.strings.length), per_item=max_views)
  add("read + group_views (scan)", ORIGINAL["group_views"](read, max_views))
  add("read + blocked grouping [fix]", group_views_blocked(read, max_views))
  held = (ORIGINAL["group_views"](tf.data.TFRecordDataset(files), max_views)
          .filter(lambda v, n: n >= 2).take(256).cache())
  for _ in held:
    pass
  held = held.repeat().enumerate()

  def seed(i):
    return tf.stack([tf.constant(dcfg.seed, tf.int64), i])

  def picked(i, group):
    views, n = group
    s = tf.random.experimental.stateless_split(seed(i), 4)
    a = tf.random.stateless_uniform([], s[0], 0, n, tf.int32)
    b = (a + tf.random.stateless_uniform([], s[1], 1, n, tf.int32)) % n
    return views[a], views[b], s

  parse = data_lib.schema.parse_example
  decode = ORIGINAL["decode_view"]

  def jpeg(x):
    return tf.io.decode_image(parse(x)["image"], 3, expand_animations=False)[0, 0, 0]

  cumulative = [
      ("pick 2 views", lambda a, b, s: tf.strings.length(a) + tf.strings.length(b)),
      ("+ parse_example x2", lambda a, b, s: parse(a)["content_id"] +
       parse(b)["content_id"]),
      ("+ JPEG decode x2", lambda a, b, s: jpeg(a) + jpeg(b)),
      (f"+ cast, resize to {size} x2", lambda a, b, s: (decode(a, size)[0],
                                                        decode(b, size)[0])),
      ("+ augment x2 (crop, resize, flip)", lambda a, b, s: (
          data_lib.augment(decode(a, size)[0], s[2]),
          data_lib.augment(decode(b, size)[0], s[3]))),
  ]
  for name, fn in cumulative:
    add(name, held.map(lambda i, g, fn=fn: fn(*picked(i, g))))

  from trainer import data as module

  def pair_map(attrs):
    with patched(module, **attrs):
      pair = module._pair
      return held.map(lambda i, g: pair(g[0], g[1], seed(i), dcfg))

  base = pair_map({})
  add("_pair as the trainer has it", base)
  checks = {"blocked_grouping": "identical groups" if same_groups(files, max_views)
            else "DIFFERENT groups"}
  ref = next(iter(base.batch(32)))
  for name, attrs in variants.items():
    if "make_pair_dataset" in attrs:  # per-pair map, then the per-batch augment
      make = attrs["make_pair_dataset"]
      ds = held.map(lambda i, g: make.pair_raw(g[0], g[1], seed(i), dcfg)).batch(32).map(
          lambda x: make.augment_batch(x, size))
      add(f"per-pair map + per-batch augment [{name}]", ds, batched=True)
      got = next(iter(ds))
      diff = None  # other crops (drawn per batch): only the non-image fields compare
    elif "_pair" in attrs or "decode_view" in attrs:
      ds = pair_map(attrs)
      add(f"_pair [{name}]", ds)
      got = next(iter(ds.batch(32)))
      diff = max(float(np.mean(np.abs(got[k] - ref[k]))) for k in ("view_a", "view_b"))
    else:
      continue
    same_ids = all(np.array_equal(got[k], ref[k]) for k in ref if "view" not in k)
    views_ok = all(got[k].shape == ref[k].shape and got[k].dtype == ref[k].dtype and
                   0.0 <= float(np.min(got[k])) and float(np.max(got[k])) <= 1.0
                   for k in ("view_a", "view_b"))
    checks[name] = ((f"views mean |diff| {diff:.4f}, " if diff is not None else "") +
                    f"views shape/dtype/range {'ok' if views_ok else 'WRONG'}, "
                    f"ids/styles/labels {'identical' if same_ids else 'DIFFERENT'}")

  least = {name: float("inf") for name, _, _ in timed}
  for _ in range(repeats):
    for name, it, per_item in timed:
      m = load.mark()
      for _ in range(pairs // 32):
        next(it)
      f = load.since(m)
      ms = 1e3 * f["our_cores"] * f["wall_s"] * per_item / (pairs // 32 * 32)
      least[name] = min(least[name], ms)
  rows, prev = [], 0.0
  cumulative_names = {name for name, _ in cumulative}
  for name, _, _ in timed:
    if name in cumulative_names:  # a stage's own cost: the difference
      rows.append((name, least[name] - prev))
      prev = least[name]
    else:
      rows.append((name, least[name]))
  return rows, checks


def profile(bench: Bench, args) -> dict:
  """Stage costs, then each fix against the baseline, round-robin (others' load hits
  all variants alike), best of --repeats; end-to-end for the baseline and all fixes."""
  from trainer import data as data_lib
  variants = fixes(bench.dcfg)
  note("profile: CPU ms per pair by stage (one thread, sequential) ...")
  bench._wait("stage costs")
  rows, checks = stage_costs(bench.dcfg, bench.load, variants)
  for name, ms in rows:
    note(f"  {name:48s} {ms:6.3f}")
  for name, text in checks.items():
    note(f"  check {name}: {text}")
  runs = {name: [] for name in ["baseline", *variants]}
  e2e = {"baseline": [], "all": []} if "all" in variants else {}
  for r in range(args.repeats):
    note(f"fixes, round {r + 1}/{args.repeats}")
    for name in runs:
      with patched(data_lib, **variants.get(name, {})):
        runs[name].append(bench.input(f"input [{name}]"))
      show(f"input [{name}]", runs[name][-1])
    for name in e2e:
      with patched(data_lib, **variants.get(name, {})):
        e2e[name].append(bench.end_to_end(f"end-to-end [{name}]"))
      show(f"end-to-end [{name}]", e2e[name][-1])
  return {"stages_cpu_ms_per_pair": {k: round(v, 3) for k, v in rows}, "checks": checks,
          "input": {k: best(v) for k, v in runs.items()},
          "end_to_end": {k: best(v) for k, v in e2e.items()}}


# -- report ----------------------------------------------------------------------------


def table(rows) -> str:
  w = max(len(r[0]) for r in rows)
  return "\n".join(f"{k:{w}s}  {v}" for k, v in rows)


def main(argv=None) -> dict:
  args = parse_args(argv)
  if args._generate:
    _generate(args._generate, args.contents_per_class)
    return {}
  data = ensure_dataset(args)
  import tensorflow as tf
  from trainer import train
  cfg = trainer_config(args, data)
  dcfg = train.data_config(cfg)
  spe = train.steps_per_epoch(cfg, dcfg)
  note(f"data {data}: {spe} batches of {cfg.batch_size} per epoch; {cfg.backbone}, "
       f"{cfg.image_size} px, loss {cfg.loss}; {os.cpu_count()} CPUs, "
       f"TF {tf.__version__}")
  load = CpuMonitor()
  bench = Bench(args, cfg, dcfg, load)
  res = measure(bench, args.repeats)
  figures = {
      "config": {"data": data, "backbone": cfg.backbone, "image_size": cfg.image_size,
                 "batch_size": cfg.batch_size, "loss": cfg.loss, "steps": args.steps,
                 "warmup": args.warmup, "repeats": args.repeats,
                 "batches_per_epoch": spe, "cpus": os.cpu_count(),
                 "tensorflow": tf.__version__},
      "input_pairs_per_s": res["input"]["pairs_per_s"],
      "step_pairs_per_s": res["step"]["pairs_per_s"],
      "end_to_end_pairs_per_s": res["end_to_end"]["pairs_per_s"],
      "ratio": res["ratio"], "cpu_ratio": res["cpu_ratio"], "target_ratio": TARGET_RATIO,
      "phases": res,
  }
  if args.profile:
    figures["profile"] = profile(bench, args)

  def row(name, f, extra=""):
    return (name, f"{f['pairs_per_s']:8.1f}  {f['least_cpu_ms_per_pair']:8.3f}  "
                  f"{f['other_cores']:6.2f}  {extra}")

  rows = [("", " pairs/s  CPU ms/pair  others' cores (best run)"),
          row("input pipeline alone", res["input"]),
          row("train step alone", res["step"], f"{res['step']['ms_per_step']} ms/step"),
          row("end-to-end", res["end_to_end"]),
          ("ratio input/step", f"{res['ratio']:8.2f}  (target >= {TARGET_RATIO:g}; "
           f"by CPU time per pair: {res['cpu_ratio']})")]
  prof = figures.get("profile")
  if prof:
    step = res["step"]["pairs_per_s"]
    for name, f in prof["input"].items():
      rows.append(row(f"input [{name}]", f, f"ratio {f['pairs_per_s'] / step:.2f}"))
    for name, f in prof["end_to_end"].items():
      rows.append(row(f"end-to-end [{name}]", f))
  note("")
  note(table(rows))
  busy = sorted({k for k in ("input", "step", "end_to_end")
                 if res[k]["other_cores"] >= 0.3})
  if busy:
    note(f"WARNING: other processes used >= 0.3 cores during the best {', '.join(busy)} "
         "run; those pairs/s are low and the ratio is skewed (the CPU-time ratio "
         f"{res['cpu_ratio']} is steadier). Rerun on a quiet machine.")
  note(f"RESULT input_pairs_per_s={figures['input_pairs_per_s']} "
       f"step_pairs_per_s={figures['step_pairs_per_s']} ratio={figures['ratio']} "
       f"(target >= {TARGET_RATIO:g})")
  if args.json:
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(figures, indent=2))
  return figures


if __name__ == "__main__":
  main()
