"""Reading shards: local disk vs gs:// (on a storage emulator), by each way we could read.

  .venv/bin/python benchmarks/remote_read.py [--records 2000] [--record_kb 40]

Writes one dataset-like set of shards (records of incompressible bytes of the size of a
stylized 256 px JPEG view), puts a copy on a fresh gcp-storage-emulator, and reads every
record with:

  tf-local      tf.data.TFRecordDataset on local files (the trainer's local path)
  py-local      tfrecords_schema.storage.records on local files (framing + CRC32C)
  trainer-local trainer.records.read_files with remote=True forced on local files:
                the gs:// path's Python reader inside tf.data, without the network
  gcsfs-gs      tfrecords_schema.storage.records on gs:// through gcsfs (what the
                validator and the trainer use for gs://)
  beam-gs       Beam's FileSystems (GcsIO, google-cloud-storage) + the same framing
  tf-gs         TensorFlow's own gs:// filesystem: cannot be pointed at an emulator
                (its endpoint is fixed), so it is reported, not measured

Prints MB/s and records/s for each and the ratio to tf-local. The emulator is a Python
HTTP server on this machine: its own speed caps the gs:// rows, so they bound the
client's overhead from below rather than predict GCS. What the rows answer: is the
Python reader (py-local, trainer-local) fast enough that the trainer's input is not
held up by it, against the decode work per record (benchmarks/trainer_throughput.py).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _write_shards(folder: pathlib.Path, records: int, record_bytes: int, shards: int):
  import numpy as np
  import tensorflow as tf

  from tfrecords_schema.files import shard_filename
  rng = np.random.default_rng(0)
  paths = []
  for s in range(shards):
    path = folder / shard_filename("bench", "train", s, shards)
    with tf.io.TFRecordWriter(str(path)) as w:
      for _ in range(records // shards):
        w.write(rng.integers(0, 256, record_bytes, dtype=np.uint8).tobytes())
    paths.append(path)
  return paths


def _time(name: str, read, total_bytes: int, base: float | None) -> float:
  t = time.perf_counter()
  n = read()
  dt = time.perf_counter() - t
  mbs = total_bytes / dt / 1e6
  ratio = f"{mbs / base:5.2f}x tf-local" if base else ""
  print(f"{name:<14} {n:>7,} records in {dt:6.2f} s: {mbs:8.1f} MB/s "
        f"{n / dt:9,.0f} records/s  {ratio}", flush=True)
  return mbs


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--records", type=int, default=2000)
  p.add_argument("--record_kb", type=int, default=40)
  p.add_argument("--shards", type=int, default=4)
  args = p.parse_args(argv)
  import tensorflow as tf

  from tests.gcs_services import BUCKET, Services, upload
  from tfrecords_schema import storage, tfrecord
  from trainer import records as records_lib

  with tempfile.TemporaryDirectory() as tmp:
    root = pathlib.Path(tmp)
    (root / "shards").mkdir()
    local = [str(p) for p in _write_shards(root / "shards", args.records,
                                           args.record_kb * 1024, args.shards)]
    total = sum(os.path.getsize(p) for p in local)
    print(f"{args.records:,} records of {args.record_kb} KB in {args.shards} shards "
          f"({total / 1e6:.0f} MB)")
    base = _time("tf-local", lambda: sum(
        1 for _ in tf.data.TFRecordDataset(local, buffer_size=4 << 20)), total, None)
    _time("py-local", lambda: sum(1 for f in local for _ in storage.records(f)), total,
          base)

    def trainer_forced_remote():
      ds = tf.data.Dataset.from_tensor_slices(local).flat_map(
          lambda f: records_lib.read_shard(f, remote=True))
      return sum(1 for _ in ds)
    _time("trainer-local", trainer_forced_remote, total, base)

    with Services(root / "logs", deadline_s=900) as svc:
      os.environ.update({k: svc.env[k] for k in ("STORAGE_EMULATOR_HOST",
                                                  "GOOGLE_CLOUD_PROJECT", "NO_GCE_CHECK")})
      upload(svc.env, root / "shards", f"gs://{BUCKET}/shards")
      remote = [f"gs://{BUCKET}/shards/{pathlib.Path(p).name}" for p in local]
      _time("gcsfs-gs", lambda: sum(1 for f in remote for _ in storage.records(f)),
            total, base)

      def beam_gs():
        from apache_beam.io.filesystems import FileSystems

        from beam_jobs import remote as remote_lib
        remote_lib.anonymous_on_emulator()
        n = 0
        for f in remote:
          with FileSystems.open(f, compression_type="uncompressed") as fh:
            n += sum(1 for _ in tfrecord.iter_records(fh, f))  # (offset, record) pairs
        return n
      _time("beam-gs", beam_gs, total, base)
    print("tf-gs          not measured: TensorFlow's gs:// endpoint cannot be pointed "
          "at an emulator")


if __name__ == "__main__":
  main()
