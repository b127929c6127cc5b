"""SCHEMA.md's tf.data recipe, run as a consumer runs it (the block alone, in a fresh
namespace): a content's views grouped by adjacency, in place, even when one is missing."""

from __future__ import annotations

import pytest

import tfrecords_schema as schema
from tests.dataset_fixture import HEIGHT, WIDTH, build_dataset, code_block, run_block

RECIPE_TF = "### 1. tf.data"
K = 2
TRAIN = [[1, 2, 3], [4, 5, 6]]  # content ids per train shard (the fixture's default)


@pytest.mark.parametrize("lost", [0, 4, 8], ids=["first", "middle", "last"])
def test_grouping_keeps_a_content_short_of_a_failed_view_in_place(tmp_path, lost):
  """Record `lost` of train shard 0 is left out, as a dead-lettered view is: its content
  still comes out as one group, where its records are, and the others stay whole."""
  def drop(split, shard, i, rec):
    return None if (split, shard, i) == ("train", 0, lost) else rec

  root = build_dataset(tmp_path / "ds", k=K, hook=drop)
  ns = run_block(code_block((root / schema.SCHEMA_FILENAME).read_text(), RECIPE_TF), root)
  groups = list(ns["groups"].as_numpy_iterator())
  short_cid, short_view = TRAIN[0][lost // (K + 1)], lost % (K + 1)
  want = [(cid, [v for v in range(K + 1) if (cid, v) != (short_cid, short_view)])
          for shard in TRAIN for cid in shard]
  got = []
  for g in groups:
    assert len(set(g["content_id"].tolist())) == 1
    assert g["image"].shape == (len(g["content_id"]), HEIGHT, WIDTH, 3)
    got.append((int(g["content_id"][0]), g["view_index"].tolist()))
  assert got == want  # same order as the records: the short group is not moved


def test_grouping_an_empty_split_yields_no_groups(tmp_path):
  root = build_dataset(tmp_path / "ds", k=K)
  text = (root / schema.SCHEMA_FILENAME).read_text()
  block = code_block(text, RECIPE_TF).replace("-train.tfrecord-", "-nosuch.tfrecord-")
  ns = run_block(block, root)
  assert list(ns["groups"].as_numpy_iterator()) == []


RECIPE_NO_TF = "### 3. Without TensorFlow"
CHECKSUMS = "## Integrity"


def test_the_no_tensorflow_reader_checks_the_framing_crcs(tmp_path):
  """SCHEMA.md's framing, as recipe 3 implements it, agrees with TensorFlow's writer on
  every record, and a flipped byte is a CRC error at that record's offset."""
  import tensorflow as tf
  root = build_dataset(tmp_path / "ds", k=K)
  ns = run_block(code_block((root / schema.SCHEMA_FILENAME).read_text(), RECIPE_NO_TF),
                 root)
  for shard in sorted(root.glob("*.tfrecord-*")):
    got = [data for _, data in ns["read_records"](str(shard), check_crc=True)]
    assert got == list(tf.data.TFRecordDataset(str(shard)).as_numpy_iterator())
  shard = sorted(root.glob("*.tfrecord-*"))[0]
  data = bytearray(shard.read_bytes())
  offsets = [o for o, _ in ns["read_records"](str(shard))]
  data[offsets[2] + 40] ^= 0x10
  shard.write_bytes(bytes(data))
  with pytest.raises(ValueError, match=f"corrupt record at byte {offsets[2]} "):
    list(ns["read_records"](str(shard), check_crc=True))
  assert len(list(ns["read_records"](str(shard)))) == len(offsets)  # unchecked: reads
  shard.write_bytes(bytes(data[:-3]))
  with pytest.raises(ValueError, match=f"truncated record at byte {offsets[-1]}"):
    list(ns["read_records"](str(shard)))


def test_the_checksum_recipe_names_a_changed_shard(tmp_path):
  root = build_dataset(tmp_path / "ds", k=K)
  block = code_block((root / schema.SCHEMA_FILENAME).read_text(), CHECKSUMS)
  ns = run_block(block, root)
  assert ns["changed_shards"](str(root)) == []
  shard = sorted(root.glob("*.tfrecord-*"))[1]
  data = bytearray(shard.read_bytes())
  data[-1] ^= 0x01
  shard.write_bytes(bytes(data))
  assert ns["changed_shards"](str(root)) == [shard.name]
