"""The public record contract of the stylized dataset: fields, version, encoder, parser.

Readable with plain TensorFlow; imports nothing else of this project. Field table and
layout: tfrecords_schema/README.md; every dataset folder carries its own SCHEMA.md.
"""

from tfrecords_schema.codec import (SchemaError, decode_example, encode_example,
                                    feature_spec, parse_example)
from tfrecords_schema.fields import FIELDS, FIELDS_BY_NAME, SCHEMA_VERSION, Field
from tfrecords_schema.tfds_metadata import (DATASET_INFO_FILENAME, FEATURES_FILENAME,
                                            shard_filename, tfds_metadata_json)
from tfrecords_schema.index import INDEX_FILENAME
from tfrecords_schema.croissant import CROISSANT_FILENAME, SCHEMA_FILENAME

#: Our own metadata file beside the shards: schema version, counts, vocabularies, run.
METADATA_FILENAME = "stylized_metadata.json"
#: Dead-letter file beside the shards: one JSON object per failed input.
DEAD_LETTER_FILENAME = "dead_letter.jsonl"

__all__ = [
    "FIELDS", "FIELDS_BY_NAME", "SCHEMA_VERSION", "Field", "SchemaError",
    "encode_example", "decode_example", "parse_example", "feature_spec",
    "tfds_metadata_json", "shard_filename", "METADATA_FILENAME", "DEAD_LETTER_FILENAME",
    "FEATURES_FILENAME", "DATASET_INFO_FILENAME", "INDEX_FILENAME", "CROISSANT_FILENAME",
    "SCHEMA_FILENAME",
]
