"""The command line: `python -m tfrecords_schema.validate DIR [--no-decode-images]
[--json]`; exit 0 valid, 1 problems found, 2 usage error."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tfrecords_schema import storage
from tfrecords_schema.validate.folder import validate
from tfrecords_schema.validate.report import DatasetNotFoundError


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog="python -m tfrecords_schema.validate",
      description="Check a stylized dataset folder (local or gs://): every shard and "
                  "record against the schema and the metadata. Exit 0 valid, 1 problems, "
                  "2 usage error.")
  p.add_argument("dataset_dir")
  p.add_argument("--no-decode-images", dest="decode_images", action="store_false",
                 help="skip decoding images (faster; height/width/format unchecked)")
  p.add_argument("--json", action="store_true", help="print the report as JSON")
  args = p.parse_args(argv)
  # TF's C++ logging (CUDA probing, 'rendezvous aborting') would bury the report.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  try:
    report = validate(args.dataset_dir, decode_images=args.decode_images)
  except (DatasetNotFoundError, storage.StoreUnreachableError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
  return 0 if report.ok else 1
