"""The folder describes itself: a job on real COCO photos (with the official annotation
file) and real AIC paintings, read back only through what the folder ships: SCHEMA.md's
literal feature spec and recipes, index.parquet, croissant.json with mlcroissant,
features.json through TFDS. Plus the failed-views policy on a job that loses views."""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

import tfrecords_schema as schema
from beam_jobs import stylize
from tests.conftest import ROOT, write_photos, write_styles
from tests.dataset_fixture import code_block, run_block
from tfrecords_schema import index as record_index
from tfrecords_schema import validate as V

N_CONTENTS, K = 8, 2
RECIPE_TF = "### 1. tf.data"
RECIPE_NO_TF = "### 3. Without TensorFlow"
RULES = "## Ids, splits and held-out styles"
IN_MEMORY = "--direct_running_mode=in_memory"


def _aic_manifest(folder: pathlib.Path, paintings: pathlib.Path, n: int) -> list[dict]:
  """A style manifest of n AIC paintings with credit and licence columns: values from
  the shared labels.csv, the licence from its PROVENANCE (AIC marks them CC0)."""
  folder.mkdir(parents=True)
  (folder / "images").symlink_to(paintings / "images")
  with open(paintings / "labels.csv", newline="") as f:
    rows = list(csv.DictReader(f))[:n]
  out = [{"file": r["file"], "style": r["style"], "artist": r["artist"],
          "title": r["title"], "url": r["aic_image_url"],
          "source_id": r["aic_artwork_id"], "license": "CC0 1.0",
          "license_url": "https://creativecommons.org/publicdomain/zero/1.0/",
          "credit": f"{r['artist_full']}, {r['title']}, {r['date']}. The Art Institute "
                    "of Chicago"} for r in rows]
  with open(folder / "manifest.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(out[0]))
    w.writeheader()
    w.writerows(out)
  return out


@pytest.fixture(scope="module")
def real(tmp_path_factory, shared_dir, magenta_tflite_dir):
  """8 COCO train2017 photos x (original + 2 AIC styles), Magenta TF Lite, 2 held-out
  styles, 3 splits: the output folder, the annotation file and the style manifest."""
  root = tmp_path_factory.mktemp("real")
  coco = shared_dir / "data" / "coco256"
  styles = _aic_manifest(root / "styles", shared_dir / "data" / "paintings_aic", 6)
  out = root / "stylized"
  stylize.run([f"--content={coco / 'images' / 'train2017'}",
               f"--coco_annotations={coco / 'instances_train2017_subset128.json'}",
               f"--max_contents={N_CONTENTS}", f"--styles={root / 'styles' / 'manifest.csv'}",
               f"--stylizer=tflite:{magenta_tflite_dir}", f"--styles_per_content={K}",
               "--include_original", "--image_size=64", "--split_fractions=0.5,0.25,0.25",
               "--holdout_style_fraction=0.34", "--num_shards=2", "--seed=0",
               f"--output={out}", IN_MEMORY])
  return {"out": out, "annotations": coco / "instances_train2017_subset128.json",
          "styles": {s["file"]: s for s in styles}, "coco": coco}


def _shards(out: pathlib.Path) -> list[pathlib.Path]:
  return sorted(out.glob("*.tfrecord-*"))  # the index's order: shard file, position


def _decoded(out: pathlib.Path) -> list[dict]:
  recs = []
  for shard in _shards(out):
    for raw in tf.data.TFRecordDataset(str(shard)).as_numpy_iterator():
      recs.append(schema.decode_example(raw))
  return recs


def _python(value):
  """A tf/numpy/mlcroissant value as plain python (bytes -> str, arrays -> lists)."""
  if isinstance(value, (bytes, np.bytes_)):
    return bytes(value).decode("utf-8")
  if isinstance(value, (list, tuple, np.ndarray)):
    return [_python(v) for v in value]
  if isinstance(value, np.floating):
    return float(value)
  return value.item() if isinstance(value, np.generic) else value


def _f32(rec: dict) -> dict:
  """style_strength is float32 in the records: compare it as float32."""
  return {k: np.float32(v) if k == "style_strength" else v for k, v in rec.items()}


def test_folder_holds_its_schema_index_and_croissant_and_validates(real):
  out = real["out"]
  for name in (schema.SCHEMA_FILENAME, schema.INDEX_FILENAME, schema.CROISSANT_FILENAME):
    assert (out / name).is_file(), name
  report = V.validate(str(out))
  assert report.ok, report.summary()
  assert sum(report.records_by_split.values()) == N_CONTENTS * (K + 1)
  # The job hashed each shard as it wrote it: the sums are the files'.
  meta = json.loads((out / schema.METADATA_FILENAME).read_text())
  sums = [s for _, info in sorted(meta["splits"].items()) for s in info["shard_sha256"]]
  assert sums == [hashlib.sha256(p.read_bytes()).hexdigest() for p in _shards(out)]


def test_mlcroissant_yields_one_record_per_tfrecord_record_equal_to_tf_parse(real):
  import mlcroissant as mlc
  out = real["out"]
  dataset = mlc.Dataset(jsonld=str(out / schema.CROISSANT_FILENAME))
  issues = dataset.metadata.ctx.issues
  assert not issues.errors and not issues.warnings, issues.report()
  rows = [{k.split("/", 1)[1]: _python(v) for k, v in r.items()}
          for r in dataset.records("records")]
  parsed = []
  for shard in _shards(out):
    for raw in tf.data.TFRecordDataset(str(shard)).map(schema.parse_example):
      parsed.append({k: _python(v.numpy()) for k, v in raw.items() if k != "image"})
  assert len(rows) == len(parsed) == N_CONTENTS * (K + 1)
  for row, rec in zip(rows, parsed):
    for name, value in rec.items():
      if name == "style_strength":
        assert np.float32(row[name]) == np.float32(value)
      else:
        assert row[name] == value, name
  # Each row says where its record is: seek there and it is that record.
  for row in rows[::5]:
    with open(out / row["shard"], "rb") as f:
      f.seek(row["offset"])
      _, data = next(record_index.read_records(f))
    rec = schema.decode_example(data)
    assert (rec["content_id"], rec["view_index"]) == (row["content_id"], row["view_index"])


def test_every_description_gives_each_field_the_type_the_records_have(real):
  """features.json (via TFDS), the tf parse, croissant.json and the index agree."""
  import tensorflow_datasets as tfds
  out = real["out"]
  feats = json.loads((out / schema.FEATURES_FILENAME).read_text())["content"]["features"]
  builder = tfds.builder_from_directory(str(out))
  tfds_rec = next(iter(builder.as_dataset(split="train")))
  tf_rec = schema.parse_example(next(iter(tf.data.TFRecordDataset(
      str(_shards(out)[0])))))
  croissant = {f["name"]: f for f in json.loads(
      (out / schema.CROISSANT_FILENAME).read_text())["recordSet"][0]["field"]}
  import pyarrow as pa
  import pyarrow.parquet as pq
  arrow = pq.read_schema(out / schema.INDEX_FILENAME)
  arrow_types = {"string": pa.string(), "int64": pa.int64(), "float32": pa.float32(),
                 "list<int64>": pa.list_(pa.int64()), "list<string>": pa.list_(pa.string()),
                 "list<float32>": pa.list_(pa.float32())}
  for f in schema.FIELDS:
    feature = feats[f.name]["sequence"]["feature"] if f.type.is_list else feats[f.name]
    declared = ("string" if feature["pythonClassName"].endswith(".Text") else
                feature.get("tensor", feature.get("image", {})).get("dtype"))
    if f.name == "image":
      assert tfds_rec["image"].dtype == tf.uint8 and declared == "uint8"
      assert feats["image"]["image"]["encodingFormat"] == "jpeg"
      assert tf_rec["image"].dtype == tf.string
      continue
    assert tfds_rec[f.name].dtype.name == declared == tf_rec[f.name].dtype.name, f.name
    assert croissant[f.name]["dataType"] == f.type.croissant
    assert bool(croissant[f.name].get("repeated")) == f.type.is_list
    assert arrow.field(f.name).type == arrow_types[f.type.arrow], f.name
  assert feats["is_original"]["tensor"]["dtype"] == "int64"  # once a bool here


def test_coco_licence_fields_match_the_annotation_file(real):
  ann = json.loads(real["annotations"].read_text())
  images = {im["id"]: im for im in ann["images"]}
  licences = {lic["id"]: lic for lic in ann["licenses"]}
  records = _decoded(real["out"])
  root = str(real["coco"] / "images" / "train2017")
  by_licence = collections.Counter()
  for rec in records:
    im = images[rec["content_id"]]
    lic = licences[im["license"]]
    assert rec["content_license_id"] == im["license"]
    assert (rec["content_license"], rec["content_license_url"]) == (lic["name"],
                                                                    lic["url"])
    assert rec["content_source_url"] == im["coco_url"]
    assert rec["content_origin_url"] == im["flickr_url"]
    assert rec["content_path"] == im["file_name"]
    assert rec["content_uri"] == f"{root}/{im['file_name']}"  # absolute, not cwd-relative
    if rec["view_index"] == 0:
      by_licence[lic["name"]] += 1
    else:
      style = real["styles"][rec["style_path"]]
      assert (rec["style_credit"], rec["style_license"], rec["style_license_url"],
              rec["style_source_url"]) == (style["credit"], style["license"],
                                           style["license_url"], style["url"])
  meta = json.loads((real["out"] / schema.METADATA_FILENAME).read_text())
  assert meta["sources"]["content"]["root"] == root
  # Styles: where to fetch each painting, its id at the museum, paths under the root.
  for s in meta["vocabularies"]["styles"]:
    style = real["styles"][s["path"]]
    assert (s["source_url"], s["source_id"]) == (style["url"], style["source_id"])
  styles_root = meta["sources"]["styles"]["root"]
  for rec in records:
    if not rec["is_original"]:
      assert rec["style_uri"] == f"{styles_root}/{rec['style_path']}"
      assert not rec["style_path"].startswith("/")
  assert {x["name"]: x["contents"] for x in meta["sources"]["content"]["licenses"]} == (
      dict(by_licence))
  # The summaries follow the actual licences: dataset_info.json, the card.
  info = json.loads((real["out"] / schema.DATASET_INFO_FILENAME).read_text())
  card = (real["out"] / "DATASET_CARD.md").read_text()
  for name in by_licence:
    assert name in info["redistributionInfo"]["license"] and name in card
  assert "lin2014coco" in info["citation"] and "ghiasi2017" in info["citation"]
  if any("NoDerivs" in n or "NonCommercial" in n for n in by_licence):
    assert "do not publish stylized copies" in card


def test_the_stylizer_is_named_by_its_public_identity(real, magenta_tflite_dir):
  """The metadata and SCHEMA.md name the published network and each model file's
  sha256; nothing but the `spec` (the producer's command) names the local folder."""
  out = real["out"]
  st = json.loads((out / schema.METADATA_FILENAME).read_text())["stylizer"]
  assert st["network"].startswith("Magenta arbitrary-image-stylization-v1-256")
  sums = {e["file"]: e["sha256"] for e in st["files"]}
  assert sums == {name: hashlib.sha256((magenta_tflite_dir / name).read_bytes())
                  .hexdigest() for name in ("prediction_int8.tflite",
                                            "transfer_fp16.tflite")}
  folder = str(magenta_tflite_dir)
  assert folder in st["spec"] and folder not in json.dumps(
      {k: v for k, v in st.items() if k != "spec"})
  text = (out / schema.SCHEMA_FILENAME).read_text()
  section = text[text.index("## Stylizer"):]
  assert st["network"] in section and all(s in section for s in sums.values())
  assert "TOCO Converted." in section and folder not in section
  assert {r["stylizer_version"] for r in _decoded(out) if not r["is_original"]} == {
      st["version"]}


def test_held_out_styles_are_listed_with_names_and_follow_the_stated_rule(real):
  out = real["out"]
  meta = json.loads((out / schema.METADATA_FILENAME).read_text())
  held = meta["held_out_styles"]
  assert len(held) == 2 and all(h["title"] and h["artist"] for h in held)
  card = (out / "DATASET_CARD.md").read_text()
  assert all(str(h["style_id"]) in card and h["title"] in card for h in held)
  rules = run_block(code_block((out / schema.SCHEMA_FILENAME).read_text(), RULES), out)
  vocabulary = [s["style_id"] for s in meta["vocabularies"]["styles"]]
  assert rules["held_out_styles"](vocabulary) == {h["style_id"] for h in held}
  for rec in _decoded(out):
    assert rec["split"] == rules["split_of"](rec["content_id"])
    if not rec["is_original"]:
      assert rec["style_id"] == rules["stable_id"](rec["style_path"])
      assert (rec["style_id"] in rules["held_out_styles"](vocabulary)) == (
          rec["split"] != "train")


def test_a_reader_with_only_the_literal_spec_from_schema_md_reads_the_dataset(real):
  out = real["out"]
  recipe = code_block((out / schema.SCHEMA_FILENAME).read_text(), RECIPE_TF)
  ns = run_block(recipe, out)  # a clean namespace: nothing of ours is imported
  assert "tfrecords_schema" not in recipe and "FEATURE_SPEC" in ns
  want = [r for r in _decoded(out) if r["split"] == "train"]
  got = list(ns["ds"].as_numpy_iterator())
  assert len(got) == len(want) > 0
  for g, w in zip(got, want):
    assert g.pop("image").shape == (w["height"], w["width"], 3)
    assert _f32({k: _python(v) for k, v in g.items()}) == _f32(
        {k: v for k, v in w.items() if k != "image"})
  groups = list(ns["groups"].as_numpy_iterator())
  assert len(groups) == len({r["content_id"] for r in want})
  for g in groups:
    assert len(set(g["content_id"])) == 1 and list(g["view_index"]) == list(range(K + 1))


def test_the_tf_data_recipe_and_pillow_see_the_same_pixels_in_every_record(real):
  """SCHEMA.md's decoding contract on real stylized JPEGs: recipe 1's decoder and
  Pillow agree on every pixel of every record of every split; TF's default method
  (tf.io.decode_image) does not, so the agreement is the contract's doing."""
  import io
  from PIL import Image
  out = real["out"]
  ns = run_block(code_block((out / schema.SCHEMA_FILENAME).read_text(), RECIPE_TF), out)
  records, differ = _decoded(out), 0
  assert len(records) == N_CONTENTS * (K + 1)
  for rec in records:
    pil = np.asarray(Image.open(io.BytesIO(rec["image"])).convert("RGB"))
    assert np.array_equal(ns["decode"](rec["image"], rec["image_format"]).numpy(), pil)
    fast = tf.io.decode_image(rec["image"], channels=3, expand_animations=False)
    differ += not np.array_equal(fast.numpy(), pil)
  assert differ > 0
  train = [r for r in records if r["split"] == "train"]
  for got, rec in zip(ns["ds"].as_numpy_iterator(), train, strict=True):
    assert np.array_equal(got["image"], np.asarray(Image.open(io.BytesIO(rec["image"]))))


def test_the_no_tensorflow_recipe_reads_every_record_without_tensorflow(real):
  out = real["out"]
  recipe = code_block((out / schema.SCHEMA_FILENAME).read_text(), RECIPE_NO_TF)
  program = recipe.replace('DATASET_DIR = "."', f"DATASET_DIR = {str(out)!r}") + """
import glob, hashlib, json, sys
import pyarrow.parquet as pq
rows = []
for path in sorted(glob.glob(DATASET_DIR + "/*.tfrecord-*")):
    for offset, data in read_records(path, check_crc=True):
        rec = parse_example(data)
        rec["image"] = hashlib.sha256(rec["image"]).hexdigest()
        rows.append(rec)
index = pq.read_table(DATASET_DIR + "/index.parquet").to_pylist()
again = [parse_example(read_record_at(DATASET_DIR + "/" + r["shard"], r["offset"]))
         for r in index]
assert [(r["content_id"], r["view_index"]) for r in again] == [
    (r["content_id"], r["view_index"]) for r in rows]
print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "rows": rows}))
"""
  proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                        cwd=ROOT, timeout=120)
  assert proc.returncode == 0, proc.stderr
  result = json.loads(proc.stdout)
  assert result["tensorflow"] is False
  want = _decoded(out)
  assert len(result["rows"]) == len(want)
  for got, rec in zip(result["rows"], want):
    assert _f32(got) == _f32(dict(rec, image=hashlib.sha256(rec["image"]).hexdigest()))


