"""COCO content source: labels exactly as the official annotation file gives them."""

import csv
import json

import pytest

from pipeline import coco


def test_primary_label_is_the_largest_total_area_and_empty_images_are_kept():
  labels = coco.labels_from_annotations(
      images=[{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"},
              {"id": 3, "file_name": "c.jpg"}],
      annotations=[  # image 1: two small dogs (total 60) beat one cat (50)
          {"image_id": 1, "category_id": 18, "area": 30.0},
          {"image_id": 1, "category_id": 18, "area": 30.0},
          {"image_id": 1, "category_id": 17, "area": 50.0},
          {"image_id": 2, "category_id": 17, "area": 5.0},   # tie: smaller id wins
          {"image_id": 2, "category_id": 18, "area": 5.0}],
      categories=[{"id": 17, "name": "cat", "supercategory": "animal"},
                  {"id": 18, "name": "dog", "supercategory": "animal"}])
  one = labels.content_item(1, "u", "a.jpg")
  assert (one.label_ids, one.label_names) == ((17, 18), ("cat", "dog"))
  assert (one.primary_label_id, one.primary_label, one.supercategory) == (
      18, "dog", "animal")
  assert labels.content_item(2, "u", "b.jpg").primary_label_id == 17
  empty = labels.content_item(3, "u", "c.jpg")
  assert empty.label_ids == () and empty.primary_label_id == -1
  assert empty.primary_label == "" and empty.content_id == 3


def test_each_image_keeps_its_licence_and_public_urls():
  labels = coco.labels_from_annotations(
      images=[{"id": 1, "file_name": "a.jpg", "license": 3, "coco_url": "http://c/a",
               "flickr_url": "http://f/a"},
              {"id": 2, "file_name": "b.jpg", "license": 99},  # not in `licenses`
              {"id": 3, "file_name": "c.jpg"}],
      annotations=[], categories=[],
      licenses=[{"id": 3, "name": "Attribution-NonCommercial-NoDerivs License",
                 "url": "http://creativecommons.org/licenses/by-nc-nd/2.0/"}])
  one = labels.content_item(1, "/abs/a.jpg", "a.jpg")
  assert (one.license_id, one.license, one.license_url) == (
      3, "Attribution-NonCommercial-NoDerivs License",
      "http://creativecommons.org/licenses/by-nc-nd/2.0/")
  assert (one.source_url, one.origin_url) == ("http://c/a", "http://f/a")
  for image_id in (2, 3):  # an undefined or absent licence is unknown, not guessed
    item = labels.content_item(image_id, "u", "x.jpg")
    assert (item.license_id, item.license, item.license_url) == (-1, "", "")


def test_unknown_category_is_an_error():
  with pytest.raises(coco.SourceError, match="unknown category_id 99"):
    coco.labels_from_annotations([{"id": 1, "file_name": "a.jpg"}],
                                 [{"image_id": 1, "category_id": 99, "area": 1}], [])


def test_shared_subset_labels_match_the_annotation_file(coco_images_dir):
  ann_path = coco_images_dir.parent / "instances_train2017_subset128.json"
  items, labels = coco.coco_contents(str(coco_images_dir / "train2017"), str(ann_path))
  assert len(items) == 128
  # Independent reading of the same file: categories per image, by id.
  raw = json.loads(ann_path.read_text())
  names = {c["id"]: c["name"] for c in raw["categories"]}
  expected = {im["id"]: set() for im in raw["images"]}
  for a in raw["annotations"]:
    expected[a["image_id"]].add(a["category_id"])
  by_id = {c.content_id: c for c in items}
  assert set(by_id) == set(expected)
  for image_id, cats in expected.items():
    item = by_id[image_id]
    assert set(item.label_ids) == cats
    assert list(item.label_names) == [names[i] for i in sorted(cats)]
  assert sum(1 for c in items if not c.label_ids) == 2  # the two background images
  # The shared labels.csv (derived from YOLO boxes) agrees on the multi-label sets.
  with open(coco_images_dir.parent / "labels.csv", newline="") as f:
    for row in csv.DictReader(f):
      if row["split"] == "train2017":
        got = set(by_id[int(row["image_id"])].label_names)
        assert got == set(filter(None, row["all_labels"].split(";")))
  assert len(labels.vocabulary()) == 80
  # Licences and URLs per image, as the annotation file gives them.
  licences = {x["id"]: x for x in raw["licenses"]}
  for im in raw["images"]:
    item = by_id[im["id"]]
    assert item.license_id == im["license"]
    assert item.license == licences[im["license"]]["name"]
    assert item.license_url == licences[im["license"]]["url"]
    assert (item.source_url, item.origin_url) == (im["coco_url"], im["flickr_url"])
    assert item.uri == str(coco_images_dir / "train2017" / im["file_name"])
