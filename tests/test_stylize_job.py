"""The dataset job end to end through Beam: counts, parsing, splits, determinism,
TFDS, the hub path, bad input and fail-fast refusals."""

import collections
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import tfrecords_schema as schema
from beam_jobs import stylize
from tests.conftest import ROOT, write_photos, write_styles

IN_MEMORY = ["--direct_running_mode=in_memory"]  # fast for small tests


def read_dataset(out: pathlib.Path) -> list[dict]:
  records = []
  for shard in sorted(out.glob("*.tfrecord-*")):
    for raw in tf.data.TFRecordDataset(str(shard)):
      rec = schema.decode_example(raw.numpy())
      rec["_shard"] = shard.name
      records.append(rec)
  return records


def shard_bytes(out: pathlib.Path) -> dict:
  return {p.name: p.read_bytes() for p in sorted(out.glob("*.tfrecord-*"))}


def pixels(rec) -> np.ndarray:
  return tf.io.decode_image(rec["image"]).numpy().astype(np.float32) / 255.0


def check_dataset(out: pathlib.Path, n_contents: int, k: int, original: bool):
  """The invariants every dataset the job writes must hold."""
  records = read_dataset(out)
  assert len(records) == n_contents * (k + original)
  by_content = collections.defaultdict(list)
  for r in records:
    by_content[r["content_id"]].append(r)
  assert len(by_content) == n_contents
  splits = collections.defaultdict(set)
  for cid, recs in by_content.items():
    assert len({r["split"] for r in recs}) == 1, "a content straddles splits"
    assert len({r["_shard"] for r in recs}) == 1, "a content straddles shards"
    splits[recs[0]["split"]].add(cid)
    styled = [r for r in recs if not r["is_original"]]
    assert len({r["style_id"] for r in styled}) == k, "K distinct styles per content"
    assert sum(r["is_original"] for r in recs) == int(original)
    assert [r["view_index"] for r in recs] == sorted(r["view_index"] for r in recs)
  names = list(splits)
  for i, a in enumerate(names):
    for b in names[i + 1:]:
      assert not splits[a] & splits[b], f"contents shared by {a} and {b}"
  # The TF parser reads every record too, and TFDS reads the folder with no code of ours.
  files = [str(p) for p in sorted(out.glob("*.tfrecord-*"))]
  n = sum(1 for _ in tf.data.TFRecordDataset(files).map(schema.parse_example))
  assert n == len(records)
  import tensorflow_datasets as tfds
  builder = tfds.builder_from_directory(str(out))
  assert sum(s.num_examples for s in builder.info.splits.values()) == len(records)
  for split, info in builder.info.splits.items():
    got = list(tfds.as_numpy(builder.as_dataset(split=split)))
    assert len(got) == info.num_examples == len(
        [r for r in records if r["split"] == split])
    assert got[0]["image"].ndim == 3 and got[0]["image"].shape[-1] == 3
  meta = json.loads((out / schema.METADATA_FILENAME).read_text())
  assert meta["schema_version"] == schema.SCHEMA_VERSION
  check_card(out, meta, k + original)
  return records, by_content, meta


def check_card(out: pathlib.Path, meta: dict, views: int):
  """The dataset card names the run; the contact sheet is a PNG of real views."""
  from PIL import Image
  card = (out / "DATASET_CARD.md").read_text()
  assert meta["command"] in card and meta["stylizer"]["version"] in card
  for split, v in meta["splits"].items():
    assert f"| {split} | {v['contents']} | {v['records']} |" in card
  sheet = Image.open(out / "contact_sheet.png")
  assert sheet.format == "PNG"
  pixels = np.asarray(sheet.convert("RGB"), np.float32)
  cell = 128
  assert sheet.width >= views * cell
  first, second = pixels[4:4 + cell, 4:4 + cell], pixels[4:4 + cell, 8 + cell:8 + 2 * cell]
  assert first.std() > 5 and np.abs(first - second).mean() > 5  # two different views


