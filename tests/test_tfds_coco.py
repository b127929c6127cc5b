"""The TFDS coco/2017 source, on a tiny dataset written offline (no network, ever)."""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import pytest

from pipeline import coco, tfds_coco
from pipeline.sources import SourceError
from tests.tfds_fixture import COCO_NAMES, write_tfds_coco_fixture


def _pixels(seed: int, h: int, w: int) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# (image id, file name, pixels, [(label index, area)]), deliberately not in id order.
IMAGES = [
    (25, "000000000025.jpg", _pixels(1, 20, 24),
     [(2, 300), (16, 200), (16, 200)]),       # dog: smaller single area, larger total
    (9, "000000000009.jpg", _pixels(2, 12, 16), [(0, 100)]),
    (30, "000000000030.jpg", _pixels(3, 16, 12), []),   # no objects
    (42, "000000000042.jpg", _pixels(4, 10, 10), [(5, 50), (3, 50)]),  # tie -> 3
    (7, "000000000007.jpg", _pixels(5, 8, 14), [(79, 10)]),
]

# id -> (label ids, label names, primary id, primary name)
EXPECTED = {
    7: ((79,), ("toothbrush",), 79, "toothbrush"),
    9: ((0,), ("person",), 0, "person"),
    25: ((2, 16), ("car", "dog"), 16, "dog"),
    30: ((), (), -1, ""),
    42: ((3, 5), ("motorcycle", "bus"), 3, "motorcycle"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
  d = tmp_path_factory.mktemp("tfds")
  write_tfds_coco_fixture(d, IMAGES)
  return str(d)


@pytest.fixture(scope="module")
def contents(data_dir) -> tfds_coco.TfdsContents:
  return tfds_coco.tfds_coco_contents("coco/2017", "train", data_dir)


def test_fixture_loads_with_tfds(data_dir):
  import tensorflow_datasets as tfds
  builder = tfds.builder("coco/2017", data_dir=data_dir)
  assert builder.info.features["objects"]["label"].names == COCO_NAMES
  seen = {}
  for ex in tfds.as_numpy(builder.as_dataset(split="train")):
    seen[int(ex["image/id"])] = (ex["image"].shape, sorted(ex["objects"]["label"].tolist()))
  assert seen == {i: (px.shape, sorted(l for l, _ in objs)) for i, _, px, objs in IMAGES}


def test_contents_items(contents):
  assert [c.content_id for c in contents.items] == sorted(EXPECTED)
  by_file = {i: f for i, f, _, _ in IMAGES}
  for c in contents.items:
    assert (c.label_ids, c.label_names, c.primary_label_id, c.primary_label) == \
        EXPECTED[c.content_id]
    assert c.uri == f"tfds://coco/2017/train/{c.content_id}"
    assert c.rel_path == by_file[c.content_id]
    assert c.supercategory == ""


def test_vocabulary_and_files(contents):
  assert contents.vocabulary == [{"id": i, "name": n, "supercategory": ""}
                                 for i, n in enumerate(COCO_NAMES)]
  assert contents.files and all(f.endswith("coco-train.tfrecord-00000-of-00001")
                                for f in contents.files)


def test_image_from_record_reads_every_record(contents):
  import tensorflow as tf
  from PIL import Image
  shapes = {i: px.shape for i, _, px, _ in IMAGES}
  got = {}
  for raw in tf.data.TFRecordDataset(contents.files).as_numpy_iterator():
    image_id, data = tfds_coco.image_from_record(raw)
    got[image_id] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).shape
  assert got == shapes


def test_image_from_record_rejects_other_records():
  from tensorflow.core.example import example_pb2
  with pytest.raises(ValueError, match="not a TFDS coco record"):
    tfds_coco.image_from_record(example_pb2.Example().SerializeToString())


def test_same_fields_as_raw_coco(contents):
  """Raw COCO category ids are TFDS indices + 1 here; names and primaries must agree."""
  raw = coco.labels_from_annotations(
      [{"id": i, "file_name": f} for i, f, _, _ in IMAGES],
      [{"image_id": i, "category_id": label + 1, "area": area}
       for i, _, _, objs in IMAGES for label, area in objs],
      [{"id": k + 1, "name": name, "supercategory": ""}
       for k, name in enumerate(COCO_NAMES)])
  for c in contents.items:
    r = raw.content_item(c.content_id, "unused", c.rel_path)
    assert c.label_names == r.label_names
    assert c.primary_label == r.primary_label
    assert c.label_ids == tuple(i - 1 for i in r.label_ids)
    assert c.primary_label_id == (r.primary_label_id - 1 if r.primary_label_id > 0 else -1)
  empty = [c for c in contents.items if not c.label_ids]
  assert [c.content_id for c in empty] == [30]
  assert raw.content_item(30, "unused", "x").label_ids == ()
  assert raw.content_item(30, "unused", "x").primary_label_id == -1


def test_falls_back_to_builder_from_directory(data_dir, monkeypatch):
  import tensorflow_datasets as tfds

  def broken(*args, **kwargs):
    raise RuntimeError("registered builder unusable")
  monkeypatch.setattr(tfds, "builder", broken)
  got = tfds_coco.tfds_coco_contents("coco/2017", "train", data_dir)
  assert [c.primary_label for c in got.items] == [EXPECTED[i][3] for i in sorted(EXPECTED)]


def test_missing_split_is_a_clear_error(data_dir):
  with pytest.raises(SourceError, match=r"coco/2017 split validation not found.*"
                                         r"available splits: \['train'\].*tfds_data_dir"):
    tfds_coco.tfds_coco_contents("coco/2017", "validation", data_dir)


def test_missing_data_dir_is_a_clear_error(tmp_path):
  missing = str(tmp_path / "nowhere")
  with pytest.raises(SourceError, match=r"split train not found under .*nowhere.*"
                                         r"does not exist.*tfds build"):
    tfds_coco.tfds_coco_contents("coco/2017", "train", missing)


def test_unprepared_data_dir_is_a_clear_error(tmp_path):
  with pytest.raises(SourceError, match=r"coco/2017 split train not found.*"
                                         r"no prepared version"):
    tfds_coco.tfds_coco_contents("coco/2017", "train", str(tmp_path))


def test_fixture_names_are_coco_category_order(shared_dir):
  path = shared_dir / "data" / "coco256" / "instances_train2017_subset128.json"
  if not path.exists():
    pytest.skip(f"needs {path}")
  cats = json.loads(path.read_text())["categories"]
  assert [c["name"] for c in sorted(cats, key=lambda c: c["id"])] == COCO_NAMES


def test_missing_shard_is_a_clear_error(tmp_path):
  out = write_tfds_coco_fixture(tmp_path, IMAGES[:1], split="validation")
  (pathlib.Path(out) / "coco-validation.tfrecord-00000-of-00001").unlink()
  with pytest.raises(SourceError, match=r"split validation not found.*missing shard"):
    tfds_coco.tfds_coco_contents("coco/2017", "validation", str(tmp_path))
