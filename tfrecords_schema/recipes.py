"""The code blocks of SCHEMA.md: reading recipes and the exact id/split rules.

Each is Python a consumer copies as is (its first lines set DATASET_DIR, which tests
replace), generated from the field table so the text cannot drift from the data.
Tests run every block against datasets the job wrote.
"""

from __future__ import annotations

from tfrecords_schema.fields import FIELDS, feature_spec_source
from tfrecords_schema.tfrecord import FRAMING_BYTES
from tfrecords_schema.files import (INDEX_FILENAME, METADATA_FILENAME, SHARD_MARK,
                                    SHARD_NAME, split_glob)

DATASET_DIR_LINE = 'DATASET_DIR = "."  # this folder'


def tf_data(name: str, views: int) -> str:
  """Plain tf.data with the literal feature spec, the decoding contract, and a content's
  views grouped by adjacency (so a content short of a failed view stays in place)."""
  return f'''import tensorflow as tf

{DATASET_DIR_LINE}

{feature_spec_source()}


def decode(image, image_format):
    """The decoding contract (see Decoding images): PNG as is; JPEG with libjpeg's
    accurate integer DCT, as Pillow decodes it. (tf.io.decode_image takes no
    dct_method and uses a faster, approximate one: different pixels.)"""
    return tf.cond(tf.equal(image_format, "png"),
                   lambda: tf.io.decode_png(image, channels=3),
                   lambda: tf.io.decode_jpeg(image, channels=3,
                                             dct_method="INTEGER_ACCURATE"))


def parse(serialized):
    record = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    record["image"] = decode(record["image"], record["image_format"])
    return record


# Shards in name order, each read front to back: a content's views stay adjacent.
files = sorted(tf.io.gfile.glob(f"{{DATASET_DIR}}/{split_glob('train', name)}"))
ds = tf.data.TFRecordDataset(files).map(parse)


# One element per content, in file order: its adjacent records (up to {views}; fewer when
# a view failed), parsed as one batch. Grouped by adjacency, not by key: a group ends
# where the next content begins, so a short group comes out in place.
def _adjacent(state, serialized):
    current, views = state
    content_id = tf.cond(  # b"" marks the end of the data
        tf.equal(serialized, b""), lambda: tf.constant(-1, tf.int64),
        lambda: tf.io.parse_single_example(
            serialized, {{"content_id": FEATURE_SPEC["content_id"]}})["content_id"])
    new = tf.not_equal(content_id, current)
    ended = tf.logical_and(new, tf.size(views) > 0)  # `views` is a whole content
    views_next = tf.cond(new, lambda: serialized[None],
                         lambda: tf.concat([views, serialized[None]], 0))
    return (content_id, views_next), (ended, views)


def parse_group(views):
    record = tf.io.parse_example(views, FEATURE_SPEC)
    record["image"] = tf.map_fn(lambda x: decode(x[0], x[1]),
                                (record["image"], record["image_format"]),
                                fn_output_signature=tf.uint8)
    return record


groups = (tf.data.TFRecordDataset(files)
          .concatenate(tf.data.Dataset.from_tensors(tf.constant(b"")))
          .scan((tf.constant(-1, tf.int64), tf.zeros([0], tf.string)), _adjacent)
          .filter(lambda ended, views: ended)
          .map(lambda ended, views: parse_group(views)))
'''


def tfds() -> str:
  """TFDS with read settings that keep a content's records adjacent."""
  return f'''import tensorflow_datasets as tfds

{DATASET_DIR_LINE}

builder = tfds.builder_from_directory(DATASET_DIR)
# Read one shard at a time, front to back. TFDS's default reads 16 shards interleaved
# in blocks of 16 records, which splits a content's records apart unless 16 happens to
# be a multiple of their count. Shuffling the order of the files is fine.
read_config = tfds.ReadConfig(interleave_cycle_length=1)
ds = builder.as_dataset(split="train", shuffle_files=True, read_config=read_config)
'''


def _field_types() -> str:
  rows = []
  for f in FIELDS:
    default = [] if f.type.is_list else None if f.required else f.default
    rows.append(f"    {f.name!r}: ({f.type.name!r}, {default!r}),")
  return "FIELDS = {  # name: (type, value when absent; None = required)\n" + "\n".join(
      rows) + "\n}"


