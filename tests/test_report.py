"""The HTML run report: self-contained, baselines always beside the headline, warnings.

The report is how a person judges a run, so these tests pin what must never be lost:
baseline rows and balanced accuracy are shown, every image is embedded and decodes,
nothing is fetched from the network, data text is escaped, and the WARNING box fires
exactly when the model fails to beat its baselines or overfits.
"""

from __future__ import annotations

import base64
import copy
import io
import re

import numpy as np
import pytest
from PIL import Image

from trainer import metrics, report

CLASSES = ["portrait", "landscape", "still <script>alert('x')</script> life",
           "abstract", "cityscape", "religious"]
SUPPORT = [120, 40, 25, 15, 10, 6]  # imbalanced: the majority class is 56% of the test set
PNG_URI = re.compile(r'data:image/png;base64,([A-Za-z0-9+/=]+)')


def _probe_row(name: str, kind: str, per_class_hit: list[float], seed: int,
               train_accuracy: float | None = None, knn: bool = True) -> dict:
  """A row whose metrics come from real (synthetic) predictions, so they are consistent."""
  rng = np.random.default_rng(seed)
  y_true = np.concatenate([np.full(n, c) for c, n in enumerate(SUPPORT)])
  y_pred = y_true.copy()
  for i, c in enumerate(y_true):
    if rng.random() > per_class_hit[c]:
      y_pred[i] = rng.choice([k for k in range(len(SUPPORT)) if k != c])
  row = {"name": name, "kind": kind,
         "linear": metrics.classification_report(y_true, y_pred, len(SUPPORT))}
  if knn:
    row["knn"] = {"k": 5, "accuracy": row["linear"]["accuracy"] - 0.03,
                  "balanced_accuracy": row["linear"]["balanced_accuracy"] - 0.04}
  if train_accuracy is not None:
    row["train_accuracy"] = train_accuracy
  return row


def _majority_row() -> dict:
  y_true = np.concatenate([np.full(n, c) for c, n in enumerate(SUPPORT)])
  return {"name": "majority class", "kind": "baseline",
          "linear": metrics.majority_baseline([0, 0, 1], y_true, len(SUPPORT))}


def _image(seed: int, h: int = 64, w: int = 64) -> np.ndarray:
  rng = np.random.default_rng(seed)
  base = rng.integers(0, 256, 3)
  grad = np.linspace(0, 1, w)[None, :, None]
  return np.clip(base * (0.4 + 0.6 * grad) + rng.normal(0, 12, (h, w, 3)), 0,
                 255).astype(np.uint8)


def _monitor() -> dict:
  steps = np.arange(0, 1001, 100)
  return {"split": "val", "every": 100, "images": 256, "seconds": 4.2,
          "curve": [{"step": int(s), "knn/accuracy": 0.2 + 0.4 * (1 - np.exp(-s / 300)),
                     "knn/balanced_accuracy": 0.18 + 0.4 * (1 - np.exp(-s / 300)),
                     "retrieval/content_map": 0.05 + 0.5 * (1 - np.exp(-s / 400)),
                     "retrieval/style_map": 0.3} for s in steps],
          "baselines": {"majority/accuracy": 0.213, "majority/balanced_accuracy": 0.167,
                        "chance/content_map": 0.031, "chance/style_map": 0.262}}


