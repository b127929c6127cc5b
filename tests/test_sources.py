"""Sources: every non-hidden file, ids stable and relative to the root."""

import os

import pytest

from pipeline import sources


@pytest.fixture
def tree(tmp_path):
  for rel in ["a.jpg", "sub/b.png", "sub/deeper/c.jpg", ".DS_Store", "sub/.hidden/d.jpg",
              "notes.txt"]:
    p = tmp_path / "root" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
  return tmp_path / "root"


def test_folder_lists_every_non_hidden_file_recursively(tree):
  rels = [rel for _, rel in sources.list_files(str(tree))]
  assert rels == ["a.jpg", "notes.txt", "sub/b.png", "sub/deeper/c.jpg"]


def test_ids_are_relative_so_moving_the_folder_keeps_them(tree, tmp_path):
  ids = {c.rel_path: c.content_id for c in sources.folder_contents(str(tree))}
  moved = tmp_path / "elsewhere" / "copy"
  moved.parent.mkdir()
  tree.rename(moved)
  assert {c.rel_path: c.content_id for c in sources.folder_contents(str(moved))} == ids
  assert ids["a.jpg"] == sources.stable_id("a.jpg") and 0 <= ids["a.jpg"] < 2**63


def test_glob_root_is_its_wildcard_free_prefix(tree):
  items = sources.folder_styles(str(tree) + "/sub/**/*.jpg")
  assert [s.rel_path for s in items] == ["deeper/c.jpg"]


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_missing_or_empty_location_is_an_error(tmp_path, where):
  (tmp_path / "empty").mkdir()
  with pytest.raises(sources.SourceError, match="no input files"):
    sources.folder_contents(str(tmp_path / where))


def test_labels_from_class_folders(tmp_path):
  for rel in ["dog/1.jpg", "dog/sub/2.jpg", "cat/3.jpg", "loose.jpg"]:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
  items = {c.rel_path: c for c in sources.folder_contents(str(tmp_path),
                                                          labels_from_dirs=True)}
  assert items["dog/sub/2.jpg"].label_names == ("dog",)
  assert items["dog/1.jpg"].primary_label_id == 1 and items["cat/3.jpg"].label_ids == (0,)
  assert items["loose.jpg"].label_ids == () and items["loose.jpg"].primary_label_id == -1
  assert sources.label_vocabulary(items.values()) == [
      {"id": 0, "name": "cat", "supercategory": ""},
      {"id": 1, "name": "dog", "supercategory": ""}]


def test_uris_are_absolute_and_the_root_is_named(tree, monkeypatch):
  """A relative location gives absolute URIs, and rel_path is relative to
  source_root(), so a record's path resolves whatever the reader's directory."""
  monkeypatch.chdir(tree.parent)
  items = sources.folder_contents("root")
  root = sources.source_root("root")
  assert root == str(tree) and os.path.isabs(root)
  for c in items:
    assert os.path.isabs(c.uri) and c.uri == f"{root}/{c.rel_path}"
  assert sources.source_root("root/sub/**/*.jpg") == str(tree / "sub")
  assert sources.source_root("gs://b/photos/") == "gs://b/photos"
