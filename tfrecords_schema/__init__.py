"""The public record contract of the stylized dataset: fields, version, encoder, parser.

Readable with plain TensorFlow; imports nothing else of this project. Field table and
layout: tfrecords_schema/README.md; every dataset folder carries its own SCHEMA.md.
"""

from tfrecords_schema.codec import (SchemaError, decode_example, encode_example,
                                    feature_spec, parse_example)
from tfrecords_schema.fields import FIELDS, FIELDS_BY_NAME, SCHEMA_VERSION, Field
from tfrecords_schema.files import (CROISSANT_FILENAME, DATASET_INFO_FILENAME,
                                    DEAD_LETTER_FILENAME, FEATURES_FILENAME,
                                    INDEX_FILENAME, METADATA_FILENAME, SCHEMA_FILENAME,
                                    shard_filename)
from tfrecords_schema.tfds_metadata import tfds_metadata_json

__all__ = [
    "FIELDS", "FIELDS_BY_NAME", "SCHEMA_VERSION", "Field", "SchemaError",
    "encode_example", "decode_example", "parse_example", "feature_spec",
    "tfds_metadata_json", "shard_filename", "METADATA_FILENAME", "DEAD_LETTER_FILENAME",
    "FEATURES_FILENAME", "DATASET_INFO_FILENAME", "INDEX_FILENAME", "CROISSANT_FILENAME",
    "SCHEMA_FILENAME",
]