def no_tensorflow() -> str:
  """Pure Python: the TFRecord framing, the tf.train.Example wire format, the index."""
  return f'''import struct

{DATASET_DIR_LINE}

{_field_types()}


def _crc_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


_CRC32C = _crc_table()  # CRC-32C (Castagnoli), reflected polynomial


def masked_crc32c(data):
    """TFRecord's checksum: CRC-32C of `data`, rotated right 15 bits, plus a constant."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path, check_crc=False):
    """Yields (byte offset, serialized record) of a TFRecord file. check_crc=True
    verifies both CRCs of every record (pure Python: a few MB/s)."""
    with open(path, "rb") as f:
        offset = 0
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8]) if len(header) == 12 else (-1,)
            data = f.read(length) if length >= 0 else b""
            footer = f.read(4)
            if length < 0 or len(data) < length or len(footer) < 4:
                raise ValueError(f"{{path}}: truncated record at byte {{offset}}")
            if check_crc and (
                    struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8])
                    or struct.unpack("<I", footer)[0] != masked_crc32c(data)):
                raise ValueError(f"{{path}}: corrupt record at byte {{offset}} (CRC)")
            yield offset, data
            offset += length + {FRAMING_BYTES}


def read_record_at(path, offset):
    """The record starting at `offset` (the index's `offset` column)."""
    with open(path, "rb") as f:
        f.seek(offset)
        (length,) = struct.unpack("<Q", f.read(12)[:8])
        return f.read(length)


def _varint(buf, i):
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """(field number, wire type, value) of each field of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"unexpected protobuf wire type {{wire}}")
        yield key >> 3, wire, value


def _values(kind, wire, value):
    """Values of a BytesList (kind 1), FloatList (2) or Int64List (3) entry."""
    if kind == 1:
        return [bytes(value)]
    if kind == 2:
        return list(struct.unpack(f"<{{len(value) // 4}}f", value))
    ints, i = [value] if wire == 0 else [], 0
    while wire == 2 and i < len(value):
        v, i = _varint(value, i)
        ints.append(v)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in ints]  # two's complement


def parse_example(data):
    """A serialized tf.train.Example -> {{field: python value}}, typed as FIELDS says."""
    raw = {{}}
    for _, _, features in _fields(memoryview(data)):  # Example.features
        for _, _, entry in _fields(features):  # one map entry per feature
            name, values = "", []
            for number, _, part in _fields(entry):
                if number == 1:
                    name = bytes(part).decode()
                    continue
                for kind, _, lst in _fields(part):  # the Feature's one list
                    for _, wire, v in _fields(lst):
                        values += _values(kind, wire, v)
            raw[name] = values
    record = {{}}
    for name, (type_, default) in FIELDS.items():
        values = raw.get(name)
        if values is None:
            record[name] = default
        elif type_ == "list of string":
            record[name] = [v.decode() for v in values]
        elif type_ in ("list of int64", "list of float32"):
            record[name] = values
        else:
            record[name] = values[0].decode() if type_ == "string" else values[0]
    return record


# Every record of one shard (check_crc=True to verify the CRCs too):
#   for offset, data in read_records(f"{{DATASET_DIR}}/SHARD"): parse_example(data)
# Its pixels, as the decoding contract says (pip install pillow numpy):
#   numpy.asarray(PIL.Image.open(io.BytesIO(record["image"])).convert("RGB"))
# Count and filter with the index (pip install pyarrow or pandas), then read a record:
#   import pandas as pd
#   index = pd.read_parquet(f"{{DATASET_DIR}}/{INDEX_FILENAME}")
#   row = index[index.split == "val"].iloc[0]
#   record = parse_example(read_record_at(f"{{DATASET_DIR}}/{{row.shard}}", row.offset))
'''


def _in_recipe(pattern: str) -> str:
  """Part of SHARD_NAME as an f-string of the checksum recipe's variables."""
  return (pattern.replace("{name}", "{meta['dataset_name']}").replace("{shard", "{i")
          .replace("{num_shards", "{info['shards']"))


# The recipe's shard name, formatted from SHARD_NAME in two lines (after the mark).
_head, _mark, _tail = SHARD_NAME.partition(SHARD_MARK)
_NAME_HEAD, _NAME_TAIL = _in_recipe(_head + _mark), _in_recipe(_tail)


def checksums() -> str:
  """Each shard's sha256 against stylized_metadata.json, with the standard library."""
  return f'''import hashlib
import json

{DATASET_DIR_LINE}


def changed_shards(dataset_dir):
    """Shard file names whose sha256 is not the one stylized_metadata.json lists."""
    with open(f"{{dataset_dir}}/{METADATA_FILENAME}") as f:
        meta = json.load(f)
    changed = []
    for split, info in sorted(meta["splits"].items()):
        for i, want in enumerate(info["shard_sha256"]):
            name = (f"{_NAME_HEAD}"
                    f"{_NAME_TAIL}")
            digest = hashlib.sha256()
            with open(f"{{dataset_dir}}/{{name}}", "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != want:
                changed.append(name)
    return changed


print(changed_shards(DATASET_DIR) or "every shard is as written")
'''


def rules(seed: int, fractions, holdout_fraction: float) -> str:
  """The id, split and held-out-style rules, with this dataset's seed and fractions."""
  return f'''import hashlib

SEED, FRACTIONS, HOLDOUT_FRACTION = {seed!r}, {tuple(fractions)!r}, {holdout_fraction!r}


def stable_id(path):
    """content_id of a non-COCO photo from content_path; style_id from style_path."""
    return int.from_bytes(hashlib.sha256(path.encode("utf-8")).digest()[:8], "big") >> 1


def unit(*parts):
    """A number in [0, 1) from the seed and parts."""
    key = ":".join(str(p) for p in (SEED,) + parts).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64


def split_of(content_id):
    u, total = unit("split", content_id), 0.0
    for split, fraction in zip(("train", "val", "test"), FRACTIONS):
        total += fraction
        if u < total:
            return split
    return "test"


def held_out_styles(style_ids):
    """The style ids only val and test use, from the ids of the styles that worked."""
    ids = sorted(set(style_ids))
    if HOLDOUT_FRACTION <= 0 or len(ids) < 2:
        return set()
    n = min(len(ids) - 1, max(1, round(HOLDOUT_FRACTION * len(ids))))
    return set(sorted(ids, key=lambda i: unit("holdout", i))[:n])
'''
