"""TFDS metadata (`features.json`, `dataset_info.json`) for a folder of our shards.

With these two files beside the shards, `tfds.builder_from_directory(DIR)` loads the
dataset with no code of ours. Returns JSON text rather than writing, so callers choose
the filesystem (local, gs://). Imports tensorflow_datasets lazily.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from tfrecords_schema.fields import (BOOL, BYTES, FIELDS, FLOAT, FLOAT_LIST, INT,
                                     INT_LIST, SCHEMA_VERSION, STR, STR_LIST)
from tfrecords_schema.files import (DATASET_INFO_FILENAME, FEATURES_FILENAME,
                                    FILEPATH_TEMPLATE)


def tfds_version() -> str:
  """The TFDS dataset version tracks the schema: major == SCHEMA_VERSION."""
  return f"{SCHEMA_VERSION}.0.0"


def features_dict(image_format: str = "jpeg"):
  """The tfds.features.FeaturesDict equivalent of FIELDS, with each field's doc.

  Each kind maps to the one type FIELDS declares (fields.TYPES): `is_original` is a
  Scalar int64 like on the wire, and the image's encoding is the format written."""
  import numpy as np
  import tensorflow_datasets as tfds
  F = tfds.features
  kinds = {
      STR: lambda doc: F.Text(doc=doc),
      INT: lambda doc: F.Scalar(np.int64, doc=doc),
      BOOL: lambda doc: F.Scalar(np.int64, doc=doc),
      FLOAT: lambda doc: F.Scalar(np.float32, doc=doc),
      INT_LIST: lambda doc: F.Sequence(np.int64, doc=doc),
      STR_LIST: lambda doc: F.Sequence(F.Text(), doc=doc),
      FLOAT_LIST: lambda doc: F.Sequence(np.float32, doc=doc),
      BYTES: lambda doc: F.Image(shape=(None, None, 3), encoding_format=image_format,
                                 doc=f"{image_format.upper()}-encoded image, RGB, 8-bit."),
  }
  return F.FeaturesDict({f.name: kinds[f.kind](f.doc) for f in FIELDS})


def tfds_metadata_json(*, name: str, description: str, image_format: str,
                       splits: Mapping[str, tuple[Sequence[int], int]],
                       citation: str = "", redistribution: str = "",
                       homepage: str = "") -> dict[str, str]:
  """{filename: json text} for features.json and dataset_info.json.

  splits maps split name -> (records per shard, total bytes of the split's shards);
  citation (BibTeX) and redistribution (licence text) fill TFDS's fields of the same
  names, so `builder.info` tells a reader how to cite and share the data.
  """
  from google.protobuf import json_format
  from tensorflow_datasets.core.proto import dataset_info_pb2 as pb

  info = pb.DatasetInfo(
      name=name, description=description, version=tfds_version(),
      file_format="tfrecord", module_name="tfrecords_schema", citation=citation,
      release_notes={tfds_version(): f"Record schema version {SCHEMA_VERSION}."})
  if homepage:
    info.location.urls.append(homepage)
  if redistribution:
    info.redistribution_info.license = redistribution
  for split, (shard_lengths, num_bytes) in sorted(splits.items()):
    info.splits.add(name=split, shard_lengths=[int(n) for n in shard_lengths],
                    num_bytes=int(num_bytes), filepath_template=FILEPATH_TEMPLATE)
  features = features_dict(image_format)
  return {
      FEATURES_FILENAME: json.dumps(features.to_json(), indent=2, sort_keys=True),
      DATASET_INFO_FILENAME: json_format.MessageToJson(info, sort_keys=True),
  }
