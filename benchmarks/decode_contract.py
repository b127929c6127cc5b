"""How far apart two JPEG decoders put the pixels of a dataset, and what PNG costs.

    .venv/bin/python benchmarks/decode_contract.py JPEG_DATASET [--png PNG_DATASET]

Every record of JPEG_DATASET is decoded three ways: Pillow (libjpeg's accurate integer
DCT, the contract in SCHEMA.md), `tf.io.decode_jpeg(dct_method="INTEGER_ACCURATE")`
(SCHEMA.md's tf.data recipe) and `tf.io.decode_image` (the recipe before issue 18, and
`decode_jpeg`'s default). Per image it prints the largest absolute difference from
Pillow (0-255). With --png, the same job written with `--image_format=png` (same flags
and seed): bytes of the shards and per image, and how far the JPEG's pixels are from the
lossless ones. Make the two datasets with beam_jobs.stylize (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import glob
import io
import os

import numpy as np

from tfrecords_schema.files import SHARD_GLOB

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _records(folder: str):
  import tensorflow as tf

  from tfrecords_schema import decode_example
  for shard in sorted(glob.glob(os.path.join(folder, SHARD_GLOB))):
    for raw in tf.data.TFRecordDataset(shard).as_numpy_iterator():
      yield decode_example(raw)


def _shard_bytes(folder: str) -> int:
  return sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, SHARD_GLOB)))


def _stats(diffs: list[int]) -> str:
  d = np.asarray(diffs)
  return (f"max {d.max()}, median {int(np.median(d))}, images with any difference "
          f"{int((d > 0).sum())} of {len(d)}")


def main(argv=None) -> int:
  import tensorflow as tf
  from PIL import Image
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("jpeg_dataset")
  p.add_argument("--png", default="", help="the same dataset written as PNG")
  args = p.parse_args(argv)
  accurate, default, pixels = [], [], {}
  for rec in _records(args.jpeg_dataset):
    pil = np.asarray(Image.open(io.BytesIO(rec["image"])).convert("RGB"), np.int16)
    acc = tf.io.decode_jpeg(rec["image"], channels=3, dct_method="INTEGER_ACCURATE")
    dflt = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
    accurate.append(int(np.abs(acc.numpy().astype(np.int16) - pil).max()))
    default.append(int(np.abs(dflt.numpy().astype(np.int16) - pil).max()))
    pixels[rec["content_id"], rec["view_index"]] = pil
  print(f"{len(accurate)} JPEG records; max abs difference from Pillow per image:")
  print(f"  tf.io.decode_jpeg(dct_method='INTEGER_ACCURATE'): {_stats(accurate)}")
  print(f"  tf.io.decode_image (TF's default method):         {_stats(default)}")
  if args.png:
    loss, n = [], 0
    for rec in _records(args.png):
      png = np.asarray(Image.open(io.BytesIO(rec["image"])).convert("RGB"), np.int16)
      jpg = pixels.get((rec["content_id"], rec["view_index"]))
      n += 1
      if jpg is not None:
        loss.append(float(np.abs(png - jpg).mean()))
    jb, pb = _shard_bytes(args.jpeg_dataset), _shard_bytes(args.png)
    print(f"PNG: {n} records, shards {pb / 1e6:.2f} MB vs JPEG {jb / 1e6:.2f} MB "
          f"({pb / jb:.2f}x; {pb / max(n, 1) / 1e3:.1f} vs "
          f"{jb / max(len(accurate), 1) / 1e3:.1f} KB per record)")
    if loss:
      print(f"  JPEG vs lossless pixels: mean abs difference {np.mean(loss):.2f} levels "
            f"(per image {min(loss):.2f}-{max(loss):.2f})")
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
