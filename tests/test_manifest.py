"""pipeline.manifest: the typed manifest entries and their one on-disk form."""

import json

from pipeline import manifest
from pipeline.manifest import ContentEntry
from pipeline.sources import ContentItem, StyleItem

# A content line as the launcher wrote it before the entry was typed (keys sorted,
# tuples as lists, no source_record): a run started then must resume from it.
OLD_LINE = (
    '{"annotation_frame": [381, 500], "annotations_status": 2, "content_id": 49, '
    '"index_in_split": 0, "label_ids": [1, 19], "label_names": ["person", "horse"], '
    '"label_supercategories": ["person", "animal"], "license": "Attribution License", '
    '"license_id": 4, "license_url": "http://creativecommons.org/licenses/by/2.0/", '
    '"objects": [[7, 1, 0, 1.5, 2.0, 30.0, 40.0, 900.5], [8, 19, 1, 0.0, 0.0, 10.0, '
    '10.0, 100.0]], "origin_url": "http://farm.example/49.jpg", "primary_label": '
    '"person", "primary_label_id": 1, "rel_path": "000000000049.jpg", "shard": 2, '
    '"source_url": "http://images.example/49.jpg", "split": "test", "supercategory": '
    '"person", "uri": "/data/coco/000000000049.jpg"}\n')


def test_an_entry_written_before_the_type_reads_back_and_writes_the_same_bytes():
  (row,) = [json.loads(line) for line in OLD_LINE.splitlines()]
  entry = ContentEntry.from_json(row)
  assert (entry.content_id, entry.split, entry.index_in_split, entry.shard) == (
      49, "test", 0, 2)
  assert entry.label_ids == (1, 19) and entry.objects[1] == [8, 19, 1, 0.0, 0.0, 10.0,
                                                             10.0, 100.0]
  assert entry.source_record is None and entry.license_id == 4
  assert manifest.to_lines([entry.to_json()]) == OLD_LINE


def test_a_planned_entry_round_trips_through_its_line(tmp_path):
  box = [1, 3, 0, 0.1, 0.2, 0.3, 0.4, 2.0]
  item = ContentItem(5, "tfds://coco/2017/train/5", "été/5.jpg", label_ids=(3,),
                     label_names=("chat",), primary_label_id=3, primary_label="chat",
                     annotation_frame=(1, 1), objects=(box,))
  record = {"file": "coco-train.tfrecord-00000-of-00001", "offset": 1234}
  entry = ContentEntry.planned(item, split="train", index_in_split=7, shard=1,
                               source_record=record)
  assert isinstance(entry, ContentItem) and entry.rel_path == "été/5.jpg"
  path = tmp_path / "train-00001.jsonl"
  path.write_text(manifest.to_lines([entry.to_json()]), encoding="utf-8")
  assert "été" in path.read_text(encoding="utf-8")  # non-ASCII kept as is
  assert list(manifest.read_contents(str(path))) == [entry]
  listed = entry.listed_json()  # the plan's fingerprint: the files, not the plan
  assert not set(manifest.PLANNED_FIELDS) & set(listed)
  assert listed["source_record"]["offset"] == 1234
  plain = ContentEntry.planned(item, split="val", index_in_split=0, shard=0)
  assert "source_record" not in plain.to_json()


def test_a_style_entry_is_the_listed_style():
  style = StyleItem(9, "/s/a.jpg", "a.jpg", name="Impressionism", credit="Monet")
  row = json.loads(manifest.to_lines([manifest.style_to_json(style)]))
  assert manifest.style_from_json(row) == style
