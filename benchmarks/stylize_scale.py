"""Scale: does the job's memory stay flat and its time grow linearly with the inputs?
Does the trainer's memory stay flat as the shard count grows?

  .venv/bin/python benchmarks/stylize_scale.py [--contents 120] [--factor 4]

1. The dataset job (default local runner: driver + one worker process per core) on N
   and factor*N generated contents with the same styles: peak RSS of the whole process
   tree (polled every 0.1 s) and wall time. Targets: memory ratio <= 1.2, time ratio
   <= 1.1 * factor.
2. The trainer's input pipeline over the same records written as 2, 8 and 32 shards
   per split: peak RSS while streaming two epochs of pairs. Target: flat (max/min <= 1.2).

Each measured run is its own process, so one run's memory cannot hide another's.
Prints a table and a RESULT line; --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def run_measured(cmd: list[str]) -> tuple[float, float]:
  """(peak RSS of the process tree in MB, wall seconds) of a command."""
  start = time.time()
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
  root = psutil.Process(proc.pid)
  peak = 0
  while proc.poll() is None:
    try:
      procs = [root] + root.children(recursive=True)
      rss = sum(p.memory_info().rss for p in procs if p.is_running())
      peak = max(peak, rss)
    except psutil.Error:
      pass
    time.sleep(0.1)
  if proc.returncode:
    raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read()[-3000:]}")
  return peak / 2**20, time.time() - start


def make_inputs(root: str, contents_per_class: int) -> dict:
  sys.path.insert(0, ROOT)
  from pipeline import sample_images
  return sample_images.write_sample(root, contents_per_class=contents_per_class,
                                    styles_per_family=2, seed=0)


def job_cmd(sample: dict, out: str, num_shards: int = 0) -> list[str]:
  cmd = [PY, "-m", "beam_jobs.stylize", f"--content={sample['content_dir']}",
         f"--styles={sample['styles_dir']}", "--styles_per_content=2",
         "--include_original", "--image_size=64", f"--output={out}", "--overwrite"]
  return cmd + ([f"--num_shards={num_shards}"] if num_shards else [])


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


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--contents", type=int, default=120, help="contents at 1x (>= 6)")
  p.add_argument("--factor", type=int, default=4)
  p.add_argument("--json", default="")
  args = p.parse_args(argv)
  tmp = tempfile.mkdtemp(prefix="scale_")
  per_class = max(1, args.contents // 6)
  figures = {"contents_1x": per_class * 6, "factor": args.factor}

  rows = []
  for label, n in (("1x", per_class), (f"{args.factor}x", per_class * args.factor)):
    sample = make_inputs(os.path.join(tmp, f"in_{label}"), n)
    mem, secs = run_measured(job_cmd(sample, os.path.join(tmp, f"out_{label}")))
    rows.append((label, n * 6, mem, secs))
    print(f"job {label:>3s}: {n * 6:5d} contents  peak RSS {mem:7.0f} MB  "
          f"{secs:6.1f} s", flush=True)
  mem_ratio = rows[1][2] / rows[0][2]
  time_ratio = rows[1][3] / rows[0][3]
  figures.update(job={r[0]: {"contents": r[1], "peak_rss_mb": round(r[2]),
                             "seconds": round(r[3], 1)} for r in rows},
                 job_memory_ratio=round(mem_ratio, 3), job_time_ratio=round(time_ratio, 3))

  sample = make_inputs(os.path.join(tmp, "in_shards"), per_class * 2)
  trainer_rows = []
  for shards in (2, 8, 32):
    out = os.path.join(tmp, f"shards_{shards}")
    run_measured(job_cmd(sample, out, num_shards=shards))
    mem, secs = run_measured([PY, "-c", TRAINER_INPUT, out])
    trainer_rows.append((shards, mem, secs))
    print(f"trainer input, {shards:2d} shards/split: peak RSS {mem:7.0f} MB  "
          f"{secs:6.1f} s", flush=True)
  mems = [r[1] for r in trainer_rows]
  flat = max(mems) / min(mems)
  figures.update(trainer={str(r[0]): {"peak_rss_mb": round(r[1]),
                                      "seconds": round(r[2], 1)} for r in trainer_rows},
                 trainer_memory_max_over_min=round(flat, 3))
  print(f"RESULT job_memory_ratio={mem_ratio:.2f} (target <= 1.2) "
        f"job_time_ratio={time_ratio:.2f} (target <= {1.1 * args.factor:.1f}) "
        f"trainer_memory_max/min={flat:.2f} over 2-32 shards (target <= 1.2)")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(figures, f, indent=2)
  return figures


if __name__ == "__main__":
  main()
