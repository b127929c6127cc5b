"""Annotations mapped into views: the geometry equals the resize, and labels follow.

Unit tests on the mapping (every resize policy, photos of every shape) and on the
label rules; a job-level test on real COCO photos with their annotation file checks
each written box against the file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import annotations, image_io
from pipeline.sources import ContentItem
from tfrecords_schema.fields import (ANNOTATIONS_BOXES, ANNOTATIONS_IMAGE_LEVEL,
                                     ANNOTATIONS_NONE, VISIBLE_MIN)

SHAPES = [(480, 640), (640, 427), (300, 300), (333, 517), (101, 97)]  # (h, w)


@pytest.mark.parametrize("policy", image_io.RESIZE_POLICIES)
@pytest.mark.parametrize("hw", SHAPES)
def test_a_box_mapped_into_the_view_and_back_is_the_same_box(policy, hw):
  h, w = hw
  layout = image_io.square_layout(w, h, 224, policy)
  rng = np.random.default_rng(h * w)
  checked = 0
  for _ in range(200):
    x0, x1 = sorted(rng.uniform(0, w, 2))
    y0, y1 = sorted(rng.uniform(0, h, 2))
    (vx0, vy0, vx1, vy1), kept = annotations.map_box(layout, x0, y0, x1, y1)
    assert 0 <= vx0 <= vx1 <= 224 and 0 <= vy0 <= vy1 <= 224 and 0 <= kept <= 1
    if kept < 1:  # only a crop cuts a box of the photo
      assert policy == "center_crop"
      continue
    back = (*layout.to_photo(vx0, vy0), *layout.to_photo(vx1, vy1))
    assert np.allclose(back, (x0, y0, x1, y1), atol=1.0), (back, (x0, y0, x1, y1))
    checked += 1
  assert checked >= 50  # most random boxes are whole in the view


@pytest.mark.parametrize("policy", image_io.RESIZE_POLICIES)
@pytest.mark.parametrize("hw", SHAPES[:4])
def test_the_mapped_box_is_where_the_resize_puts_the_object(policy, hw):
  """A white rectangle on black, resized as the job resizes: the white pixels of the
  view span the mapped box (within a pixel of LANCZOS ringing)."""
  h, w = hw
  img = np.zeros((h, w, 3), np.uint8)
  x0, y0, x1, y1 = int(w * 0.4), int(h * 0.3), int(w * 0.7), int(h * 0.8)
  img[y0:y1, x0:x1] = 255
  view = image_io.resize_to_square(img, 96, policy)
  ys, xs = np.nonzero(view[..., 0] > 191)
  got = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
  layout = image_io.square_layout(w, h, 96, policy)
  want, kept = annotations.map_box(layout, x0, y0, x1, y1)
  assert kept == 1
  assert np.allclose(got, want, atol=1.0), (got, want)


def test_pad_and_center_crop_layouts_match_the_pixels_they_make():
  img = np.full((60, 200, 3), 200, np.uint8)
  padded = image_io.resize_to_square(img, 100, "pad")
  layout = image_io.square_layout(200, 60, 100, "pad")
  (ox, oy), (pw, ph) = layout.offset, layout.placed
  assert (padded[:oy] == image_io.PAD_VALUE).all()
  assert (padded[oy + ph:] == image_io.PAD_VALUE).all()
  assert (padded[oy:oy + ph, ox:ox + pw] == 200).all()
  crop = image_io.square_layout(200, 60, 100, "center_crop")
  assert crop.source_box == (70, 0, 130, 60)


def _content(objects, frame=(400, 200), status=ANNOTATIONS_BOXES):
  ids = sorted({o[1] for o in objects})
  names = {1: ("person", "person"), 6: ("bus", "vehicle"), 8: ("truck", "vehicle")}
  area = {}
  for o in objects:
    area[o[1]] = area.get(o[1], 0) + o[7]
  primary = min(area, key=lambda c: (-area[c], c)) if area else -1
  return ContentItem(
      1, "photo.jpg", "photo.jpg", label_ids=tuple(ids),
      label_names=tuple(names[i][0] for i in ids),
      label_supercategories=tuple(names[i][1] for i in ids), primary_label_id=primary,
      primary_label=names[primary][0] if primary >= 0 else "",
      supercategory=names[primary][1] if primary >= 0 else "",
      annotations_status=status, objects=tuple(objects), annotation_frame=frame)


def test_an_object_cropped_out_leaves_the_view_labels_and_the_primary():
  # 400x200 photo: center_crop keeps x in [100, 300]. The bus (largest) is at the left
  # edge, wholly outside; the truck straddles the crop edge keeping 20% of its box.
  objects = [[10, 6, 0, 0, 50, 90, 100, 9000.0],      # bus, cropped out
             [11, 1, 0, 150, 50, 50, 100, 3000.0],    # person, whole
             [12, 8, 0, 280, 0, 100, 100, 5000.0]]    # truck, 20% inside
  c = _content(objects)
  out = annotations.view_fields(c, (400, 200), 100, "center_crop")
  assert out["photo_primary_label"] == "bus" and out["photo_label_ids"] == [1, 6, 8]
  assert out["object_visible_fraction"] == pytest.approx([0.0, 1.0, 0.2])
  assert out["view_label_ids"] == [1] and out["view_primary_label"] == "person"
  assert out["view_supercategory"] == "person"
  assert out["object_xmin"][1] == pytest.approx(25.0)  # (150 - 100) * 100 / 200
  assert out["annotations_status"] == ANNOTATIONS_BOXES
  # The same photo padded or stretched keeps everything: view labels = photo labels.
  for policy in ("pad", "stretch"):
    out = annotations.view_fields(c, (400, 200), 100, policy)
    assert out["view_label_ids"] == out["photo_label_ids"]
    assert out["view_primary_label_id"] == out["photo_primary_label_id"] == 6
    assert out["object_visible_fraction"] == [1.0, 1.0, 1.0]


def test_a_category_is_a_view_label_from_the_documented_visible_share():
  assert VISIBLE_MIN == 0.25  # SCHEMA.md and the field docs state it
  # center_crop of 400x200 keeps x in [100, 300]: a 100-wide box from 275 keeps 25%.
  at = [[1, 8, 0, 275, 0, 100, 100, 10.0]]
  below = [[1, 8, 0, 276, 0, 100, 100, 10.0]]
  out = annotations.view_fields(_content(at), (400, 200), 100, "center_crop")
  assert out["object_visible_fraction"] == [0.25] and out["view_label_ids"] == [8]
  out = annotations.view_fields(_content(below), (400, 200), 100, "center_crop")
  assert out["object_visible_fraction"][0] < 0.25 and out["view_label_ids"] == []
  assert out["view_primary_label_id"] == -1 and out["photo_primary_label_id"] == 8


def test_annotated_without_objects_differs_from_unknown():
  empty = annotations.view_fields(_content([]), (400, 200), 64, "center_crop")
  assert empty["annotations_status"] == ANNOTATIONS_BOXES
  assert empty["object_category_ids"] == [] and empty["view_label_ids"] == []
  unknown = annotations.view_fields(ContentItem(1, "photo.jpg", "photo.jpg"), (400, 200),
                                    64, "center_crop")
  assert unknown["annotations_status"] == ANNOTATIONS_NONE
  assert "object_category_ids" not in unknown and unknown["view_primary_label_id"] == -1
  folder = annotations.view_fields(
      ContentItem(1, "cat/1.jpg", "cat/1.jpg", label_ids=(3,), label_names=("cat",),
                  primary_label_id=3, primary_label="cat",
                  annotations_status=ANNOTATIONS_IMAGE_LEVEL),
      (400, 200), 64, "center_crop")
  assert folder["annotations_status"] == ANNOTATIONS_IMAGE_LEVEL
  assert folder["view_label_ids"] == [3] and folder["view_primary_label"] == "cat"


def test_a_resized_copy_is_scaled_and_a_rotated_one_is_not_placed():
  objects = [[1, 1, 0, 100, 50, 200, 100, 100.0]]
  half = annotations.view_fields(_content(objects), (200, 100), 100, "stretch")
  assert [half[k][0] for k in ("object_xmin", "object_ymin", "object_xmax",
                               "object_ymax")] == pytest.approx([25, 25, 75, 75])
  rotated = annotations.view_fields(_content(objects), (200, 400), 100, "stretch")
  assert rotated["annotations_status"] == ANNOTATIONS_IMAGE_LEVEL
  assert "object_xmin" not in rotated and rotated["view_label_ids"] == [1]


def test_normalized_boxes_scale_to_the_photo():
  objects = [[1, 1, 0, 0.25, 0.5, 0.5, 0.25, 10.0]]
  out = annotations.view_fields(_content(objects, frame=(1, 1)), (400, 200), 100,
                                "stretch")
  assert [out[k][0] for k in ("object_xmin", "object_ymin", "object_xmax",
                              "object_ymax")] == pytest.approx([25, 50, 75, 75])


# --- job level: real COCO photos and their annotation file ----------------------------


def _photo_box(rec, i, policy):
  layout = image_io.square_layout(rec["photo_width"], rec["photo_height"],
                                  rec["width"], policy)
  return (*layout.to_photo(rec["object_xmin"][i], rec["object_ymin"][i]),
          *layout.to_photo(rec["object_xmax"][i], rec["object_ymax"][i]))


@pytest.mark.parametrize("policy", image_io.RESIZE_POLICIES)
def test_job_writes_boxes_that_map_back_to_the_annotation_file(tmp_path, shared_dir,
                                                               policy):
  from beam_jobs import stylize
  from tests.test_stylize_job import IN_MEMORY, read_dataset
  coco = shared_dir / "data" / "coco256"
  ann = json.loads((coco / "instances_train2017_subset128.json").read_text())
  names = sorted(p["file_name"] for p in ann["images"])[:6] + ["000000000250.jpg"]
  photos = tmp_path / "photos"
  photos.mkdir()
  for n in names:
    (photos / n).symlink_to(coco / "images" / "train2017" / n)
  styles = tmp_path / "styles"
  from tests.conftest import write_styles
  write_styles(styles, 2)
  out = tmp_path / "out"
  stylize.run([f"--content={photos}", f"--coco_annotations={coco / 'instances_train2017_subset128.json'}",
               f"--styles={styles}", f"--output={out}", "--stylizer=classical",
               "--styles_per_content=1", "--include_original", "--image_size=64",
               f"--resize_policy={policy}", "--split_fractions=1,0,0"] + IN_MEMORY)
  by_id = {}
  for a in ann["annotations"]:
    by_id[a["id"]] = a
  images = {im["id"]: im for im in ann["images"]}
  recs = read_dataset(out)
  assert {r["content_id"] for r in recs} == {images_id for images_id, im in images.items()
                                               if im["file_name"] in names}
  checked = 0
  for rec in recs:
    im = images[rec["content_id"]]
    assert rec["annotations_status"] == ANNOTATIONS_BOXES
    assert (rec["photo_width"], rec["photo_height"]) == (im["width"], im["height"])
    want = sorted(a["id"] for a in ann["annotations"] if a["image_id"] == im["id"])
    assert rec["object_annotation_ids"] == want  # every annotation, none invented
    for i, aid in enumerate(rec["object_annotation_ids"]):
      a = by_id[aid]
      assert rec["object_category_ids"][i] == a["category_id"]
      assert rec["object_iscrowd"][i] == a["iscrowd"]
      if rec["object_visible_fraction"][i] == 1.0:
        x, y, w, h = a["bbox"]
        assert np.allclose(_photo_box(rec, i, policy), (x, y, x + w, y + h), atol=1.0)
        checked += 1
    if policy != "center_crop":
      assert rec["view_label_ids"] == rec["photo_label_ids"]
  assert checked >= 10
  empty = [r for r in recs if images[r["content_id"]]["file_name"] == "000000000250.jpg"]
  assert empty and all(r["object_annotation_ids"] == [] and r["view_label_ids"] == []
                       for r in empty)
  # The card counts, per content, the photo labels the view lost; the sheet is drawn.
  card = (out / "DATASET_CARD.md").read_text()
  lost = sum(len(set(r["photo_label_ids"]) - set(r["view_label_ids"]))
             for r in recs if r["is_original"])
  photo = sum(len(r["photo_label_ids"]) for r in recs if r["is_original"])
  assert f"{lost} of {photo} photo labels are not view labels" in card
  assert (out / "contact_sheet.png").stat().st_size > 0


def test_the_validator_rules_accept_mapped_labels_and_name_a_broken_record():
  from tfrecords_schema.codec import label_problems
  objects = [[10, 6, 0, 0, 50, 90, 100, 9000.0], [11, 1, 0, 150, 50, 50, 100, 3000.0]]
  rec = dict(annotations.view_fields(_content(objects), (400, 200), 100, "center_crop"),
             width=100, height=100)
  assert label_problems(rec) == []
  for field, value, message in [
      ("view_label_ids", [1, 6], "differ from the categories"),
      ("object_xmax", [0.0, 101.0], "outside the 100x100 view"),
      ("view_primary_label_id", 6, "is not a view label"),
      ("annotations_status", 5, "is not 0, 1 or 2"),
      ("annotations_status", 1, "with object boxes")]:
    problems = label_problems(dict(rec, **{field: value}))
    assert any(message in p for p in problems), (field, problems)
