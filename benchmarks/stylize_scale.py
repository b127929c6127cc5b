"""Scale: the dataset job's memory stays flat and its time grows linearly with the input,
only small things cross a shuffle, and a killed job resumes.

  .venv/bin/python benchmarks/stylize_scale.py [--contents 600 --factor 4]
      [--stylizers tflite,classical] [--large 20000] [--resume] [--json PATH]

1. Where the data dominates: 256 px output, K=2, N and factor*N distinct real-photo
   contents (seeded random crops of the 256 COCO photos in ../shared, 320 px JPEGs) and
   8 AIC paintings, for each stylizer (the real Magenta TF Lite pair, and `classical`).
   Peak RSS of the whole process tree (launcher + Beam workers, polled every 0.1 s)
   and wall time, each run in its own process. Targets: memory at factor*N <= 1.15x
   the N figure; time <= 1.1 * factor.
2. Bytes that cross a shuffle or a side input per written view (the job's
   `shuffle_bytes` counter, plus `side_input_bytes` times the workers that each read
   the side inputs), against the mean encoded record. Target <= 1.2x.
3. --large N: one run of N small generated contents (64 px scenes, `classical`, 64 px
   output) must finish under 6 GB peak RSS.
4. --resume: the factor*N `classical` job killed (kill -9 of its process group) at 55%
   of its uninterrupted time, then rerun with the same command: the rerun's time
   against the uninterrupted one (target <= 0.7) and byte-identical shards.
5. --trainer: the trainer's input pipeline over the same records written as 2, 8 and 32
   shards per split: peak RSS while streaming two epochs of pairs (target: flat,
   max/min <= 1.2).

Needs ../shared for parts 1, 2 and 4 (without it they are skipped, saying so).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import psutil

from bench_common import MODEL_DIR, PAINTINGS, PHOTOS, ROOT, SHARED  # beside this script

from beam_jobs.graph import SHUFFLE_BYTES, SIDE_INPUT_BYTES  # noqa: E402
from tfrecords_schema.files import METADATA_FILENAME, SHARD_GLOB  # noqa: E402

PY = sys.executable
SPECS = {"tflite": f"tflite:{MODEL_DIR}", "classical": "classical"}


def run_measured(cmd: list[str], kill_after: float = 0.0) -> dict:
  """Peak RSS (MB) of the command's process tree and its wall seconds; with
  kill_after, kill -9 its whole process group after that many seconds."""
  start = time.time()
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
  root, peak = psutil.Process(proc.pid), 0
  while proc.poll() is None:
    if kill_after and time.time() - start >= kill_after:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()
      break
    try:
      procs = [root] + root.children(recursive=True)
      peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
    except psutil.Error:
      pass
    time.sleep(0.1)
  out, err = proc.communicate()
  if proc.returncode and not kill_after:
    raise SystemExit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
  return {"peak_rss_mb": round(peak / 2**20), "seconds": round(time.time() - start, 1),
          "stdout": out.strip()}


def make_crops(folder: pathlib.Path, n: int, seed: int = 0) -> pathlib.Path:
  """n distinct contents: seeded random square crops (50-90% of the shorter side) of
  the shared COCO photos, some mirrored, saved as 320 px JPEGs."""
  from PIL import Image
  folder.mkdir(parents=True, exist_ok=True)
  photos = sorted(PHOTOS.glob("*/*.jpg"))
  rng = np.random.default_rng(seed)
  for i in range(n):
    im = Image.open(photos[i % len(photos)]).convert("RGB")
    side = int(min(im.size) * rng.uniform(0.5, 0.9))
    x, y = rng.integers(0, im.width - side + 1), rng.integers(0, im.height - side + 1)
    crop = im.crop((x, y, x + side, y + side)).resize((320, 320), Image.BILINEAR)
    if rng.random() < 0.5:
      crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    crop.save(folder / f"crop_{i:06d}.jpg", quality=90)
  return folder


def link_styles(folder: pathlib.Path, n: int = 8) -> pathlib.Path:
  folder.mkdir(parents=True, exist_ok=True)
  for p in sorted(PAINTINGS.glob("*.jpg"))[:n]:
    (folder / p.name).symlink_to(p)
  return folder


def job_cmd(content, styles, out, spec: str, size: int = 256, *extra) -> list[str]:
  return [PY, "-m", "beam_jobs.stylize", f"--content={content}", f"--styles={styles}",
          f"--stylizer={spec}", "--styles_per_content=2", f"--image_size={size}",
          "--records_per_shard=200", f"--output={out}", "--overwrite", *extra]


def crossing(out: pathlib.Path, workers: int) -> dict:
  """Bytes crossing shuffles and side inputs per written view, vs the mean record."""
  meta = json.loads((out / METADATA_FILENAME).read_text())
  c = meta["counters"]
  records = sum(s["records"] for s in meta["splits"].values())
  record_bytes = sum(s["bytes"] for s in meta["splits"].values()) / records
  moved = c.get(SHUFFLE_BYTES, 0) + c.get(SIDE_INPUT_BYTES, 0) * workers
  return {"records": records, "mean_record_bytes": round(record_bytes),
          SHUFFLE_BYTES: c.get(SHUFFLE_BYTES, 0),
          SIDE_INPUT_BYTES: c.get(SIDE_INPUT_BYTES, 0),
          "crossing_bytes_per_view": round(moved / records, 1),
          "ratio_to_record": round(moved / records / record_bytes, 4)}


def shards(out: pathlib.Path) -> dict:
  return {p.name: p.read_bytes() for p in sorted(out.glob(SHARD_GLOB))}


TRAINER_INPUT = """
import sys
from trainer import data
cfg = data.DataConfig(data=sys.argv[1], batch_size=32, image_size=64)
n = 0
for epoch in range(2):
  for _ in data.make_pair_dataset(cfg, epoch=epoch, repeat=False):
    n += 1
