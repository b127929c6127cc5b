"""The files of a dataset folder: every name in it, spelled once.

Writers (the job), readers (the trainer, the validator, the recipes in SCHEMA.md) and
the describing files (dataset_info.json's template, croissant.json's globs) must agree
on what a shard is called; before this module the pattern was spelled in seven places,
and a change in one would have made the others skip shards silently. Shards use TFDS's
default naming, so `tfds.builder_from_directory` finds them with no code of ours:
`NAME-SPLIT.tfrecord-XXXXX-of-YYYYY`. The record framing inside a shard (its size per
record and how it is read and written) is tfrecords_schema/tfrecord.py.
"""

from __future__ import annotations

import dataclasses
import re

#: What marks a file as a shard: between its split and its shard number.
SHARD_MARK = ".tfrecord-"
_X_OF_Y = "{shard:05d}-of-{num_shards:05d}"  # TFDS's SHARD_X_OF_Y
#: A shard's file name, as a `str.format` pattern (TFDS's default naming).
SHARD_NAME = "{name}-{split}" + SHARD_MARK + _X_OF_Y
#: Every shard of a folder, whatever its dataset name and split.
SHARD_GLOB = "*" + SHARD_MARK + "*"
#: TFDS's `filepathTemplate` in dataset_info.json; fill_template expands it.
FILEPATH_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
_SHARD_RE = re.compile(r"^(?P<name>.+)-(?P<split>[^-.]+)" + re.escape(SHARD_MARK)
                       + r"(?P<shard>\d{5})-of-(?P<num_shards>\d{5})$")

# The self-description files beside the shards.
#: Our own metadata: schema version, counts, vocabularies, run.
METADATA_FILENAME = "stylized_metadata.json"
#: One JSON object per failed input.
DEAD_LETTER_FILENAME = "dead_letter.jsonl"
#: TFDS's metadata: `tfds.builder_from_directory` reads these two.
DATASET_INFO_FILENAME = "dataset_info.json"
FEATURES_FILENAME = "features.json"
#: One row per record (tfrecords_schema/index.py).
INDEX_FILENAME = "index.parquet"
#: Croissant 1.0 metadata (tfrecords_schema/croissant.py).
CROISSANT_FILENAME = "croissant.json"
#: The record schema, rules and reading recipes (tfrecords_schema/schema_doc.py).
SCHEMA_FILENAME = "SCHEMA.md"
#: The dataset card and its contact sheet, for people (beam_jobs/card.py, sheet.py).
CARD_FILENAME = "DATASET_CARD.md"
SHEET_FILENAME = "contact_sheet.png"


@dataclasses.dataclass(frozen=True)
class ShardName:
  """A shard's file name, parsed."""
  name: str
  split: str
  shard: int
  num_shards: int


def in_folder(root: str, name: str) -> str:
  """The path of file `name` in the dataset folder `root` (local or gs://: always '/')."""
  return root.rstrip("/") + "/" + name


def shard_filename(name: str, split: str, shard: int, num_shards: int) -> str:
  return SHARD_NAME.format(name=name, split=split, shard=shard, num_shards=num_shards)


def parse_shard_name(filename: str) -> ShardName | None:
  """The parts of a shard's file name (no folder), or None when it is not one."""
  m = _SHARD_RE.match(filename)
  if m is None:
    return None
  return ShardName(m["name"], m["split"], int(m["shard"]), int(m["num_shards"]))


def split_glob(split: str = "*", name: str = "*") -> str:
  """A glob for the shards of one split (of dataset `name`), e.g. `*-train.tfrecord-*`."""
  return f"{name}-{split}{SHARD_MARK}*"


def shard_name_doc(name: str = "NAME", split: str = "SPLIT") -> str:
  """The naming for people: `NAME-SPLIT.tfrecord-XXXXX-of-YYYYY`."""
  return SHARD_NAME.replace(_X_OF_Y, "XXXXX-of-YYYYY").format(name=name, split=split)


def fill_template(template: str, name: str, split: str, fmt: str, i: int, n: int) -> str:
  """A TFDS `filepathTemplate` (FILEPATH_TEMPLATE by default) for shard i of n; with
  our template and fmt `tfrecord` this is shard_filename(name, split, i, n)."""
  x_of_y = _X_OF_Y.format(shard=i, num_shards=n)
  index, _, num = x_of_y.partition("-of-")
  for key, value in (("{DATASET}", name), ("{SPLIT}", split), ("{FILEFORMAT}", fmt),
                     ("{SHARD_X_OF_Y}", x_of_y), ("{SHARD_INDEX}", index),
                     ("{NUM_SHARDS}", num)):
    template = template.replace(key, value)
  return template