@pytest.fixture(scope="module")
def lossy(tmp_path_factory):
  """A job where every view in one style (solid magenta) fails to stylize."""
  from PIL import Image
  from pipeline.stylizers.classical import ClassicalStylizer
  root = tmp_path_factory.mktemp("lossy")
  write_photos(root / "content", 6, seed=5)
  write_styles(root / "styles", 3, seed=6)
  magenta = np.zeros((64, 64, 3), np.uint8)
  magenta[..., 0] = magenta[..., 2] = 255
  Image.fromarray(magenta).save(root / "styles" / "magenta.png")
  target = ClassicalStylizer().style_step(magenta)["mean"]
  original = ClassicalStylizer.content_step

  def allergic(self, contents, states, strengths):
    if any(np.allclose(s["mean"], target) for s in states):
      raise RuntimeError("magenta (injected)")
    return original(self, contents, states, strengths)

  mp = pytest.MonkeyPatch()
  mp.setattr(ClassicalStylizer, "content_step", allergic)
  try:
    out = root / "stylized"
    stylize.run([f"--content={root / 'content'}", f"--styles={root / 'styles'}",
                 "--styles_per_content=2", "--include_original", "--image_size=32",
                 "--stylizer=classical", "--split_fractions=1,0,0", "--num_shards=2",
                 f"--output={out}",
                 IN_MEMORY])
  finally:
    mp.undo()
  return out


