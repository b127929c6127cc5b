"""The files of a dataset (tfrecords_schema/files.py) and the TFRecord framing
(tfrecords_schema/tfrecord.py): one spelling of each name, the bytes TensorFlow writes."""

import fnmatch
import io
import random

import pytest
import tensorflow as tf

from tfrecords_schema import files, tfrecord


@pytest.mark.parametrize("name,split,shard,n", [
    ("stylized", "train", 0, 1), ("my-data", "val", 7, 12), ("a.b", "test", 99999, 99999)])
def test_a_shard_name_parses_back_and_is_what_tfds_template_gives(name, split, shard, n):
  filename = files.shard_filename(name, split, shard, n)
  assert files.parse_shard_name(filename) == files.ShardName(name, split, shard, n)
  assert files.fill_template(files.FILEPATH_TEMPLATE, name, split, "tfrecord", shard,
                             n) == filename
  assert fnmatch.fnmatch(filename, files.SHARD_GLOB)
  assert fnmatch.fnmatch(filename, files.split_glob(split))
  assert fnmatch.fnmatch(filename, files.split_glob(split, name))
  assert not fnmatch.fnmatch(filename, files.split_glob("nosuch"))


def test_the_documented_naming_is_tfds_default():
  assert files.shard_filename("stylized", "train", 3, 4) == (
      "stylized-train.tfrecord-00003-of-00004")
  assert files.shard_name_doc() == "NAME-SPLIT.tfrecord-XXXXX-of-YYYYY"


@pytest.mark.parametrize("filename", [
    "stylized-train.tfrecord-00000-of-00001.tmp", "train.tfrecord-00000-of-00001",
    "stylized-train.tfrecord-0000-of-00001", files.INDEX_FILENAME,
    files.METADATA_FILENAME, "stylized-train.tfrecord"])
def test_other_files_are_not_shards(filename):
  assert files.parse_shard_name(filename) is None


def _payloads():
  rng = random.Random(0)
  return [b"", b"x", bytes(rng.getrandbits(8) for _ in range(1000)),
          rng.randbytes(300_000)]


def test_the_framing_writes_the_bytes_tensorflow_writes(tmp_path):
  path = str(tmp_path / "tf.tfrecord")
  with tf.io.TFRecordWriter(path) as w:
    for data in _payloads():
      w.write(data)
  ours = io.BytesIO()
  for data in _payloads():
    tfrecord.write_record(ours, data)
  assert ours.getvalue() == open(path, "rb").read()
  assert len(ours.getvalue()) == sum(tfrecord.framed_size(d) for d in _payloads())
  assert tfrecord.FRAMING_BYTES == 16


def test_the_framing_writes_the_bytes_beam_writes():
  from apache_beam.io.tfrecordio import _TFRecordUtil  # what the job used before
  beam, ours = io.BytesIO(), io.BytesIO()
  for data in _payloads():
    _TFRecordUtil.write_record(beam, data)
    tfrecord.write_record(ours, data)
  assert ours.getvalue() == beam.getvalue()


def test_records_read_back_with_their_offsets():
  f = io.BytesIO()
  for data in _payloads():
    tfrecord.write_record(f, data)
  f.seek(0)
  got = list(tfrecord.iter_records(f, "x"))
  assert [d for _, d in got] == _payloads()
  offsets = [0]
  for data in _payloads()[:-1]:
    offsets.append(offsets[-1] + tfrecord.framed_size(data))
  assert [o for o, _ in got] == offsets
  f.seek(offsets[2])  # one seek reads one record, as the index promises
  assert tfrecord.read_record(f) == _payloads()[2]
  assert tfrecord.read_record(io.BytesIO(b"")) is None


def test_a_cut_or_flipped_record_is_named():
  f = io.BytesIO()
  tfrecord.write_record(f, b"first")
  tfrecord.write_record(f, b"second record")
  raw = f.getvalue()
  with pytest.raises(tfrecord.RecordError, match="shard: truncated record at byte 21"):
    list(tfrecord.iter_records(io.BytesIO(raw[:-1]), "shard"))
  with pytest.raises(tfrecord.RecordError, match="^truncated record header at byte 0"):
    tfrecord.read_record(io.BytesIO(raw[:5]))
  flipped = raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]
  with pytest.raises(tfrecord.RecordError, match="data's CRC") as e:
    list(tfrecord.iter_records(io.BytesIO(flipped), "shard"))
  assert e.value.kind == "corrupt"
  # The flipped bit is in the data's CRC: unchecked, the records read as written.
  assert [d for _, d in tfrecord.iter_records(io.BytesIO(flipped), check_crc=False)] == [
      b"first", b"second record"]
