"""The record index (`index.parquet`): one row per record, beside the shards.

A consumer counts, filters and samples records (by split, label, style, licence)
without reading an image: each row holds every record field except `image`, plus where
the record is (`shard`, `position`, `offset`), so one `seek` reads it. Rows are in
shard-file order, then position. Parquet rather than JSON lines because its columns
carry their types: JSON readers (pandas, hence `mlcroissant`) turn a string column of
digits into numbers ("007" -> 7), and each field must have one type everywhere.

The dataset job's shard tasks write JSON-lines fragments (`index_row`, `row_line`);
the launcher converts them with the explicit Arrow schema (`write_index`). Reading the
TFRecord framing here is pure Python; Parquet needs pyarrow (a dependency of Beam).
"""

from __future__ import annotations

import json
from typing import BinaryIO, Iterable, Iterator, Mapping

from tfrecords_schema.fields import FIELDS, FLOAT
from tfrecords_schema.tfrecord import iter_records

#: The columns that say where a record is, before the record's own fields.
LOCATION_COLUMNS = (
    ("shard", "sc:Text", "string",
     "File name of the shard holding the record (in this folder)."),
    ("position", "sc:Integer", "int64",
     "0-based position of the record in its shard (TFRecord order)."),
    ("offset", "sc:Integer", "int64",
     "Byte offset of the record's TFRecord framing in its shard: seek there and read "
     "one record."),
)


def columns() -> list[str]:
  """The index's columns, in order."""
  return [c[0] for c in LOCATION_COLUMNS] + [f.name for f in FIELDS if f.in_index]


def index_row(record: Mapping, shard: str, position: int, offset: int) -> dict:
  """A decoded record (tfrecords_schema.decode_example) -> its index line's object."""
  row = {"shard": shard, "position": position, "offset": offset}
  for f in FIELDS:
    if f.in_index:
      v = record[f.name]
      row[f.name] = list(v) if f.type.is_list else float(v) if f.kind == FLOAT else v
  return row


def row_line(row: Mapping) -> str:
  """One JSON line (no newline) of a fragment: columns in order, UTF-8 readable."""
  return json.dumps({c: row[c] for c in columns()}, ensure_ascii=False)


def arrow_schema():
  """The index's Arrow schema: each column's type and description from FIELDS."""
  import pyarrow as pa
  cols = [(name, arrow, doc) for name, _, arrow, doc in LOCATION_COLUMNS]
  cols += [(f.name, f.type.arrow, f.doc) for f in FIELDS if f.in_index]
  types = {"string": pa.string(), "int64": pa.int64(), "float32": pa.float32(),
           "list<int64>": pa.list_(pa.int64()), "list<string>": pa.list_(pa.string()),
           "list<float32>": pa.list_(pa.float32())}
  return pa.schema([pa.field(name, types[arrow], nullable=False,
                             metadata={"description": doc}) for name, arrow, doc in cols])


def write_index(groups: Iterable[list[dict]], f: BinaryIO) -> int:
  """Writes index rows to a Parquet file object, one row group per list; returns rows."""
  import pyarrow as pa
  import pyarrow.parquet as pq
  schema, n = arrow_schema(), 0
  with pq.ParquetWriter(f, schema) as writer:
    for rows in groups:
      if rows:
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        n += len(rows)
  return n


def read_index(f) -> list[dict]:
  """Every row of an index file (path or file object), as python values."""
  import pyarrow.parquet as pq
  return pq.read_table(f).to_pylist()


def read_records(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
  """(byte offset, record bytes) of each record of an uncompressed TFRecord stream.

  Reads the framing only (CRCs are not checked: the validator does that)."""
  return iter_records(f, check_crc=False)


def shard_rows(f: BinaryIO, shard: str) -> list[dict]:
  """The index rows of one shard file, read with the framing reader above."""
  from tfrecords_schema.codec import decode_example
  return [index_row(decode_example(data), shard, i, offset)
          for i, (offset, data) in enumerate(read_records(f))]
