"""Checks a finished dataset folder against the record contract and its own metadata.

Readers hit a truncated or corrupt shard only mid-epoch, TFDS trusts the counts in
dataset_info.json blindly, and positive pairs come from neighbouring records, so a
broken layout silently yields wrong training data. This reads every record once, one
file at a time, and names the file behind each problem. The folder's description of
itself (SCHEMA.md, features.json, croissant.json, the record index) is checked against
the field table and the records too (tfrecords_schema/self_description.py); with
`mlcroissant` installed, croissant.json also passes its validation.

  python -m tfrecords_schema.validate DIR [--no-decode-images] [--json]

Exit status: 0 valid, 1 problems found, 2 usage error (no such folder, no
dataset_info.json). DIR may be local or gs:// (tfrecords_schema.storage: gcsfs, so an
emulator works too; an unreachable store exits 2 naming it); needs TensorFlow (image
decoding) and pyarrow (for index.parquet), and uses mlcroissant when installed.

The checks are split by what they check: `report` (the problems and the summary),
`records` (each shard's framing, records and layout), `images` (each record's image),
`metadata` (stylized_metadata.json and dead_letter.jsonl), `folder` (the shards on disk
against dataset_info.json, and the run of every check), `cli` (the command line).
"""

from tfrecords_schema.validate.cli import main
from tfrecords_schema.validate.folder import validate
from tfrecords_schema.validate.report import (MAX_PER_KIND, DatasetNotFoundError,
                                              Problem, Report)

__all__ = ["MAX_PER_KIND", "DatasetNotFoundError", "Problem", "Report", "main",
           "validate"]