@pytest.mark.slow
def test_real_photos_real_model_end_to_end_and_deterministic(
    tmp_path, magenta_tflite_dir, coco_images_dir, paintings_dir):
  content, styles = tmp_path / "content", tmp_path / "styles"
  content.mkdir(), styles.mkdir()
  for p in sorted((coco_images_dir / "train2017").glob("*.jpg"))[:8]:
    (content / p.name).symlink_to(p)
  for p in sorted(paintings_dir.glob("*.jpg"))[:3]:
    (styles / p.name).symlink_to(p)
  argv = [f"--content={content}", f"--styles={styles}",
          f"--stylizer=tflite:{magenta_tflite_dir}", "--styles_per_content=2",
          "--include_original", "--split_fractions=0.5,0.25,0.25", "--seed=3",
          "--image_size=128", "--records_per_shard=6"]
  # The default local runner: multi-processing on all cores.
  result = stylize.run(argv + [f"--output={tmp_path / 'a'}"])
  records, by_content, meta = check_dataset(tmp_path / "a", 8, 2, original=True)
  counters = result["counters"]
  assert counters["style_step_calls"] == 3  # once per distinct style, not per content
  # One model per worker process, shared by the style step and the content step.
  assert 1 <= counters["model_loads"] <= (os.cpu_count() or 1)
  assert counters["contents_read"] == 8 and meta["dead_letters"] == 0
  assert len(list((tmp_path / "a").glob("stylized-train.tfrecord-*"))) > 1
  for recs in by_content.values():  # stylized views really differ from the original
    orig = pixels(recs[0])
    for r in recs[1:]:
      assert r["stylizer"] == "tflite" and "magenta" in r["stylizer_version"]
      assert np.abs(pixels(r) - orig).mean() > 0.05
  # A rerun with the same seed, even on the other local runner mode, writes the same
  # bytes; another seed makes another plan.
  stylize.run(argv + [f"--output={tmp_path / 'b'}"] + IN_MEMORY)
  assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")
  stylize.run([a.replace("--seed=3", "--seed=4") for a in argv]
              + [f"--output={tmp_path / 'c'}"] + IN_MEMORY)
  other = {(r["content_id"], r["style_id"]) for r in read_dataset(tmp_path / "c")}
  assert other != {(r["content_id"], r["style_id"]) for r in records}


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
  root = tmp_path_factory.mktemp("inputs")
  write_photos(root / "content", 6)
  write_styles(root / "styles", 3)
  return root


def test_hub_savedmodel_runs_in_the_job(tmp_path, small_inputs):
  import tensorflow_hub as hub
  from pipeline.stylizers.classical import ClassicalStylizer
  from pipeline.stylizers.export import export_hub_savedmodel
  model_dir = tmp_path / "hub_model"
  export_hub_savedmodel(ClassicalStylizer(), str(model_dir))
  model = hub.load(str(model_dir))  # the published model's call shape
  out_img = model(tf.zeros([1, 32, 32, 3]), tf.ones([1, 256, 256, 3]))[0]
  assert out_img.shape == (1, 32, 32, 3)
  common = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
            "--styles_per_content=2", "--image_size=64", "--image_format=png"] + IN_MEMORY
  stylize.run(common + [f"--stylizer=hub:{model_dir}", f"--output={tmp_path / 'hub'}"])
  hub_recs, _, meta = check_dataset(tmp_path / "hub", 6, 2, original=False)
  assert {r["stylizer"] for r in hub_recs} == {"hub"}
  assert meta["stylizer"]["spec"] == f"hub:{model_dir}"
  # Nearly the classical stylizer's own pixels (the SavedModel wraps it; the hub path
  # first resizes the style to 256x256, as for the published model, which moves a few
  # pixels), and far from what another style gives.
  stylize.run(common + ["--stylizer=classical", f"--output={tmp_path / 'classical'}"])
  direct = {(r["content_id"], r["style_id"]): pixels(r)
            for r in read_dataset(tmp_path / "classical")}
  for r in hub_recs:
    same = np.abs(pixels(r) - direct[(r["content_id"], r["style_id"])]).mean()
    others = [np.abs(pixels(r) - img).mean() for (cid, sid), img in direct.items()
              if cid == r["content_id"] and sid != r["style_id"]]
    assert same < 2 / 255 and all(same < o / 5 for o in others), (same, others)


