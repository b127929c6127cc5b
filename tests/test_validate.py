"""The dataset validator: a good folder passes; each kind of damage is found and named.

The fixture is written with the public encoder and TFDS metadata helpers, not the Beam
job, so these tests stay fast and check the contract rather than one writer.
"""

from __future__ import annotations

import json
import pathlib
import struct
import subprocess
import sys

import pytest
import tensorflow as tf
from tensorflow.core.example import example_pb2

import tfrecords_schema as schema
from tests.dataset_fixture import HEIGHT, NAME, WIDTH, build_dataset
from tests.dataset_fixture import records as _records
from tfrecords_schema import validate as V

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _shard(root: pathlib.Path, split="train", shard=1, n=2) -> pathlib.Path:
  return root / schema.shard_filename(NAME, split, shard, n)


def _kinds(report, file=None) -> set[str]:
  return {p.kind for p in report.problems if file is None or p.file == str(file)}


def _changed(report, path, kind: str):
  """The one `kind` problem of a shard changed after writing, which therefore also
  fails its checksum, named alike."""
  assert _kinds(report) == {kind, "checksum"}
  assert [p.file for p in report.problems if p.kind == "checksum"] == [str(path)]
  (p,) = [p for p in report.problems if p.kind == kind]
  return p


@pytest.fixture
def good(tmp_path) -> pathlib.Path:
  return build_dataset(tmp_path / "ds")


def test_good_dataset_passes(good, capsys):
  report = V.validate(str(good))
  assert report.ok, report.summary()
  assert report.records_by_split == {"train": 18, "val": 18}
  assert report.contents_by_split == {"train": 6, "val": 6}
  assert V.main([str(good)]) == 0
  out = capsys.readouterr().out
  assert "OK" in out and "train" in out and "18 records" in out


def test_fixture_is_a_real_tfds_dataset(good):
  import tensorflow_datasets as tfds
  ds = tfds.builder_from_directory(str(good)).as_dataset(split="train")
  rows = list(ds.as_numpy_iterator())
  assert len(rows) == 18
  assert rows[0]["image"].shape == (HEIGHT, WIDTH, 3)
  assert [r["view_index"] for r in rows[:3]] == [0, 1, 2]


@pytest.mark.parametrize("cut", ["in_data", "in_header"])
def test_truncated_shard_is_named(good, cut):
  path = _shard(good)
  data = path.read_bytes()
  last = len(schema.encode_example(_records("train", 6, 2)[-1])) + 16  # + framing
  # 'in_header' leaves 5 bytes of the last record's header: TF reads that as a clean
  # end of file, so only the byte accounting catches it.
  path.write_bytes(data[:-5] if cut == "in_data" else data[:-(last - 5)])
  report = V.validate(str(good))
  assert not report.ok
  p = _changed(report, path, "truncated_shard")
  assert p.file == str(path) and "8 record(s)" in p.message
  assert path.name in report.summary()


def test_flipped_byte_is_a_corrupt_record_in_that_file(good):
  path = _shard(good, "val", 0)
  data = bytearray(path.read_bytes())
  (first_len,) = struct.unpack("<Q", data[:8])
  data[16 + first_len + 12 + 10] ^= 0xFF  # inside the second record's data: CRC fails
  path.write_bytes(bytes(data))
  report = V.validate(str(good))
  p = _changed(report, path, "corrupt_record")
  assert p.file == str(path) and "read 1 record(s)" in p.message


def test_record_of_another_schema_version_is_named(good):
  path = _shard(good, "train", 0)
  raws = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
  ex = example_pb2.Example.FromString(raws[4])
  ex.features.feature["schema_version"].int64_list.value[:] = [schema.SCHEMA_VERSION + 1]
  raws[4] = ex.SerializeToString()
  with tf.io.TFRecordWriter(str(path)) as w:
    for raw in raws:
      w.write(raw)
  report = V.validate(str(good))
  p = _changed(report, path, "schema_version")
  assert p.file == str(path) and "record 4" in p.message
  assert f"schema_version {schema.SCHEMA_VERSION + 1}" in p.message


