"""Bare stylizer speed: views/s of one stylizer spec, in this process, no Beam.

    .venv/bin/python benchmarks/stylizer_speed.py [--contents 16 --styles 4 --rounds 2]
        [--case SPEC@SIZExBATCH ...] [--tf_model DIR] [--json PATH]
    .venv/bin/python benchmarks/stylizer_speed.py --gpu_sweep [--tf_model DIR]

Without --case it measures, on the same COCO photos and AIC paintings from ../shared:
  * LiteRT: `tflite:<shared pair>` at 256 px output (the network runs at its fixed 384);
  * the TF port: `hub:<SavedModel>` at 256 px, batch 1 and batch 8;
with --tf_model DIR an exported port, else one exported into a temp folder first.

`measure()` is the figure: contents are resized to SIZE beforehand and style steps run
(and are timed) once per style; then every content is stylized once per round, in
content_step calls of BATCH views with per-view styles, after one untimed warm-up batch
(the first call traces the graph). views/s = views / seconds inside content_step.

--gpu_sweep prints img/s of the TF port at batch 1/8/32/128 at 256 px, with and without
XLA, on the first GPU; without a GPU it says so and measures nothing.
Needs ../shared; without it, says so and exits 0. Smoke-run it at tiny sizes on a shared
machine; published figures come from a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time
from typing import Sequence

import numpy as np

from bench_common import MODEL_DIR, PAINTINGS, PHOTOS, SHARED  # beside this script

SWEEP_BATCHES = (1, 8, 32, 128)


def load_inputs(n_contents: int, n_styles: int, size: int):
  """First n sorted COCO photos resized to size (centre crop, as the job does) and the
  first n sorted paintings, all uint8."""
  from pipeline import image_io
  photos = sorted(PHOTOS.glob("train2017/*.jpg")) + sorted(PHOTOS.glob("val2017/*.jpg"))
  paintings = sorted(PAINTINGS.glob("*.jpg"))
  if n_contents > len(photos) or n_styles > len(paintings):
    raise SystemExit(f"error: asked for {n_contents} contents and {n_styles} styles; "
                     f"../shared has {len(photos)} photos and {len(paintings)} paintings")
  contents = np.stack([image_io.resize_to_square(image_io.load_image(str(p)), size)
                       for p in photos[:n_contents]])
  styles = [image_io.load_image(str(p)) for p in paintings[:n_styles]]
  return contents, styles


def measure(spec: str, contents: np.ndarray, styles: Sequence[np.ndarray],
            batch_size: int, rounds: int = 1, stylizer=None) -> dict:
  """views/s of `spec` on uint8 contents [N,S,S,3] (already at the output size S).

  View i pairs content i % N with style i % len(styles); `rounds` passes over the N
  contents. Pass an already built `stylizer` to reuse a loaded model.
  """
  from pipeline.stylizers import from_spec
  if stylizer is None:
    stylizer = from_spec(spec)
    stylizer.validate()
  t0 = time.perf_counter()
  stylizer.load()
  load_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  states = [stylizer.style_step(s) for s in styles]
  style_s = time.perf_counter() - t0
  x = contents.astype(np.float32) / 255.0
  n = len(x) * rounds
  order = [i % len(x) for i in range(n)]
  batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]

  def run(batch):
    stylizer.content_step(x[batch], [states[i % len(states)] for i in batch],
                          [1.0] * len(batch))

  run(batches[0])  # warm-up: graph tracing, first interpreter invoke
  calls = getattr(stylizer, "content_model_calls", None)
  times = []
  for batch in batches:
    t0 = time.perf_counter()
    run(batch)
    times.append(time.perf_counter() - t0)
  seconds = float(np.sum(times))
  result = {"spec": spec, "size": int(x.shape[1]), "batch_size": batch_size,
            "views": n, "content_s": round(seconds, 3),
            "views_per_s": round(n / seconds, 3), "style_steps": len(states),
            "style_s": round(style_s, 3), "load_s": round(load_s, 2)}
  if calls is not None:
    result["content_model_calls"] = stylizer.content_model_calls - calls
  for key in ("device", "jit_compile", "threads_in_use"):
    if getattr(stylizer, key, None) is not None:
      result[key] = getattr(stylizer, key)
  return result


def list_gpus() -> list:
  import tensorflow as tf
  found = tf.config.list_physical_devices("GPU")
  if not found:
    print("gpu_sweep: no GPU present (tf.config.list_physical_devices('GPU') is empty); "
          "nothing measured. Run it on a GPU machine (README: GPU recipe).", flush=True)
  return found


def gpu_sweep(tf_model: str, contents: np.ndarray, styles, rounds: int) -> list[dict]:
  """img/s of the port at SWEEP_BATCHES, XLA off then on; [] without a GPU."""
  import tensorflow as tf
  from pipeline.stylizers.hub import HubStylizer
  found = list_gpus()
  if not found:
    return []
  print(f"gpu_sweep: {found[0].name} "
        f"{tf.config.experimental.get_device_details(found[0]).get('device_name', '')}")
  results = []
  for jit in (False, True):
    stylizer = HubStylizer(tf_model, jit_compile=jit)
    for batch in SWEEP_BATCHES:
      reps = -(-batch // len(contents))  # enough copies of the photos for one batch
      pool = np.concatenate([contents] * reps)[:max(batch, len(contents))]
      r = measure(f"hub:{tf_model}", pool, styles, batch, rounds, stylizer=stylizer)
      print(f"  batch {batch:4d} xla {'on ' if jit else 'off'}: "
            f"{r['views_per_s']:8.1f} img/s at 256 px ({r['device']})", flush=True)
      results.append(r)
  return results


def parse_case(text: str, tf_model: str) -> tuple[str, int, int]:
  """'SPEC@SIZExBATCH' (the spec may contain ':' and '?'); TF_MODEL in SPEC is replaced."""
  spec, _, rest = text.rpartition("@")
  size, _, batch = rest.partition("x")
  if not spec or not size.isdigit() or not batch.isdigit():
    raise SystemExit(f"error: --case {text!r}: expected SPEC@SIZExBATCH, "
                     "e.g. hub:TF_MODEL@256x8")
  return spec.replace("TF_MODEL", tf_model), int(size), int(batch)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--contents", type=int, default=16, help="COCO photos (default 16)")
  p.add_argument("--styles", type=int, default=4, help="paintings (default 4)")
  p.add_argument("--rounds", type=int, default=2, help="passes over the contents")
  p.add_argument("--case", action="append", default=[], metavar="SPEC@SIZExBATCH",
                 help="what to measure (repeatable); TF_MODEL stands for the port; "
                      "default: tflite pair @256x1, hub:TF_MODEL @256x1 and @256x8")
  p.add_argument("--tf_model", help="exported port (default: export one to a temp dir)")
  p.add_argument("--gpu_sweep", action="store_true",
                 help="img/s of the port at batch 1/8/32/128, 256 px, on the first GPU")
  p.add_argument("--json", help="also write the results to this JSON file")
  args = p.parse_args(argv)
  if min(args.contents, args.styles, args.rounds) < 1:
    p.error("--contents, --styles and --rounds must be >= 1")
  if not MODEL_DIR.exists() or not PHOTOS.exists():
    print(f"stylizer_speed: needs {SHARED} (real model and photos); absent, skipping")
    return 0
  if args.gpu_sweep and not list_gpus():
    return 0
  with tempfile.TemporaryDirectory(prefix="stylizer_speed_") as tmp:
    tf_model = args.tf_model
    if tf_model is None:
      from pipeline.stylizers import magenta_tf
      t0 = time.perf_counter()
      tf_model = magenta_tf.export(str(MODEL_DIR), os.path.join(tmp, "magenta_tf"))
      print(f"exported the TF port in {time.perf_counter() - t0:.1f} s", flush=True)
    if args.gpu_sweep:
      contents, styles = load_inputs(args.contents, args.styles, 256)
      results = gpu_sweep(tf_model, contents, styles, args.rounds)
    else:
      cases = [parse_case(c, tf_model) for c in args.case] or [
          (f"tflite:{MODEL_DIR}", 256, 1), (f"hub:{tf_model}", 256, 1),
          (f"hub:{tf_model}", 256, 8)]
      results, inputs = [], {}
      for spec, size, batch in cases:
        if size not in inputs:
          inputs[size] = load_inputs(args.contents, args.styles, size)
        r = measure(spec, *inputs[size], batch, args.rounds)
        print(f"{r['views_per_s']:8.2f} views/s  {spec}  {size} px  batch {batch}  "
              f"({r['views']} views in {r['content_s']} s; {r['style_steps']} style "
              f"steps in {r['style_s']} s)", flush=True)
        results.append(r)
      if len(results) > 1:
        base = results[0]["views_per_s"]
        for r in results[1:]:
          print(f"  ratio {r['views_per_s'] / base:.2f}x  {r['spec']} batch "
                f"{r['batch_size']} vs {results[0]['spec']}")
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