def test_a_content_with_a_failed_view_keeps_its_other_views_as_schema_md_says(lossy):
  text = (lossy / schema.SCHEMA_FILENAME).read_text()
  policy = text[text.index("## Failed views"):text.index("## Ids")]
  assert "keeps its other views" in policy and "gap in `view_index`" in policy
  dead = [json.loads(line) for line in
          (lossy / schema.DEAD_LETTER_FILENAME).read_text().splitlines()]
  assert dead and all(d["stage"] == "stylize" and "magenta" in d["style_uri"]
                      for d in dead)
  records = _decoded(lossy)
  views = collections.defaultdict(list)
  for r in records:
    views[r["content_id"]].append(r["view_index"])
  assert len(views) == 6  # no content dropped
  lost = {d["content_id"]: d["view_index"] for d in dead}
  for cid, got in views.items():
    planned = list(range(K + 1))
    assert got == [v for v in planned if v != lost.get(cid)], cid  # a gap, no renumbering
  assert len(records) == 6 * (K + 1) - len(dead)
  assert V.validate(str(lossy)).ok  # the index, Croissant and metadata still agree
  # The recipe's grouping hands the shorter groups over whole and in place (in record
  # order), including one short of its view in the middle of a shard.
  ns = run_block(code_block(text, RECIPE_TF), lossy)
  groups = [(int(g["content_id"][0]), g["view_index"].tolist())
            for g in ns["groups"].as_numpy_iterator()]
  assert groups == list(views.items())
  shard_of = {r["content_id"]: r["shard"] for r in pq.read_table(
      lossy / schema.INDEX_FILENAME).to_pylist()}
  assert any(len(v) < K + 1 and shard_of[cid] == shard_of[groups[i + 1][0]]
             for i, (cid, v) in enumerate(groups[:-1]))
  # Synthetic inputs: the card says their licence is unknown, and nothing about COCO.
  card = (lossy / "DATASET_CARD.md").read_text()
  assert "COCO" not in card and "gives no licence for 6 content photos" in card
