"""SCHEMA.md's TFDS recipe keeps every content's records adjacent, for K+1 = 3, 4, 5.

TFDS's default read interleaves 16 shards in blocks of 16 records, which splits a
content's K+1 records unless 16 is a multiple of K+1: the test shows both, so it
fails if the recipe stops doing its job or the default stops being the problem.
"""

from __future__ import annotations

import itertools

import pytest

import tfrecords_schema as schema
from tests.dataset_fixture import build_dataset, code_block, run_block

RECIPE = "### 2. TFDS"
#: Three train shards of 7, 5 and 6 contents (more than 16 records each for K+1 >= 3).
CONTENTS = {"train": [list(range(1, 8)), list(range(8, 13)), list(range(13, 19))]}


def _runs(records) -> list[tuple[int, list[int]]]:
  """(content_id, its view indices) per run of consecutive records of one content."""
  return [(cid, [r["view_index"] for r in group])
          for cid, group in itertools.groupby(records, key=lambda r: r["content_id"])]


@pytest.mark.parametrize("views", [3, 4, 5])
def test_tfds_recipe_keeps_each_contents_records_adjacent(tmp_path, views):
  import tensorflow_datasets as tfds
  root = build_dataset(tmp_path / "ds", k=views - 1, contents=CONTENTS)
  recipe = code_block((root / schema.SCHEMA_FILENAME).read_text(), RECIPE)
  ns = run_block(recipe, root)
  runs = _runs(tfds.as_numpy(ns["ds"]))
  assert len(runs) == 18  # one run per content: never split, never revisited
  assert {cid for cid, _ in runs} == set(range(1, 19))
  assert all(v == list(range(views)) for _, v in runs)
  default = _runs(tfds.as_numpy(
      tfds.builder_from_directory(str(root)).as_dataset(split="train")))
  assert (len(default) == 18) == (16 % views == 0)
