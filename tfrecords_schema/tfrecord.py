"""The TFRecord framing, written and read in Python: the one way our code touches it.

Per record: uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes, the
data, uint32 masked CRC32C of the data (SCHEMA.md, Reading). The job writes shards
through `write_record`, the validator, the trainer's remote reads and the job's own
readers (TFDS coco sources, the contact sheet) read them through `read_record` /
`iter_records`; none of them needs TensorFlow, and none imports Beam's private
`_TFRecordUtil`, which nothing promised to keep. The bytes are the same as Beam's and
TensorFlow's writers make (tests/test_dataset_files.py compares them).
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

_HEADER = struct.Struct("<QI")  # length, its masked CRC
_FOOTER = struct.Struct("<I")  # the data's masked CRC
#: TFRecord framing around each record: length (8) + its CRC (4), then data + CRC (4).
FRAMING_BYTES = _HEADER.size + _FOOTER.size


class RecordError(ValueError):
  """A TFRecord shard is truncated (`kind` 'truncated') or fails a CRC ('corrupt')."""

  def __init__(self, kind: str, message: str):
    super().__init__(message)
    self.kind = kind


def masked_crc(data: bytes) -> int:
  """TFRecord's masked CRC32C: ((crc >> 15) | (crc << 17)) + 0xA282EAD8, mod 2^32."""
  import google_crc32c
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def framed_size(data: bytes) -> int:
  """Bytes one record takes in a shard, framing included."""
  return len(data) + FRAMING_BYTES


def write_record(f: BinaryIO, data: bytes) -> None:
  """Appends one framed record to `f` (one write call)."""
  length = struct.pack("<Q", len(data))
  f.write(b"".join([length, _FOOTER.pack(masked_crc(length)), data,
                    _FOOTER.pack(masked_crc(data))]))


def read_record(f: BinaryIO, name: str = "", offset: int = 0,
                check_crc: bool = True) -> bytes | None:
  """The next record of `f`, or None at a clean end of the stream. Raises RecordError
  ('truncated' when the stream ends inside a record, 'corrupt' when a CRC does not
  match); `name` (the file) and `offset` only go into its message."""
  where = f"{name}: " if name else ""
  header = f.read(_HEADER.size)
  if not header:
    return None
  if len(header) < _HEADER.size:
    raise RecordError("truncated", f"{where}truncated record header at byte {offset}")
  length, length_crc = _HEADER.unpack(header)
  if check_crc and masked_crc(header[:8]) != length_crc:
    raise RecordError("corrupt", f"{where}corrupted record at byte {offset} (the "
                      "length's CRC does not match)")
  data = f.read(length)
  footer = f.read(_FOOTER.size)
  if len(data) < length or len(footer) < _FOOTER.size:
    raise RecordError("truncated", f"{where}truncated record at byte {offset}")
  if check_crc and masked_crc(data) != _FOOTER.unpack(footer)[0]:
    raise RecordError("corrupt", f"{where}corrupted record at byte {offset} (the "
                      "data's CRC does not match)")
  return data


def iter_records(f: BinaryIO, name: str = "",
                 check_crc: bool = True) -> Iterator[tuple[int, bytes]]:
  """(byte offset, record) of each record of an uncompressed TFRecord stream read from
  its current position, framing and (unless check_crc is False) CRCs checked."""
  offset = 0
  while (data := read_record(f, name, offset, check_crc)) is not None:
    yield offset, data
    offset += framed_size(data)