def test_missing_shard(good):
  path = _shard(good, "val", 1)
  path.unlink()
  report = V.validate(str(good))
  assert _kinds(report) == {"missing_shard"}
  assert report.problems[0].file == str(path)
  assert report.records_by_split["val"] == 9


def test_unexpected_shard(good):
  extra = good / schema.shard_filename(NAME, "train", 2, 3)  # e.g. left by another run
  extra.write_bytes(_shard(good).read_bytes())
  report = V.validate(str(good))
  assert _kinds(report) == {"unexpected_shard"}
  (p,) = report.problems
  assert p.file == str(extra) and "9 record(s)" in p.message


def test_count_mismatch_with_dataset_info(good):
  info_path = good / schema.DATASET_INFO_FILENAME
  info = json.loads(info_path.read_text())
  info["splits"][0]["shardLengths"][1] = "10"  # JSON int64s are strings
  info_path.write_text(json.dumps(info))
  report = V.validate(str(good))
  assert _kinds(report) == {"count_mismatch"}
  assert "count_mismatch" in _kinds(report, _shard(good, "train", 1))
  # stylized_metadata.json now disagrees with dataset_info.json too.
  assert "count_mismatch" in _kinds(report, good / schema.METADATA_FILENAME)


def test_content_in_two_splits(tmp_path):
  root = build_dataset(tmp_path / "ds", contents={
      "train": [[1, 2, 3], [4, 5, 6]], "val": [[5, 101, 102], [104, 105, 106]]})
  report = V.validate(str(root))
  assert _kinds(report) == {"split_overlap"}
  (p,) = report.problems
  assert p.file == str(_shard(root, "val", 0)) and "content 5" in p.message


@pytest.mark.parametrize("image", [b"garbage, not an image", "truncated_jpeg"])
def test_undecodable_image(tmp_path, image):
  def hook(split, shard, i, rec):
    if (split, shard, i) != ("val", 1, 7):
      return rec
    return dict(rec, image=rec["image"][:40] if image == "truncated_jpeg" else image)
  root = build_dataset(tmp_path / "ds", hook=hook)
  report = V.validate(str(root))
  assert _kinds(report) == {"undecodable_image"}
  (p,) = report.problems
  assert p.file == str(_shard(root, "val", 1)) and "record 7" in p.message
  assert V.validate(str(root), decode_images=False).ok


def test_height_width_and_format_are_checked_against_the_image(tmp_path):
  def hook(split, shard, i, rec):
    if (split, shard, i) == ("train", 0, 1):
      return dict(rec, height=HEIGHT + 1)
    if (split, shard, i) == ("train", 0, 2):
      return dict(rec, image_format="png")
    return rec
  report = V.validate(str(build_dataset(tmp_path / "ds", hook=hook)))
  assert _kinds(report) == {"image_mismatch"} and len(report.problems) == 2


@pytest.mark.parametrize("defect,expect", [
    ({"style_id": 1002}, "twice"),                 # content 2's first view has 1002
    ({"view_index": 1}, "must ascend"),            # views 0, 1, 1
    ({"split": "val"}, "split field"),             # record in the wrong split's shard
    ({"is_original": 1}, "original view"),         # original with a style
])
def test_layout_defects(tmp_path, defect, expect):
  def hook(split, shard, i, rec):
    if (split, shard, i) == ("train", 0, 5):  # content 2's second stylized view
      rec = dict(rec, **defect)
    return rec
  root = build_dataset(tmp_path / "ds", hook=hook)
  report = V.validate(str(root))
  assert "layout" in _kinds(report, _shard(root, "train", 0)), report.summary()
  assert any(expect in p.message for p in report.problems), report.summary()


def test_records_of_a_content_not_adjacent(tmp_path):
  root = build_dataset(tmp_path / "ds", contents={
      "train": [[1, 2, 1], [4, 5, 6]], "val": [[101, 102, 103], [104, 105, 106]]})
  report = V.validate(str(root))
  assert any(p.kind == "layout" and "not adjacent" in p.message for p in report.problems)


def test_problems_are_capped_per_file_and_kind(tmp_path):
  hook = lambda split, shard, i, rec: (  # noqa: E731
      dict(rec, image=b"junk") if (split, shard) == ("train", 1) else rec)
  report = V.validate(str(build_dataset(tmp_path / "ds", hook=hook)))
  mine = [p for p in report.problems if p.file == str(_shard(tmp_path / "ds"))]
  assert len(mine) == V.MAX_PER_KIND + 1
  assert "... and 4 more undecodable_image" in mine[-1].message


