"""TFDS metadata (`features.json`, `dataset_info.json`) for a folder of our shards.

With these two files beside the shards, `tfds.builder_from_directory(DIR)` loads the
dataset with no code of ours. Returns JSON text rather than writing, so callers choose
the filesystem (local, gs://). Imports tensorflow_datasets lazily.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from tfrecords_schema.fields import (BOOL, BYTES, FIELDS, FLOAT, INT, INT_LIST,
                                     SCHEMA_VERSION, STR, STR_LIST)

#: TFDS's default file naming: `{name}-{split}.tfrecord-00000-of-00004`.
FILEPATH_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
FEATURES_FILENAME = "features.json"
DATASET_INFO_FILENAME = "dataset_info.json"


def tfds_version() -> str:
  """The TFDS dataset version tracks the schema: major == SCHEMA_VERSION."""
  return f"{SCHEMA_VERSION}.0.0"


def shard_filename(name: str, split: str, shard: int, num_shards: int) -> str:
  return f"{name}-{split}.tfrecord-{shard:05d}-of-{num_shards:05d}"


def features_dict(image_format: str = "jpeg"):
  """The tfds.features.FeaturesDict equivalent of FIELDS."""
  import numpy as np
  import tensorflow_datasets as tfds
  F = tfds.features
  kinds = {
      STR: F.Text, INT: lambda: F.Scalar(np.int64), FLOAT: lambda: F.Scalar(np.float32),
      BOOL: lambda: F.Scalar(np.bool_), INT_LIST: lambda: F.Sequence(np.int64),
      STR_LIST: lambda: F.Sequence(F.Text()),
  }
  feats = {}
  for f in FIELDS:
    if f.kind == BYTES:  # the only bytes field is the image
      feats[f.name] = F.Image(shape=(None, None, 3), encoding_format=image_format,
                              doc=f.doc)
    else:
      feat = kinds[f.kind]()
      feats[f.name] = feat
  return F.FeaturesDict(feats)


def tfds_metadata_json(*, name: str, description: str, image_format: str,
                       splits: Mapping[str, tuple[Sequence[int], int]]) -> dict[str, str]:
  """{filename: json text} for features.json and dataset_info.json.

  splits maps split name -> (records per shard, total bytes of the split's shards).
  """
  from google.protobuf import json_format
  from tensorflow_datasets.core.proto import dataset_info_pb2 as pb

  info = pb.DatasetInfo(
      name=name, description=description, version=tfds_version(),
      file_format="tfrecord", module_name="tfrecords_schema",
      release_notes={tfds_version(): f"Record schema version {SCHEMA_VERSION}."})
  for split, (shard_lengths, num_bytes) in sorted(splits.items()):
    info.splits.add(name=split, shard_lengths=[int(n) for n in shard_lengths],
                    num_bytes=int(num_bytes), filepath_template=FILEPATH_TEMPLATE)
  features = features_dict(image_format)
  return {
      FEATURES_FILENAME: json.dumps(features.to_json(), indent=2, sort_keys=True),
      DATASET_INFO_FILENAME: json_format.MessageToJson(info, sort_keys=True),
  }