def make_results(**kw) -> report.Results:
  """A realistic good run: the pretrained encoder clearly beats both baselines."""
  steps = np.arange(50) * 20
  content = 4.2 * np.exp(-steps / 300) + 1.1 + 0.05 * np.sin(steps / 17)
  style = 2.5 * np.exp(-steps / 500) + 0.8
  curve = [{"step": int(s), "loss": float(c + 0.5 * st), "content_loss": float(c),
            "style_loss": float(st)} for s, c, st in zip(steps, content, style)]
  return report.Results(
      run=report.Run(
          title="small_cnn ntxent <seed 0>", created="2024-05-01 12:00 UTC",
          job_dir="gs://bucket/runs/r1", data="gs://bucket/stylized/v3",
          command="python -m trainer.task --mode=all --data=gs://bucket/stylized/v3",
          config={"mode": "all", "backbone": "small_cnn", "loss": "ntxent",
                  "temperature": 0.1, "batch_size": 64, "learning_rate": 1e-3,
                  "seed": 0, "tpu": ""}),
      # As the dataset job writes it (stylized_metadata.json), less what is not shown.
      dataset={"dataset_name": "coco x wikiart v3",
               "stylizer": {"version": "tflite:magenta_v1_256"},
               "plan": {"styles_per_content": 4, "include_original": True},
               "splits": {"train": {"contents": 800, "records": 4000},
                          "test": {"contents": 100, "records": 500}}},
      pretrain={"steps": 1000, "loss_curve": curve, "strategy": "default",
                "train_seconds": 612.4, "pairs_per_second": 104.5,
                "monitor": _monitor()},
      probe={
          "label_field": "style_label", "class_names": list(CLASSES),
          "train_split": "train", "test_split": "test", "n_train": 4000,
          "n_test": sum(SUPPORT), "note": "test split uses styles held out from pretraining",
          "rows": [_majority_row(),
                   _probe_row("random-init encoder", "baseline",
                              [0.7, 0.35, 0.3, 0.2, 0.2, 0.1], seed=1, train_accuracy=0.6),
                   _probe_row("pretrained encoder", "model",
                              [0.85, 0.7, 0.6, 0.55, 0.5, 0.4], seed=2, train_accuracy=0.9)],
          "retrieval": [
              {"encoder": "pretrained encoder", "representation": "embedding",
               "style": {"map": 0.21, "recall_at_1": 0.34, "queries": 216},
               "content": {"map": 0.71, "recall_at_1": 0.88, "queries": 216}},
              {"encoder": "random-init encoder", "representation": "embedding",
               "style": {"map": 0.15, "recall_at_1": 0.22, "queries": 216},
               "content": {"map": 0.19, "recall_at_1": 0.27, "queries": 216}},
              {"encoder": "chance", "representation": "—",
               "style": {"map": 0.112, "recall_at_1": 0.09},
               "content": {"map": 0.047, "recall_at_1": 0.008}}]},
      comparison={"metric": "balanced_accuracy", "seeds": [0, 1, 2],
                  "rows": [{"setting": "ntxent", "mean": 0.61, "std": 0.02,
                            "values": [0.59, 0.61, 0.63]},
                           {"setting": "random-init", "mean": 0.30, "std": 0.01,
                            "values": [0.29, 0.30, 0.31]}],
                  "differences": [{"setting": "ntxent", "baseline": "random-init",
                                   "per_seed": [0.30, 0.31, 0.32], "mean": 0.31,
                                   "words": "larger than the spread (|+0.310| > "
                                            "0.020); higher on 3 of 3 seeds"}]},
      **kw)


def make_examples() -> list[dict]:
  out = []
  for e, kind in enumerate(("style", "content")):
    out.append({"kind": kind, "query": _image(100 + e), "query_caption": f"content 7 / style {e}",
                "results": [{"image": _image(200 + 10 * e + i), "caption": f"c{i} s{e}",
                             "relevant": i % 2 == 0} for i in range(5)]})
  return out


def _contact_sheet() -> bytes:
  """A 4 x 3 grid of 48 px tiles, as the dataset job's contact_sheet.png."""
  tiles = [_image(i, 48, 48) for i in range(12)]
  grid = np.concatenate([np.concatenate(tiles[r * 4:(r + 1) * 4], axis=1)
                         for r in range(3)], axis=0)
  buf = io.BytesIO()
  Image.fromarray(grid).save(buf, format="PNG")
  return buf.getvalue()


def _render(tmp_path, results: report.Results, name="report.html") -> str:
  path = report.write(str(tmp_path / name), results)
  assert path == str(tmp_path / name)
  with open(path, encoding="utf-8") as f:
    return f.read()


@pytest.fixture(scope="module")
def good(tmp_path_factory):
  d = tmp_path_factory.mktemp("good")
  text = _render(d, make_results(contact_sheet=_contact_sheet(),
                                 retrieval_examples=make_examples()))
  return d, text


def test_writes_exactly_one_html_file(good):
  d, text = good
  assert [p.name for p in d.iterdir()] == ["report.html"]
  assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


def test_baselines_and_balanced_accuracy_are_shown(good):
  _, text = good
  res = make_results()
  for row in res.probe["rows"]:
    assert row["name"] in text
    assert f"{row['linear']['balanced_accuracy']:.3f}" in text
    assert f"{row['linear']['accuracy']:.3f}" in text
  assert "balanced accuracy" in text and "macro-F1" in text
  assert "chance is 1/6 = 0.17" in text
  best = res.probe["rows"][2]["linear"]["balanced_accuracy"]
  base = res.probe["rows"][1]["linear"]["balanced_accuracy"]
  assert f"balanced accuracy <b>{best:.2f}</b> vs {base:.2f} for the best baseline " \
         f"(random-init encoder)" in text
  for needle in ("0.710", "0.880", "chance", "0.61", "± 0.020", "612.4 s"):
    assert needle in text