def test_a_record_that_is_not_an_example_is_a_bad_record(tmp_path):
  hook = lambda split, shard, i, rec: (  # noqa: E731
      b"\xff\xff not a proto" if (split, shard, i) == ("val", 0, 0) else rec)
  report = V.validate(str(build_dataset(tmp_path / "ds", hook=hook)))
  assert "bad_record" in _kinds(report, _shard(tmp_path / "ds", "val", 0))


def test_cli_exit_codes_and_json(good, tmp_path, capsys):
  assert V.main([str(good), "--no-decode-images"]) == 0
  capsys.readouterr()
  assert V.main([str(tmp_path / "nope")]) == 2
  assert "no such folder" in capsys.readouterr().err
  (tmp_path / "empty").mkdir()
  assert V.main([str(tmp_path / "empty")]) == 2
  assert "dataset_info.json" in capsys.readouterr().err
  path = _shard(good)
  path.write_bytes(path.read_bytes()[:-3])
  assert V.main([str(good)]) == 1
  out = capsys.readouterr().out
  assert "FAILED" in out and "truncated_shard" in out and path.name in out
  assert V.main([str(good), "--json"]) == 1
  doc = json.loads(capsys.readouterr().out)
  assert doc["ok"] is False and doc["problems"][0]["file"] == str(path)