print(n)
"""


def trainer_memory(tmp: pathlib.Path) -> dict:
  from pipeline import sample_images
  sample = sample_images.write_sample(str(tmp / "trainer_in"), contents_per_class=40,
                                      styles_per_family=2, seed=0, size=64)
  rows = {}
  for shards in (2, 8, 32):
    out = tmp / f"shards_{shards}"
    run_measured(job_cmd(sample["content_dir"], sample["styles_dir"], out, "classical",
                         64, f"--num_shards={shards}", "--include_original"))
    r = run_measured([PY, "-c", TRAINER_INPUT, str(out)])
    rows[str(shards)] = {"peak_rss_mb": r["peak_rss_mb"], "seconds": r["seconds"]}
    print(f"trainer input, {shards:2d} shards/split: peak RSS {r['peak_rss_mb']} MB "
          f"{r['seconds']} s", flush=True)
  mems = [r["peak_rss_mb"] for r in rows.values()]
  print(f"RESULT trainer: memory max/min {max(mems) / min(mems):.2f} over 2-32 shards "
        "(target <= 1.2)", flush=True)
  return {"runs": rows, "memory_max_over_min": round(max(mems) / min(mems), 3)}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--contents", type=int, default=600, help="contents at 1x")
  p.add_argument("--factor", type=int, default=4)
  p.add_argument("--stylizers", default="tflite,classical")
  p.add_argument("--large", type=int, default=0, help="contents of the large run (0: none)")
  p.add_argument("--resume", action="store_true", help="also the kill-and-resume run")
  p.add_argument("--trainer", action="store_true",
                 help="also the trainer input's memory over 2-32 shards")
  p.add_argument("--json", default="")
  args = p.parse_args(argv)
  workers = os.cpu_count() or 1
  tmp = pathlib.Path(tempfile.mkdtemp(prefix="scale_"))
  figures: dict = {"cores": workers, "contents_1x": args.contents, "factor": args.factor}
  have_shared = PHOTOS.exists() and PAINTINGS.exists()
  if not have_shared:
    print(f"skipping the real-photo parts: {SHARED} is absent", flush=True)
  if have_shared:
    styles = link_styles(tmp / "styles")
    inputs = {n: make_crops(tmp / f"crops_{n}", n)
              for n in (args.contents, args.contents * args.factor)}
    for name in [s for s in args.stylizers.split(",") if s]:
      rows = {}
      for n, content in inputs.items():
        out = tmp / f"out_{name}_{n}"
        r = run_measured(job_cmd(content, styles, out, SPECS[name]))
        r.update(crossing(out, workers), contents=n)
        rows[n] = r
        print(f"{name:9s} {n:6d} contents: peak RSS {r['peak_rss_mb']:6d} MB  "
              f"{r['seconds']:7.1f} s  crossing {r['crossing_bytes_per_view']:.0f} B/view "
              f"= {r['ratio_to_record']:.4f} x the mean record "
              f"({r['mean_record_bytes']} B)", flush=True)
      small, big = rows[args.contents], rows[args.contents * args.factor]
      figures[name] = {"runs": {str(n): {k: v for k, v in r.items() if k != "stdout"}
                                for n, r in rows.items()},
                       "memory_ratio": round(big["peak_rss_mb"] / small["peak_rss_mb"], 3),
                       "time_ratio": round(big["seconds"] / small["seconds"], 3)}
      print(f"RESULT {name}: memory {figures[name]['memory_ratio']:.2f}x (target <= 1.15) "
            f"time {figures[name]['time_ratio']:.2f}x (target <= {1.1 * args.factor:.1f}) "
            f"crossing/record {big['ratio_to_record']:.4f} (target <= 1.2)", flush=True)
  if args.resume and have_shared:
    content = inputs[args.contents * args.factor]
    whole = run_measured(job_cmd(content, styles, tmp / "whole", "classical"))
    killed = run_measured(job_cmd(content, styles, tmp / "resumed", "classical"),
                          kill_after=0.55 * whole["seconds"])
    again = run_measured(job_cmd(content, styles, tmp / "resumed", "classical"))
    same = shards(tmp / "whole") == shards(tmp / "resumed")
    figures["resume"] = {"uninterrupted_s": whole["seconds"],
                         "killed_after_s": killed["seconds"], "rerun_s": again["seconds"],
                         "rerun_ratio": round(again["seconds"] / whole["seconds"], 3),
                         "byte_identical": same, "rerun_summary": again["stdout"]}
    print(f"RESULT resume: uninterrupted {whole['seconds']} s; killed at "
          f"{killed['seconds']} s; rerun {again['seconds']} s = "
          f"{figures['resume']['rerun_ratio']:.2f}x (target <= 0.7); byte-identical "
          f"shards: {same}\n  {again['stdout']}", flush=True)
  if args.large:
    from pipeline import sample_images
    per_class = -(-args.large // 6)
    sample = sample_images.write_sample(str(tmp / "large"), contents_per_class=per_class,
                                        styles_per_family=2, seed=0, size=64)
    r = run_measured(job_cmd(sample["content_dir"], sample["styles_dir"], tmp / "large_out",
                             "classical", 64, "--records_per_shard=2000"))
    figures["large"] = {"contents": per_class * 6, **{k: v for k, v in r.items()
                                                       if k != "stdout"},
                        **crossing(tmp / "large_out", workers)}
    print(f"RESULT large: {per_class * 6} contents, peak RSS {r['peak_rss_mb']} MB "
          f"(target < 6144) in {r['seconds']} s\n  {r['stdout']}", flush=True)
  if args.trainer:
    figures["trainer"] = trainer_memory(tmp)
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps(figures, indent=2))
  return figures


if __name__ == "__main__":
  main()