def test_good_run_has_no_warning(good):
  _, text = good
  assert 'class="warning"' not in text and "WARNING" not in text
  assert "Checks passed" in text


def test_images_are_embedded_and_decode(good):
  _, text = good
  blobs = PNG_URI.findall(text)
  assert len(blobs) >= 4  # sample grid, loss curve, confusion matrix, retrieval examples
  assert len(blobs) == 1 + 1 + 1 + 2 * 6
  for b in blobs:
    img = Image.open(io.BytesIO(base64.b64decode(b, validate=True)))
    assert img.format == "PNG"
    assert 32 <= img.width <= 4000 and 32 <= img.height <= 4000
  grid = Image.open(io.BytesIO(base64.b64decode(blobs[0])))
  assert grid.size == (4 * 48, 3 * 48)


def test_nothing_is_fetched_from_outside(good):
  _, text = good
  lower = text.lower()
  for bad in ('src="http', "src='http", 'href="http', "<link", "<script", "url(",
              "@import", "<iframe"):
    assert bad not in lower
  assert all(src.startswith("data:image/png;base64,")
             for src in re.findall(r'src="([^"]*)"', text))


def test_text_from_data_is_escaped(good):
  _, text = good
  assert "<script>" not in text
  assert "still &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; life" in text
  assert "small_cnn ntxent &lt;seed 0&gt;" in text


def test_warning_when_model_does_not_beat_baseline(tmp_path):
  res = make_results()
  rows = res.probe["rows"]
  rows[2] = _probe_row("pretrained encoder", "model", [0.7, 0.3, 0.3, 0.2, 0.1, 0.1],
                       seed=3, train_accuracy=0.6)
  assert rows[2]["linear"]["balanced_accuracy"] <= rows[1]["linear"]["balanced_accuracy"]
  text = _render(tmp_path, res)
  assert 'class="warning"' in text and "WARNING" in text
  assert "does not beat the best baseline (random-init encoder)" in text


def test_warning_when_model_only_matches_majority_class(tmp_path):
  res = make_results()
  collapsed = copy.deepcopy(_majority_row())
  collapsed.update(name="pretrained encoder", kind="model")
  res.probe["rows"] = [_majority_row(), collapsed]  # and no random-init row
  text = _render(tmp_path, res)
  assert "WARNING" in text
  assert "exactly the majority-class baseline's accuracy" in text
  assert "predicts a single class for every test image" in text
  assert "No random-init encoder row" in text


def test_overfitting_warning(tmp_path):
  res = make_results()
  row = res.probe["rows"][2]
  row["linear"]["accuracy"], row["train_accuracy"] = 0.4, 1.0
  row["linear"]["balanced_accuracy"] = 0.9  # still beats the baselines: only overfitting
  text = _render(tmp_path, res)
  assert "WARNING" in text
  assert "Overfitting: pretrained encoder reaches 1.000" in text and "0.400" in text
  assert "does not beat" not in text


def test_absent_sections_say_not_run(tmp_path):
  text = _render(tmp_path, report.Results(run=report.Run(title="empty")))
  for section in ("Dataset summary", "Pretraining", "Linear probe", "Retrieval"):
    assert f"{section}: not run." in text
  assert "data:image/png" not in text


def test_creates_missing_parent_dirs(tmp_path):
  path = report.write(str(tmp_path / "a" / "b" / "r.html"), report.Results())
  assert (tmp_path / "a" / "b" / "r.html").read_text().startswith("<!DOCTYPE html>")
  assert path.endswith("r.html")


def _png_width(uri_b64: str) -> int:
  return Image.open(io.BytesIO(base64.b64decode(uri_b64))).width


def test_online_monitor_curve_is_drawn_next_to_the_loss(good, tmp_path):
  _, text = good
  res = make_results()
  curve_img = PNG_URI.findall(text)[1]  # after the sample grid
  del res.pretrain["monitor"]
  without = PNG_URI.findall(_render(tmp_path, res))[1]
  # One more panel beside the loss (and its parts) when the monitor ran.
  assert _png_width(curve_img) > 1.3 * _png_width(without)
  assert "pretraining loss and online monitor curves" in text
  assert "Online monitor" in text and "held-out val images" in text
  mon = _monitor()
  first, last = mon["curve"][0], mon["curve"][-1]
  assert f"{first['knn/accuracy']:.3f}" in text and f"{last['knn/accuracy']:.3f}" in text
  assert "step 0 (random init)" in text
  assert "majority class / chance" in text and "0.213" in text and "0.031" in text