def test_module_entry_point(good):
  proc = subprocess.run([sys.executable, "-m", "tfrecords_schema.validate", str(good)],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "OK" in proc.stdout


def test_reads_gs_through_a_storage_emulator(good, tmp_path, monkeypatch):
  pytest.importorskip("gcp_storage_emulator", reason="needs the test extra's emulator")
  from tests.gcs_services import BUCKET, Services, upload
  with Services(tmp_path / "logs", deadline_s=300) as svc:
    for k in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
      monkeypatch.setenv(k, svc.env[k])
    root = f"gs://{BUCKET}/{good.parent.name}"
    upload(svc.env, good, root)
    assert V.validate(root).ok
    from tfrecords_schema import storage
    gone = f"{root}/{schema.shard_filename(NAME, 'val', 1, 2)}"
    storage._gcs().rm(gone)
    report = V.validate(root + "/")
    assert _kinds(report) == {"missing_shard"} and report.problems[0].file == gone


# The folder's description of itself.

def _rewrite_index(root: pathlib.Path, change) -> None:
  from tfrecords_schema import index
  rows = index.read_index(str(root / schema.INDEX_FILENAME))
  with open(root / schema.INDEX_FILENAME, "wb") as f:
    index.write_index([change(rows)], f)


def _edit_json(path: pathlib.Path, change) -> None:
  doc = json.loads(path.read_text())
  change(doc)
  path.write_text(json.dumps(doc))


def test_missing_schema_md_and_undocumented_metadata_keys(good):
  (good / schema.SCHEMA_FILENAME).unlink()
  _edit_json(good / schema.METADATA_FILENAME, lambda m: m.update(secret_sauce=1))
  report = V.validate(str(good))
  assert _kinds(report) == {"self_description"}
  assert _kinds(report, good / schema.SCHEMA_FILENAME) == {"self_description"}
  assert any("secret_sauce" in p.message for p in report.problems)


def test_a_schema_md_with_another_feature_spec_is_found(good):
  path = good / schema.SCHEMA_FILENAME
  path.write_text(path.read_text().replace(
      '"view_index": tf.io.FixedLenFeature([], tf.int64)',
      '"view_index": tf.io.FixedLenFeature([], tf.float32)'))
  report = V.validate(str(good))
  assert any("feature spec" in p.message for p in report.problems), report.summary()


@pytest.mark.parametrize("change, expect", [
    (lambda rows: [dict(r, photo_primary_label="cat") if i == 4 else r
                   for i, r in enumerate(rows)], "differs from it"),
    (lambda rows: rows[:-1], "has no row"),
    (lambda rows: rows + [dict(rows[-1], position=99)], "name no record"),
])
def test_index_rows_must_equal_the_records(good, change, expect):
  _rewrite_index(good, change)
  report = V.validate(str(good))
  kinds = _kinds(report)
  assert "index" in kinds and kinds <= {"index", "self_description"}, report.summary()
  assert any(expect in p.message for p in report.problems)
  # croissant.json's checksum of the index no longer matches either.
  assert any("sha256" in p.message for p in report.problems)


def test_descriptions_must_give_each_field_its_one_type(good):
  def bool_flag(doc):
    doc["content"]["features"]["is_original"]["tensor"]["dtype"] = "bool"
  _edit_json(good / schema.FEATURES_FILENAME, bool_flag)

  def text_id(doc):
    for f in doc["recordSet"][0]["field"]:
      if f["name"] == "content_id":
        f["dataType"] = "sc:Text"
  _edit_json(good / schema.CROISSANT_FILENAME, text_id)
  report = V.validate(str(good))
  assert _kinds(report) == {"types"}, report.summary()
  assert {p.file for p in report.problems} == {
      str(good / schema.FEATURES_FILENAME), str(good / schema.CROISSANT_FILENAME)}


def test_croissant_is_checked_by_mlcroissant_when_installed(good, monkeypatch):
  def dangling(doc):
    doc["recordSet"][0]["field"][3]["source"]["fileObject"]["@id"] = "nowhere.parquet"
  _edit_json(good / schema.CROISSANT_FILENAME, dangling)
  report = V.validate(str(good))
  assert _kinds(report) == {"croissant"}, report.summary()
  monkeypatch.setitem(sys.modules, "mlcroissant", None)  # not installed
  assert V.validate(str(good)).ok  # our structural checks pass; theirs are skipped


def _rewrite(path: pathlib.Path, change) -> None:
  """Rewrites a shard with TF's writer (valid framing and CRCs): record i is
  change(i, raw)."""
  raws = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
  with tf.io.TFRecordWriter(str(path)) as w:
    for i, raw in enumerate(raws):
      w.write(change(i, raw))


def test_a_changed_byte_with_valid_crcs_fails_only_the_shards_checksum(good):
  """One byte of one image changed and the record re-framed with correct CRCs: every
  record still reads and matches the index; only the sha256 names the shard."""
  path = _shard(good, "val", 1)

  def change(i, raw):
    if i != 4:
      return raw
    ex = example_pb2.Example.FromString(raw)
    image = bytearray(ex.features.feature["image"].bytes_list.value[0])
    image[len(image) // 2] ^= 0x01
    ex.features.feature["image"].bytes_list.value[:] = [bytes(image)]
    return ex.SerializeToString()

  _rewrite(path, change)
  report = V.validate(str(good))
  assert _kinds(report) == {"checksum"}
  (p,) = report.problems
  assert p.file == str(path) and "sha256" in p.message
  assert f"[checksum] {path.name}: sha256" in report.summary()


def test_shard_checksums_are_in_the_metadata_and_croissant_and_must_agree(good):
  meta = json.loads((good / schema.METADATA_FILENAME).read_text())
  doc = json.loads((good / schema.CROISSANT_FILENAME).read_text())
  shards = sorted(good.glob("*.tfrecord-*"))
  objects = {d["contentUrl"]: d["sha256"] for d in doc["distribution"]
             if d["@type"] == "cr:FileObject"}
  import hashlib
  for path in shards:
    assert objects[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
  # croissant.json naming another sum for one shard is found, naming the shard.
  for d in doc["distribution"]:
    if d.get("contentUrl") == shards[0].name:
      d["sha256"] = "0" * 64
  (good / schema.CROISSANT_FILENAME).write_text(json.dumps(doc))
  report = V.validate(str(good))
  assert _kinds(report) == {"checksum"}
  (p,) = report.problems
  assert p.file == str(good / schema.CROISSANT_FILENAME) and shards[0].name in p.message
  # Metadata without the sums is a problem too (a reader could not check the shards).
  for info in meta["splits"].values():
    del info["shard_sha256"]
  (good / schema.METADATA_FILENAME).write_text(json.dumps(meta))
  assert "no sums" in V.validate(str(good)).summary()