def write_bad_inputs(folder: pathlib.Path) -> dict:
  """Good photos plus the broken files users' folders really contain."""
  good = write_photos(folder, 3, seed=5)
  (folder / "empty.jpg").write_bytes(b"")
  data = good[0].read_bytes()
  (folder / "truncated.jpg").write_bytes(data[:len(data) // 2])
  (folder / "random.jpg").write_bytes(np.random.default_rng(0).bytes(2048))
  (folder / "readme.txt").write_text("not an image\n")
  return {"empty.jpg": "empty_file", "truncated.jpg": "truncated",
          "random.jpg": "unrecognized_format", "readme.txt": "unrecognized_format"}


@pytest.mark.slow
def test_real_magenta_port_through_hub_batches_views_of_different_styles(
    tmp_path, magenta_tf_dir, coco_images_dir, paintings_dir):
  """The TF port of the real network in the job: one style step per style, one
  content-step call per batch of views with different styles (not one per view)."""
  content, styles = tmp_path / "content", tmp_path / "styles"
  content.mkdir(), styles.mkdir()
  for p in sorted((coco_images_dir / "train2017").glob("*.jpg"))[:6]:
    (content / p.name).symlink_to(p)
  for p in sorted(paintings_dir.glob("*.jpg"))[:3]:
    (styles / p.name).symlink_to(p)
  argv = [f"--content={content}", f"--styles={styles}", f"--stylizer=hub:{magenta_tf_dir}",
          "--styles_per_content=2", "--batch_size=4", "--image_size=96",
          "--split_fractions=1,0,0"]
  summary = stylize.run(argv + [f"--output={tmp_path / 'a'}"])  # multi-processing
  records, by_content, meta = check_dataset(tmp_path / "a", 6, 2, original=False)
  c = summary["counters"]
  assert c["style_step_calls"] == 3 and c["views_stylized"] == 12
  assert c["content_step_calls"] == 3  # ceil(12 views / batch 4), one shard
  assert {r["stylizer"] for r in records} == {"hub"}
  assert all(len({r["style_id"] for r in recs}) == 2 for recs in by_content.values())
  stylize.run(argv + [f"--output={tmp_path / 'b'}"])  # the same command again
  assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")


def test_bad_content_files_are_dead_lettered_and_the_job_exits_0(tmp_path, small_inputs):
  expected = write_bad_inputs(tmp_path / "mixed")
  out = tmp_path / "out"
  proc = subprocess.run(
      [sys.executable, "-m", "beam_jobs.stylize", f"--content={tmp_path / 'mixed'}",
       f"--styles={small_inputs / 'styles'}", "--styles_per_content=2",
       "--stylizer=classical", "--image_size=64", f"--output={out}"] + IN_MEMORY,
      cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "4 inputs dead-lettered" in proc.stdout
  check_dataset(out, 3, 2, original=False)
  dead = [json.loads(l) for l in (out / schema.DEAD_LETTER_FILENAME).read_text()
          .splitlines()]
  assert {pathlib.Path(d["uri"]).name: d["reason"] for d in dead} == expected
  assert all(d["stage"] == "content" and d["message"] for d in dead)
  meta = json.loads((out / schema.METADATA_FILENAME).read_text())
  c = meta["counters"]
  assert c["contents_read"] + c["contents_failed"] == meta["inputs"]["contents_listed"] == 7


def test_bad_style_files_are_dead_lettered_and_never_planned(tmp_path, small_inputs):
  styles = tmp_path / "styles"
  write_styles(styles, 3)
  (styles / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
  out = tmp_path / "out"
  stylize.run([f"--content={small_inputs / 'content'}", f"--styles={styles}",
               "--styles_per_content=2", "--image_size=64", "--stylizer=classical",
               f"--output={out}"] + IN_MEMORY)
  records, _, meta = check_dataset(out, 6, 2, original=False)
  dead = [json.loads(l) for l in (out / schema.DEAD_LETTER_FILENAME).read_text()
          .splitlines()]
  assert [(pathlib.Path(d["uri"]).name, d["stage"]) for d in dead] == [("broken.png",
                                                                          "style")]
  assert "broken.png" not in {pathlib.Path(r["style_uri"]).name for r in records}
  assert meta["counters"]["style_step_calls"] == 3


@pytest.mark.parametrize("case, message", [
    ("empty_content", "no input files"),
    ("missing_styles", "no input files"),
    ("bad_model_path", "does not exist"),
    ("corrupt_model", "tflite"),
    ("bad_k", "--styles_per_content must be >= 1"),
    ("output_exists", "already holds files"),
])
def test_unusable_input_fails_fast_with_one_message_and_no_output(
    tmp_path, small_inputs, case, message):
  content, styles = small_inputs / "content", small_inputs / "styles"
  extra = []
  if case == "empty_content":
    content = tmp_path / "empty"
    content.mkdir()
  elif case == "missing_styles":
    styles = tmp_path / "nope"
  elif case == "bad_model_path":
    extra = [f"--stylizer=tflite:{tmp_path / 'no_model'}"]
  elif case == "corrupt_model":
    bad = tmp_path / "bad_model"
    bad.mkdir()
    for name in ("prediction_int8.tflite", "transfer_fp16.tflite"):
      (bad / name).write_bytes(b"not a flatbuffer" * 10)
    extra = [f"--stylizer=tflite:{bad}"]
  elif case == "bad_k":
    extra = ["--styles_per_content=0"]
  out = tmp_path / "out"
  if case == "output_exists":
    out.mkdir()
    (out / "keep.txt").write_text("an earlier run")
  with pytest.raises(SystemExit) as e:
    stylize.run([f"--content={content}", f"--styles={styles}", f"--output={out}",
                 "--stylizer=classical"] + extra + IN_MEMORY)
  assert message in str(e.value)
  assert str(e.value).startswith("error: ")
  leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("out")]
  assert leftovers == (["out"] if case == "output_exists" else [])
  if case == "output_exists":
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_rerun_replaces_the_dataset_whole_and_a_failed_run_changes_nothing(
    tmp_path, small_inputs, monkeypatch):
  """A failed run leaves the published dataset alone and keeps its finished shards in
  staging, where the same command picks them up."""
  out = tmp_path / "out"
  base = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
          "--styles_per_content=2", "--image_size=32", "--split_fractions=1,0,0",
          "--stylizer=classical", f"--output={out}"] + IN_MEMORY
  stylize.run(base + ["--num_shards=3"])
  assert len(list(out.glob("*.tfrecord-*"))) == 3
  stylize.run(base + ["--num_shards=2", "--overwrite", "--seed=9"])
  shards = sorted(p.name for p in out.glob("*.tfrecord-*"))
  assert shards == ["stylized-train.tfrecord-00000-of-00002",
                    "stylized-train.tfrecord-00001-of-00002"]  # no shard of run 1 left
  check_dataset(out, 6, 2, original=False)
  before = shard_bytes(out)

  def broken_tfds_files(*args, **kwargs):
    raise RuntimeError("disk full (injected)")
  from beam_jobs import describe
  real_tfds_files = describe.write_tfds_files
  monkeypatch.setattr(describe, "write_tfds_files", broken_tfds_files)
  with pytest.raises(RuntimeError, match="injected"):
    stylize.run(base + ["--num_shards=1", "--overwrite"])
  assert shard_bytes(out) == before  # the old dataset is untouched
  assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.incomplete"]
  monkeypatch.setattr(describe, "write_tfds_files", real_tfds_files)
  summary = stylize.run(base + ["--num_shards=1", "--overwrite"])
  assert summary["shards_resumed"] == 1 and summary["counters"].get("records_written", 0) == 0
  assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind
  assert list(shard_bytes(out)) == ["stylized-train.tfrecord-00000-of-00001"]


def test_tfds_coco_source_runs_in_the_job(tmp_path, small_inputs):
  from tests.tfds_fixture import write_tfds_coco_fixture
  rng = np.random.default_rng(0)
  images = [(image_id, f"{image_id:012d}.jpg",
             rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), objects)
            for image_id, objects in [(9, [(0, 500), (16, 100)]), (25, [(22, 900)]),
                                      (30, []), (34, [(21, 50), (21, 60)])]]
  data_dir = tmp_path / "tfds"
  write_tfds_coco_fixture(str(data_dir), images)
  out = tmp_path / "out"
  stylize.run([f"--content=tfds:coco/2017:train", f"--tfds_data_dir={data_dir}",
               f"--styles={small_inputs / 'styles'}", "--styles_per_content=2",
               "--stylizer=classical", "--image_size=32", f"--output={out}"] + IN_MEMORY)
  records, by_content, meta = check_dataset(out, 4, 2, original=False)
  assert set(by_content) == {9, 25, 30, 34}  # COCO image ids are the content ids
  first = {cid: recs[0] for cid, recs in by_content.items()}
  assert first[9]["photo_label_names"] == ["person", "dog"]
  assert first[9]["photo_primary_label"] == "person"
  assert first[30]["photo_label_ids"] == [] and first[30]["photo_primary_label_id"] == -1
  assert first[34]["photo_primary_label"] == "bear"
  assert len(meta["vocabularies"]["content_labels"]) == 80
  # TFDS boxes are fractions [ymin, xmin, ymax, xmax] (the fixture: 0.1..0.9) of the
  # 64x48 photo; center_crop keeps x in [8, 56] and scales by 32/48.
  r = first[9]
  assert r["annotations_status"] == 2 and r["object_annotation_ids"] == [900, 901]
  assert [r[k][0] for k in ("object_xmin", "object_ymin", "object_xmax",
                            "object_ymax")] == pytest.approx([0, 3.2, 32, 28.8], abs=1e-4)
  assert r["object_visible_fraction"][0] == pytest.approx(32 / (51.2 * 32 / 48))
  assert r["view_label_ids"] == r["photo_label_ids"]
  assert first[30]["annotations_status"] == 2 and first[30]["object_category_ids"] == []


def test_default_stylizer_offline_fails_at_once_naming_the_alternatives(tmp_path):
  """The default is the published TF-Hub model; without network (here: a proxy that
  refuses, and an empty TF-Hub cache) the job says so in one message, before any work."""
  write_photos(tmp_path / "content", 2)
  write_styles(tmp_path / "styles", 2)
  env = dict(os.environ, https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
             TFHUB_CACHE_DIR=str(tmp_path / "empty_cache"))
  start = time.monotonic()
  proc = subprocess.run(
      [sys.executable, "-m", "beam_jobs.stylize", f"--content={tmp_path / 'content'}",
       f"--styles={tmp_path / 'styles'}", f"--output={tmp_path / 'out'}"],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  seconds = time.monotonic() - start
  assert proc.returncode != 0 and proc.stdout == ""
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: hub: cannot download "
                                                 "https://tfhub.dev/google/magenta/"), lines
  for alternative in ("--stylizer=hub:<SavedModel dir>", "--stylizer=tflite:",
                      "--stylizer=classical", "pipeline.stylizers.magenta_tf export"):
    assert alternative in lines[0]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "styles"]  # no output
  assert seconds < 15, seconds


