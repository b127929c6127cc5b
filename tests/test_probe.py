"""Linear probing from TFRecords and from labelled image folders, baselines included."""

import json

import numpy as np
import pytest

from beam_jobs import stylize
from pipeline import sample_images
from trainer import task


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A labelled stylized dataset (the job, on the generated sample) and a short run."""
  root = tmp_path_factory.mktemp("probe")
  sample = sample_images.write_sample(root / "inputs", contents_per_class=6,
                                      styles_per_family=1, seed=2)
  data = root / "stylized"
  stylize.run([f"--content={sample['content_dir']}", f"--styles={sample['styles_dir']}",
               "--content_labels_from_dirs", "--styles_per_content=2", "--stylizer=classical",
               "--include_original", "--image_size=48", "--split_fractions=0.5,0,0.5",
               f"--output={data}", "--direct_running_mode=in_memory"])
  job = root / "job"
  args = [f"--data={data}", f"--job-dir={job}", "--image_size=48", "--batch_size=8",
          "--width=8", "--embedding_dim=16", "--projection_dim=16", "--max_steps=3",
          "--probe_steps=50"]
  task.main(args + ["--mode=pretrain"])
  return {"data": data, "job": job, "args": args, "sample": sample}


def _rows(probe):
  return {r["name"]: r for r in probe["rows"]}


def test_probe_from_tfrecords_has_baselines_retrieval_and_a_report(trained):
  results = task.main(trained["args"] + ["--mode=probe"])["probe"]
  probe = results["probe"]
  rows = _rows(probe)
  assert set(rows) == {"majority class", "pretrained encoder", "random-init encoder"}
  assert probe["class_names"] == sorted(sample_images.CONTENT_CLASSES)
  assert probe["n_test"] > 0 and probe["n_train"] > 0
  for r in rows.values():
    assert 0.0 <= r["linear"]["balanced_accuracy"] <= 1.0
    assert np.array(r["linear"]["confusion"]).sum() == probe["n_test"]
  assert rows["majority class"]["linear"]["balanced_accuracy"] == pytest.approx(
      1 / len(probe["class_names"]), abs=0.2)
  kinds = {(r["encoder"], r["representation"]) for r in probe["retrieval"]}
  assert ("pretrained encoder", "embedding") in kinds and ("chance", "-") in kinds
  assert "content-disjoint" in probe["note"] or "held out" in probe["note"]
  # Style robustness columns: this dataset holds no style out, so every stylized test
  # view counts, and the table says so.
  rob = probe["robustness"]
  assert rob["stylized_styles"].startswith("styles also used in training")
  assert rob["n_original"] + rob["n_stylized"] == probe["n_test"]
  for r in rows.values():
    lin = r["robustness"]["linear"]
    assert (lin["original"]["n"], lin["stylized"]["n"]) == (rob["n_original"],
                                                            rob["n_stylized"])
  saved = json.loads((trained["job"] / "probe.json").read_text())
  assert _rows(saved["probe"]).keys() == rows.keys()
  html = (trained["job"] / "report.html").read_text()
  assert "majority class" in html and html.count("data:image/png;base64,") >= 3
  assert "bal. acc. stylized" in html and "stylized / originals" in html


MODEL_FLAGS = ("--image_size", "--width", "--embedding_dim", "--projection_dim")


def _without_model_flags(args):
  return [a for a in args if not a.startswith(MODEL_FLAGS)]


def test_probe_without_model_flags_rebuilds_the_pretrained_encoder(trained):
  """The defaults (96 px, width 32, 128-d) differ from the run's: the saved
  configuration is used, and the probe equals the one given every flag."""
  bare = task.main(_without_model_flags(trained["args"]) +
                   ["--mode=probe", "--no-report"])["probe"]["probe"]
  assert {k: bare["model_config"][k] for k in ("image_size", "width", "embedding_dim")} \
      == {"image_size": 48, "width": 8, "embedding_dim": 16}
  full = task.main(trained["args"] + ["--mode=probe", "--no-report"])["probe"]["probe"]
  for name in ("pretrained encoder", "random-init encoder"):
    assert _rows(bare)[name]["metrics"] == _rows(full)[name]["metrics"]


@pytest.mark.parametrize("flag, message", [
    ("--style_head", "--style_head=True disagrees with the pretrained encoder "
                     "(style_head=False)"),
    ("--width=16", "--width=16 disagrees with the pretrained encoder (width=8)"),
])
def test_probe_with_a_disagreeing_model_flag_fails_naming_it(trained, flag, message):
  with pytest.raises(SystemExit) as e:
    task.main(trained["args"] + ["--mode=probe", "--no-report", flag])
  assert message in str(e.value) and "model_config.json" in str(e.value)


def test_a_checkpoint_that_does_not_fit_its_saved_configuration_is_refused(
    trained, tmp_path):
  import shutil
  job = tmp_path / "job"
  shutil.copytree(trained["job"] / "checkpoints", job / "checkpoints")
  path = job / "checkpoints" / "model_config.json"
  path.write_text(path.read_text().replace('"style_head": false', '"style_head": true'))
  args = [a for a in _without_model_flags(trained["args"]) if not a.startswith("--job")]
  with pytest.raises(SystemExit, match="lacks weights of the rebuilt encoder"):
    task.main(args + [f"--job-dir={job}", "--mode=probe", "--no-report"])


def test_probe_on_style_labels(trained):
  results = task.main(trained["args"] + ["--mode=probe", "--probe_label=style",
                                         "--no-report"])["probe"]["probe"]
  meta = json.loads((trained["data"] / "stylized_metadata.json").read_text())
  styles = {str(s["style_id"]) for s in meta["vocabularies"]["styles"]}
  assert set(results["class_names"]) <= styles and len(results["class_names"]) >= 2
  # Originals have no style: they are not probe samples for a style label.
  assert results["n_test"] == meta["splits"]["test"]["records"] - \
      meta["splits"]["test"]["contents"] - results["test_labels_unseen_in_train"]


@pytest.mark.parametrize("layout", ["folders", "csv"])
def test_probe_from_a_labelled_image_folder(trained, tmp_path, layout):
  source = trained["sample"]["content_dir"]
  if layout == "csv":
    import pathlib
    rows = [f"{p.relative_to(source)},{p.parent.name}"
            for p in sorted(pathlib.Path(source).rglob("*.jpg"))]
    (tmp_path / "corrupt.jpg").write_bytes(b"not an image")
    rows.append(f"{tmp_path / 'corrupt.jpg'},circle")
    csv_path = pathlib.Path(source) / "labels.csv"
    csv_path.write_text("path,label\n" + "\n".join(rows) + "\n")
    source = str(csv_path)
  job = tmp_path / "job"
  import shutil
  shutil.copytree(trained["job"] / "checkpoints", job / "checkpoints")
  args = [a for a in trained["args"] if not a.startswith("--job-dir")]
  probe = task.main(args + [f"--job-dir={job}", "--mode=probe", f"--probe_data={source}",
                            "--no-report"])["probe"]["probe"]
  assert probe["label_field"] == "folder label"
  assert probe["n_train"] + probe["n_test"] == 36  # 6 classes x 6 images, no image twice
  assert probe["retrieval"] == []
  if layout == "csv":
    assert len(probe["skipped_images"]) == 1 and "corrupt.jpg" in probe["skipped_images"][0]


def test_comparison_runner_tables_settings_over_three_seeds(trained, tmp_path, capsys):
  from trainer import compare
  args = [a for a in trained["args"] if not a.startswith("--job-dir")]
  result = compare.main([f"--job-dir={tmp_path / 'cmp'}", "--seeds=0,1,2",
                         "--settings=majority/chance,random-init,style-contrastive"]
                        + args)
  rows = {r["setting"]: r for r in result["rows"]}
  assert list(rows) == ["majority/chance", "random-init", "style-contrastive"]
  chance = rows.pop("majority/chance")
  assert chance["balanced_accuracy"]["values"] == [pytest.approx(1 / 6)] * 3
  assert all(d["setting"] != "majority/chance" for d in result["differences"])
  for r in rows.values():
    values = r["balanced_accuracy"]["values"]
    assert len(values) == 3 and all(0 <= v <= 1 for v in values)
    assert r["balanced_accuracy"]["mean"] == pytest.approx(np.mean(values))
  # Different seeds really are different runs.
  assert len(set(rows["style-contrastive"]["knn_accuracy"]["values"])) > 1 or len(
      set(rows["style-contrastive"]["content_map"]["values"])) > 1
  out = capsys.readouterr().out
  assert "style-contrastive" in out and "±" in out
  diffs = [d for d in result["differences"] if d["metric"] == "balanced_accuracy"]
  assert [(d["setting"], d["baseline"]) for d in diffs] == [
      ("style-contrastive", "random-init")]
  d = diffs[0]
  np.testing.assert_allclose(d["per_seed"], np.subtract(
      rows["style-contrastive"]["balanced_accuracy"]["values"],
      rows["random-init"]["balanced_accuracy"]["values"]))
  assert ("larger than the spread" in d["words"]) == (abs(d["mean"]) > d["spread"])
  assert "style-contrastive - random-init: " in out and d["words"] in out
  assert (tmp_path / "cmp" / "comparison.html").exists()


def test_per_seed_differences_in_words():
  from trainer import compare
  clear = compare.difference([0.50, 0.52, 0.55], [0.30, 0.31, 0.29])
  np.testing.assert_allclose(clear["per_seed"], [0.20, 0.21, 0.26])
  assert clear["larger_than_spread"] and clear["seeds_higher"] == 3
  assert clear["words"].startswith("larger than the spread (|+0.223| > 0.025)")
  assert clear["words"].endswith("a difference these seeds support")
  noise = compare.difference([0.30, 0.35, 0.28], [0.31, 0.29, 0.33])
  assert not noise["larger_than_spread"] and noise["seeds_higher"] == 1
  assert noise["words"].startswith("within the spread")
  assert noise["words"].endswith("not distinguishable from seed-to-seed variation")


def test_online_monitor_on_labelled_data_reaches_the_report(trained, tmp_path):
  args = [a for a in trained["args"] if not a.startswith("--job-dir")]
  job = tmp_path / "job"
  out = task.main(args + [f"--job-dir={job}", "--mode=all", "--monitor_split=test",
                          "--monitor_every=3", "--monitor_samples=24"])
  mon = out["pretrain"]["monitor"]
  assert [p["step"] for p in mon["curve"]] == [0, 3]
  for p in mon["curve"]:
    assert 0 <= p["knn/accuracy"] <= 1 and 0 <= p["knn/balanced_accuracy"] <= 1
  assert 0 < mon["baselines"]["majority/accuracy"] < 1
  html = (job / "report.html").read_text()
  assert "pretraining loss and online monitor curves" in html
  assert f"{mon['curve'][-1]['knn/accuracy']:.3f}" in html