def test_report_says_when_the_monitor_was_off(tmp_path):
  res = make_results()
  res.pretrain["monitor"] = {}
  assert "Online monitor: off" in _render(tmp_path, res)


def test_comparison_shows_per_seed_differences(good):
  _, text = good
  assert "Per-seed differences" in text
  assert "ntxent − random-init" in text and "+0.300, +0.310, +0.320" in text
  assert "larger than the spread" in text


def test_probe_table_has_style_robustness_columns(tmp_path):
  res = make_results()
  res.probe["robustness"] = {"n_original": 216, "n_stylized": 432,
                             "stylized_styles": "3 styles never seen in training"}
  res.probe["rows"][-1]["robustness"] = {"linear": {
      "original": {"balanced_accuracy": 0.812}, "stylized": {"balanced_accuracy": 0.406},
      "ratio": 0.5}}
  text = _render(tmp_path, res)
  for needle in ("bal. acc. originals", "bal. acc. stylized", "stylized / originals",
                 "0.812", "0.406", "0.500", "3 styles never seen in training"):
    assert needle in text


def test_supervised_comparison_shows_robustness_columns_and_differences(tmp_path):
  row = {"setting": "sup+stylized/scarce", "mean": 0.52, "std": 0.03,
         "values": [0.5, 0.51, 0.55],
         "columns": {"orig bal.acc": {"mean": 0.52, "std": 0.03},
                     "styl bal.acc": {"mean": 0.447, "std": 0.02},
                     "styl/orig": {"mean": 0.861, "std": 0.01}}}
  res = make_results(supervised_comparison={
      "metric": "orig bal.acc (test split)", "seeds": [0, 1, 2], "rows": [row],
      "differences": [{"setting": "sup+stylized/scarce", "baseline": "sup-originals/scarce",
                       "per_seed": [0.01, -0.02, 0.03], "mean": 0.0067,
                       "words": "within the spread"}]})
  text = _render(tmp_path, res)
  assert "Supervised training: originals only vs + stylized views" in text
  assert "styl bal.acc" in text and "0.447 ± 0.020" in text and "0.861" in text
  assert "sup+stylized/scarce − sup-originals/scarce" in text and "within the spread" in text


def test_the_dataset_counts_views_as_the_jobs_console_does(good):
  _, text = good  # the job prints "N contents x 5 views" for K=4 with the original
  assert "<b>views per content</b>: 5 (4 styles + the original)" in text
  assert "styles per content" not in text


def test_views_per_content_count_only_the_styles_listed(tmp_path):
  """4 styles per content asked for, 3 styles listed: the job renders 3 and the original."""
  res = make_results()
  res.dataset["inputs"] = {"styles_listed": 3}
  assert "<b>views per content</b>: 4 (3 styles + the original)" in _render(tmp_path, res)


def test_retrieval_captions_say_what_made_a_result_relevant(tmp_path):
  """Relevance is same content id (content queries) or same style id (style queries),
  not the class in the caption: each result's caption says which it is."""
  from trainer import probe
  from trainer.probe_data import Embedded
  rng = np.random.default_rng(0)
  content = np.repeat(np.arange(6), 3)        # 6 contents x 3 views
  style = np.tile(np.arange(3), 6)            # the same 3 styles for each
  x = rng.normal(size=(18, 8)) + 3 * np.eye(8)[content % 8]  # views of a content close
  e = Embedded({"embedding": x}, ["ring"] * 18, content, style,
               np.zeros((18, 4, 4, 3), np.uint8),
               [f"ring / style {s}" for s in style])
  examples = probe.retrieval_examples(e)
  assert [ex["kind"] for ex in examples] == ["content", "content", "style", "style"]
  for ex in examples:
    ids = content if ex["kind"] == "content" else style
    for r in ex["results"]:
      word = "same" if r["relevant"] else "other"
      assert r["caption"].startswith(f"{word} {ex['kind']} · ring / style "), r["caption"]
    assert any(r["relevant"] for r in ex["results"]), ids
  html = _render(tmp_path, make_results(retrieval_examples=examples))
  assert "A <b>content</b> query counts views of the same content" in html
  assert "same content · ring / style" in html