def test_errors_before_planning_say_what_went_wrong(tmp_path, small_inputs, monkeypatch,
                                                    capfd):
  base = [f"--content={small_inputs / 'content'}", f"--styles={small_inputs / 'styles'}",
          "--stylizer=classical"] + IN_MEMORY
  a_file = small_inputs / "content" / "photo_000.jpg"
  with pytest.raises(SystemExit) as e:  # a mistyped --output below a file
    stylize.run(base + [f"--output={a_file}/out"])
  assert str(e.value).startswith("error: cannot write the staging folder")
  from beam_jobs import launch
  monkeypatch.setattr(launch, "list_styles",
                      lambda args: (_ for _ in ()).throw(OSError("bucket went away")))
  with pytest.raises(OSError):
    stylize.run(base + [f"--output={tmp_path / 'out'}"])
  err = capfd.readouterr().err
  assert "stylize: the job failed before any work (OSError: bucket went away)" in err
  assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging left


def test_a_remote_runner_needs_shared_paths_before_any_work(tmp_path, small_inputs):
  with pytest.raises(SystemExit) as e:
    stylize.run([f"--content={small_inputs / 'content'}", "--styles=gs://b/paintings",
                 "--stylizer=tflite:models/magenta", f"--output={tmp_path / 'out'}",
                 "--runner=DataflowRunner", "--project=p", "--region=r",
                 "--temp_location=gs://b/tmp"])
  assert str(e.value) == (
      "error: with a remote runner the workers cannot read this machine's files: "
      f"--output={str(tmp_path / 'out')!r}, --content={str(small_inputs / 'content')!r}, "
      "--stylizer='models/magenta' must be on shared storage (gs://...)")
  assert not list(tmp_path.iterdir())


def test_the_jobs_own_warnings_reach_the_console(tmp_path, small_inputs, capfd):
  stylize.run([f"--content={small_inputs / 'content'}",
               f"--styles={small_inputs / 'styles' / 'style_00.png'}",
               "--stylizer=classical", "--styles_per_content=2", "--image_size=32",
               f"--output={tmp_path / 'out'}"] + IN_MEMORY)
  err = capfd.readouterr().err
  assert ("stylize: WARNING: only 1 style images for --styles_per_content=2: each "
          "content gets 1 styles") in err
  assert "apache_beam" not in err and "INFO" not in err
