"""Small self-describing dataset folders written with the public schema package only.

Shards, TFDS files, metadata, index.parquet, SCHEMA.md and croissant.json, as the job
writes them but without Beam, so contract tests stay fast. `hook` plants defects.
"""

from __future__ import annotations

import hashlib
import io
import json
import pathlib

from PIL import Image

import tfrecords_schema as schema
from tfrecords_schema import croissant, index, schema_doc, tfrecord

NAME = "stylized"
HEIGHT, WIDTH = 8, 12


def jpeg(seed: int) -> bytes:
  buf = io.BytesIO()
  Image.new("RGB", (WIDTH, HEIGHT), (seed * 40 % 256, 90, 200)).save(buf, "JPEG")
  return buf.getvalue()


def records(split: str, cid: int, k: int, original: bool = True) -> list[dict]:
  """The original (optional) and K stylized views of one content, in view order."""
  base = {"image": jpeg(cid), "image_format": "jpeg", "height": HEIGHT,
          "width": WIDTH, "content_id": cid, "content_path": f"{cid}.jpg",
          "content_uri": f"/data/photos/{cid}.jpg", "split": split}
  out = [dict(base, is_original=1, view_index=0, stylizer="none")] if original else []
  for j in range(k):
    sid = 1000 + (cid + j) % 5
    out.append(dict(base, is_original=0, view_index=j + 1, style_id=sid,
                    style_path=f"{sid}.png", style_uri=f"/data/styles/{sid}.png",
                    stylizer="classical", stylizer_version="classical-v1",
                    style_strength=1.0))
  return out


def metadata(name: str, splits: dict, k: int, original: bool) -> dict:
  """The stylized_metadata.json keys SCHEMA.md and croissant.json are made from."""
  source = {"kind": "folder", "location": "x", "root": "/data", "name": "", "url": "",
            "citation": "", "annotations": "", "licenses": []}
  return {
      "schema_version": schema.SCHEMA_VERSION, "dataset_name": name,
      "description": "test fixture", "created": "2026-01-01T00:00:00Z",
      "dead_letters": 0, "splits": splits, "citation": "",
      "plan": {"styles_per_content": k, "include_original": original, "seed": 0,
               "split_fractions": [0.8, 0.1, 0.1], "holdout_style_fraction": 0.0,
               "style_strength": 1.0},
      "image": {"size": WIDTH, "format": "jpeg", "jpeg_quality": 95,
                "resize_policy": "center_crop"},
      "sources": {"content": dict(source), "styles": dict(source, root="/data/styles")},
      "held_out_styles": [], "license_notes": [],
  }


def write_self_description(root: pathlib.Path, meta: dict, rows: list[dict]) -> None:
  with open(root / schema.INDEX_FILENAME, "wb") as f:
    index.write_index([rows], f)
  text = schema_doc.schema_markdown(meta)
  (root / schema.SCHEMA_FILENAME).write_text(text)
  doc = croissant.croissant_json(
      meta, index_sha256=hashlib.sha256((root / schema.INDEX_FILENAME).read_bytes())
      .hexdigest(), schema_sha256=hashlib.sha256(text.encode()).hexdigest())
  (root / schema.CROISSANT_FILENAME).write_text(json.dumps(doc, indent=2))


def build_dataset(root: pathlib.Path, *, k: int = 2, hook=None, original: bool = True,
                  contents: dict[str, list[list[int]]] | None = None) -> pathlib.Path:
  """A small valid dataset folder: 2 splits x 2 shards x 3 contents x (original + K).

  contents: split -> per shard, its content ids. hook(split, shard, i, record) may
  return a changed record (dict) or raw bytes to write instead, to plant a defect, or
  None to leave the record out (a dead-lettered view); the index describes the records
  as written (a raw-bytes record gets no row).
  """
  import tensorflow as tf
  contents = contents or {"train": [[1, 2, 3], [4, 5, 6]],
                          "val": [[101, 102, 103], [104, 105, 106]]}
  root.mkdir(parents=True, exist_ok=True)
  splits, rows = {}, []
  for split, per_shard in contents.items():
    lengths, sizes = [], []
    for shard, cids in enumerate(per_shard):
      filename = schema.shard_filename(NAME, split, shard, len(per_shard))
      recs = [r for cid in cids for r in records(split, cid, k, original)]
      offset = written = 0
      with tf.io.TFRecordWriter(str(root / filename)) as w:
        for i, rec in enumerate(recs):
          rec = hook(split, shard, i, rec) if hook else rec
          if rec is None:
            continue
          data = rec if isinstance(rec, bytes) else schema.encode_example(rec)
          if not isinstance(rec, bytes):
            rows.append(index.index_row(schema.decode_example(data), filename, written,
                                        offset))
          w.write(data)
          written += 1
          offset += tfrecord.framed_size(data)
      lengths.append(written)
      sizes.append((root / filename).stat().st_size)
    splits[split] = {"records": sum(lengths), "contents": sum(map(len, per_shard)),
                     "shards": len(per_shard), "bytes": sum(sizes),
                     "shard_lengths": lengths, "shard_sha256": [
                         hashlib.sha256((root / schema.shard_filename(
                             NAME, split, i, len(per_shard))).read_bytes()).hexdigest()
                         for i in range(len(per_shard))]}
  files = schema.tfds_metadata_json(
      name=NAME, description="validator fixture", image_format="jpeg",
      splits={s: (v["shard_lengths"], v["bytes"]) for s, v in splits.items()})
  for filename, text in files.items():
    (root / filename).write_text(text)
  meta = metadata(NAME, splits, k, original)
  (root / schema.METADATA_FILENAME).write_text(json.dumps(meta, indent=2))
  (root / schema.DEAD_LETTER_FILENAME).write_text("")
  write_self_description(root, meta, rows)
  return root


def code_block(markdown: str, heading: str) -> str:
  """The first ```python block after `heading` in a SCHEMA.md."""
  rest = markdown[markdown.index(heading):]
  start = rest.index("```python\n") + len("```python\n")
  return rest[start:rest.index("\n```", start)]


def run_block(code: str, dataset_dir) -> dict:
  """Runs a SCHEMA.md block as a consumer would, in a fresh namespace, pointed at the
  folder (the block's DATASET_DIR line is the only change); returns its namespace."""
  import re
  code, n = re.subn(r'^DATASET_DIR = .*$', f"DATASET_DIR = {str(dataset_dir)!r}", code,
                    flags=re.M)
  assert n <= 1
  namespace: dict = {"__name__": "schema_md_recipe"}
  exec(compile(code, "SCHEMA.md", "exec"), namespace)  # noqa: S102
  return namespace
