"""The record contract: encode/parse round trips, refusals, TFDS view, docs in sync."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import tfrecords_schema as schema
from tfrecords_schema import self_description
from tfrecords_schema.fields import feature_spec_source, fields_markdown

README = pathlib.Path(schema.__file__).with_name("README.md")


def _record(**kw):
  r = {"image": b"\xff\xd8fake", "image_format": "jpeg", "height": 4, "width": 5,
       "content_id": 2**62 + 3, "content_path": "é.jpg", "content_uri": "gs://b/é.jpg",
       "content_license_id": 3, "is_original": 0,
       "style_id": 42, "style_uri": "s.png", "style_name": "Impressionism",
       "photo_label_ids": [1, 18], "photo_label_names": ["person", "dog"],
       "stylizer": "tflite", "style_strength": 0.75, "view_index": 2, "split": "val"}
  r.update(kw)
  return r


def test_python_round_trip_keeps_every_field():
  got = schema.decode_example(schema.encode_example(_record()))
  for k, v in _record().items():
    assert got[k] == v, k
  assert got["schema_version"] == schema.SCHEMA_VERSION
  assert got["photo_primary_label_id"] == -1 and got["style_genre"] == ""


def test_tf_parser_agrees_with_python_decoder():
  data = schema.encode_example(_record())
  parsed = schema.parse_example(tf.constant(data))
  assert parsed["content_id"].numpy() == 2**62 + 3
  assert parsed["content_uri"].numpy().decode() == "gs://b/é.jpg"
  assert list(parsed["photo_label_names"].numpy()) == [b"person", b"dog"]
  assert parsed["is_original"].dtype == tf.int64 and parsed["is_original"].numpy() == 0
  assert np.isclose(parsed["style_strength"].numpy(), 0.75)
  # Each field parses to the one dtype the table declares, and absent ones to defaults.
  for f in schema.FIELDS:
    assert parsed[f.name].dtype.name == f.type.tf_dtype[len("tf."):], f.name
  assert parsed["style_license"].numpy() == b"" and parsed["content_license_id"] == 3


def test_tf_free_example_classes_match_tensorflows_wire_format():
  data = schema.encode_example(_record())
  theirs = tf.train.Example.FromString(data)
  assert theirs.SerializeToString(deterministic=True) == data  # TF re-encodes identically
  assert theirs.features.feature["style_strength"].float_list.value == [0.75]
  assert theirs.features.feature["photo_label_ids"].int64_list.value == [1, 18]
  # And the reverse: a record TF wrote decodes with the TF-free classes.
  theirs.features.feature["view_index"].int64_list.value[:] = [7]
  assert schema.decode_example(theirs.SerializeToString())["view_index"] == 7


def test_encoding_and_decoding_do_not_import_tensorflow(tmp_path):
  """The job's workers and launcher encode/decode records; neither should pay TF's start-up."""
  import subprocess
  import sys
  code = ("import sys, tfrecords_schema as s; "
          "r = s.decode_example(s.encode_example(" + repr(_record()) + ")); "
          "assert r['view_index'] == 2; "
          "print('tensorflow' in sys.modules)")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=README.parents[1], check=True)
  assert out.stdout.strip() == "False", out.stderr


def test_encoding_is_deterministic():
  assert schema.encode_example(_record()) == schema.encode_example(dict(_record()))


@pytest.mark.parametrize("bad, match", [
    ({"colour": "red"}, "unknown fields"),
    ({"content_id": "12"}, "expected an integer"),
    ({"photo_label_names": "person"}, "list of strings"),
    ({"photo_label_ids": [1]}, "differ in length"),
    ({"is_original": 2}, "expected a bool"),
    ({"content_license_id": "3"}, "expected an integer"),
])
def test_encoder_refuses_bad_records(bad, match):
  with pytest.raises(schema.SchemaError, match=match):
    schema.encode_example(_record(**bad))


def test_encoder_names_a_missing_required_field():
  r = _record()
  del r["split"]
  with pytest.raises(schema.SchemaError, match="'split'"):
    schema.encode_example(r)


def _other_version(data: bytes) -> bytes:
  from tensorflow.core.example import example_pb2
  ex = example_pb2.Example.FromString(data)
  ex.features.feature["schema_version"].int64_list.value[:] = [schema.SCHEMA_VERSION + 1]
  return ex.SerializeToString()


def test_both_parsers_refuse_another_schema_version():
  data = _other_version(schema.encode_example(_record()))
  other = schema.SCHEMA_VERSION + 1
  with pytest.raises(schema.SchemaError, match=f"schema_version {other}, this reader "
                     f"understands {schema.SCHEMA_VERSION}"):
    schema.decode_example(data)
  ds = tf.data.Dataset.from_tensor_slices([data]).map(schema.parse_example)
  with pytest.raises(tf.errors.InvalidArgumentError, match="schema_version"):
    list(ds)
  assert schema.decode_example(data, check_version=False)["schema_version"] == other


def test_garbage_is_not_a_record():
  with pytest.raises(schema.SchemaError, match="not a tf.train.Example"):
    schema.decode_example(b"\x00\x01garbage\xff")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_tfds_features_declare_each_field_with_its_one_type(fmt, tmp_path):
  files = schema.tfds_metadata_json(name="x", description="d", image_format=fmt,
                                    splits={"train": ([1], 10)}, citation="@misc{x}",
                                    redistribution="CC0 photos")
  feats = json.loads(files[schema.FEATURES_FILENAME])["content"]["features"]
  assert set(feats) == {f.name for f in schema.FIELDS}
  assert feats["image"]["image"]["encodingFormat"] == fmt
  assert feats["image"]["description"].startswith(fmt.upper())
  assert feats["is_original"]["tensor"]["dtype"] == "int64"  # as on the wire, not bool
  assert feats["style_strength"]["tensor"]["dtype"] == "float32"
  (tmp_path / schema.FEATURES_FILENAME).write_text(files[schema.FEATURES_FILENAME])
  problems = []
  self_description.check_features(str(tmp_path), lambda *p: problems.append(p), fmt)
  assert problems == []
  self_description.check_features(str(tmp_path), lambda *p: problems.append(p),
                                  "png" if fmt == "jpeg" else "jpeg")
  assert [p[1] for p in problems] == ["types"]  # the format as written, not assumed
  info = json.loads(files[schema.DATASET_INFO_FILENAME])
  assert info["citation"] == "@misc{x}"
  assert info["redistributionInfo"]["license"] == "CC0 photos"


def test_literal_feature_spec_is_what_the_parsers_use_with_its_defaults():
  """SCHEMA.md prints feature_spec_source(); feature_spec() evaluates that same text,
  and a record lacking the optional features parses to the stated defaults."""
  namespace = {"tf": tf}
  exec(feature_spec_source(), namespace)
  spec = namespace["FEATURE_SPEC"]
  assert list(spec) == [f.name for f in schema.FIELDS]
  assert spec == schema.feature_spec()
  ex = tf.train.Example.FromString(schema.encode_example(_record()))
  optional = [f for f in schema.FIELDS if not f.required]
  for f in optional:
    del ex.features.feature[f.name]
  parsed = tf.io.parse_single_example(ex.SerializeToString(), spec)
  decoded = schema.decode_example(ex.SerializeToString())
  for f in optional:
    want = list(f.default) if f.type.is_list else f.default
    got = parsed[f.name].numpy()
    got = got.tolist() if f.type.is_list else got.decode() if f.kind == "str" else got
    assert got == want == decoded[f.name], f.name


def test_readme_field_table_matches_the_code():
  text = README.read_text(encoding="utf-8")
  assert fields_markdown() in text, (
      "tfrecords_schema/README.md is out of date: paste fields_markdown() into it")
  assert f"schema version {schema.SCHEMA_VERSION}" in text


def test_objects_round_trip_as_float_lists_in_every_reader():
  boxes = {"annotations_status": 2, "object_annotation_ids": [7, 9],
           "object_category_ids": [1, 18], "object_iscrowd": [0, 1],
           "object_xmin": [0.5, 10.25], "object_ymin": [1.0, 0.0],
           "object_xmax": [4.0, 12.0], "object_ymax": [3.5, 4.0],
           "object_visible_fraction": [1.0, 0.25]}
  data = schema.encode_example(_record(**boxes))
  got = schema.decode_example(data)
  parsed = schema.parse_example(tf.constant(data))
  for k, v in boxes.items():
    assert got[k] == v, k
    assert parsed[k].numpy().tolist() == v, k
  assert parsed["object_xmin"].dtype == tf.float32
  with pytest.raises(schema.SchemaError, match="differ in length"):
    schema.encode_example(_record(**dict(boxes, object_xmin=[0.5])))


def _version_2_record() -> bytes:
  """A record as v2 wrote it: `content_*` label fields (photo-level only)."""
  from tensorflow.core.example import example_pb2
  ex = example_pb2.Example.FromString(schema.encode_example(_record()))
  feats = ex.features.feature
  new = ("photo_label", "photo_primary", "photo_super", "view_label", "view_primary",
         "view_super", "object_", "photo_width", "photo_height", "annotations_status")
  for name in [n for n in feats if n.startswith(new)]:
    if name.startswith(("photo_label", "photo_primary", "photo_super")):
      feats[name.replace("photo_", "content_", 1)].CopyFrom(feats[name])
    del feats[name]
  feats["schema_version"].int64_list.value[:] = [2]
  return ex.SerializeToString()


def test_a_version_2_record_is_refused_naming_its_version_and_what_to_do():
  with pytest.raises(schema.SchemaError, match="schema_version 2, this reader "
                     "understands 3; version 2 datasets .* regenerated"):
    schema.decode_example(_version_2_record())


def test_the_trainer_refuses_a_version_2_shard_naming_the_file_and_version(tmp_path):
  from trainer import records
  path = str(tmp_path / "old-train.tfrecord-00000-of-00001")
  with tf.io.TFRecordWriter(path) as w:
    w.write(_version_2_record())
  with pytest.raises(records.DataError, match=f"{path}: record has schema_version 2, "
                     "this reader understands 3"):
    records.check_shards([path])
