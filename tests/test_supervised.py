"""Stylized views as augmentation: the supervised mode, its data regimes, style as one
augmentation with probability p, and the style robustness columns, on shards written
by the dataset job with held-out styles."""

import json

import numpy as np
import pytest
import tensorflow as tf

from beam_jobs import stylize
from pipeline import plan as plan_lib
from pipeline import sample_images
from trainer import data as data_lib
from trainer import records, regimes, task

PER_CLASS = 8  # contents per class in the generated sample


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  """6 classes x 8 contents, original + 2 styles each, train/test by content, 2 of the
  7 styles held out of train (the job's --holdout_style_fraction)."""
  root = tmp_path_factory.mktemp("supervised")
  sample = sample_images.write_sample(root / "inputs", contents_per_class=PER_CLASS,
                                      styles_per_family=1, seed=5)
  out = root / "stylized"
  stylize.run([f"--content={sample['content_dir']}", f"--styles={sample['styles_dir']}",
               "--content_labels_from_dirs", "--styles_per_content=2", "--include_original",
               "--stylizer=classical", "--image_size=48", "--split_fractions=0.6,0,0.4",
               "--holdout_style_fraction=0.3", "--num_shards=2", f"--output={out}",
               "--direct_running_mode=in_memory"])
  return out


@pytest.fixture(scope="module")
def train_index(dataset):
  return regimes.scan_split(records.resolve_files(str(dataset), "train"))


def _cfg(dataset, index, **kw):
  base = dict(data=str(dataset), batch_size=1, image_size=48, shuffle_buffer=8, seed=3,
              class_names=index.class_names())
  base.update(kw)
  return data_lib.DataConfig(**base)


def _epochs(make, cfg, n, contents):
  """n whole epochs of batches of 1 (one pipeline: epochs follow each other)."""
  return [{k: v.numpy() for k, v in b.items()}
          for b in make(cfg, epoch=0).take(n * contents)]


def test_select_contents_is_exact_seeded_and_by_class(train_index):
  labels = train_index.content_labels()
  names = train_index.class_names()
  per_class = {n: sum(1 for v in labels.values() if v == n) for n in names}
  thinned = regimes.resolve_classes("half", names)
  assert thinned == list(names[:3])
  kept = regimes.select_contents(labels, 0, imbalance_classes=thinned,
                                 imbalance_fraction=0.5)
  counts = {n: sum(1 for c in kept if labels[int(c)] == n) for n in names}
  assert counts == {n: max(1, round(per_class[n] * 0.5)) if n in thinned else per_class[n]
                    for n in names}
  scarce = regimes.select_contents(labels, 0, scarce_fraction=0.25)
  assert {n: sum(1 for c in scarce if labels[int(c)] == n) for n in names} == \
      {n: max(1, round(per_class[n] * 0.25)) for n in names}
  assert (regimes.select_contents(labels, 0, scarce_fraction=0.25) == scarce).all()
  assert not np.array_equal(regimes.select_contents(labels, 1, scarce_fraction=0.5),
                            regimes.select_contents(labels, 2, scarce_fraction=0.5))
  with pytest.raises(ValueError, match="not among the training classes"):
    regimes.resolve_classes("circle,hexagon", names)


@pytest.mark.parametrize("views", ["originals", "all"])
def test_supervised_stream_feeds_the_chosen_views_of_exactly_the_kept_contents(
    dataset, train_index, views):
  """originals: never a stylized view; all: originals and stylized views; with the
  scarce regime, every kept content once per epoch, whole, and nothing else."""
  kept = regimes.select_contents(train_index.content_labels(), 0, scarce_fraction=0.5)
  cfg = _cfg(dataset, train_index, train_views=views,
             keep_content_ids=tuple(kept.tolist()))
  batches = _epochs(data_lib.make_supervised_dataset, cfg, 4, len(kept))
  per_epoch = np.split(np.concatenate([b["content_id"] for b in batches]), 4)
  for ids in per_epoch:
    assert sorted(ids.tolist()) == sorted(kept.tolist())
  styles = np.concatenate([b["style_id"] for b in batches])
  labels, names = train_index.content_labels(), train_index.class_names()
  for b in batches:
    for cid, label in zip(b["content_id"], b["label"]):
      assert names[label] == labels[int(cid)]
  if views == "originals":
    assert (styles == -1).all()
    return
  assert (styles == -1).any() and (styles >= 0).sum() > len(styles) // 3
  seen, views_of = {}, {}
  for b in batches:
    for cid, sid in zip(b["content_id"], b["style_id"]):
      seen.setdefault(int(cid), set()).add(int(sid))
  for cid, sid in zip(train_index.content_ids, train_index.style_ids):
    views_of.setdefault(int(cid), set()).add(int(sid))
  assert all(seen[c] <= views_of[c] for c in seen)  # its own views only
  assert sum(len(v) for v in seen.values()) > 1.5 * len(seen)  # several of them


def test_the_pair_stream_keeps_exactly_the_kept_contents(dataset, train_index):
  kept = regimes.select_contents(train_index.content_labels(), 1, scarce_fraction=0.5,
                                 imbalance_classes=("ring",), imbalance_fraction=0.25)
  pairs = _epochs(data_lib.make_pair_dataset,
                  _cfg(dataset, train_index, keep_content_ids=tuple(kept.tolist())), 1,
                  len(kept))
  assert sorted(int(b["content_id"][0]) for b in pairs) == sorted(kept.tolist())


def test_style_probability_zero_never_and_one_always_replaces_one_view(dataset,
                                                                      train_index):
  def styles(p):
    cfg = _cfg(dataset, train_index, pair_mode="augment", style_probability=p)
    bs = _epochs(data_lib.make_pair_dataset, cfg, 1,
                 len(set(train_index.content_ids.tolist())))
    return (np.concatenate([b["style_a"] for b in bs]),
            np.concatenate([b["style_b"] for b in bs]),
            np.concatenate([b["content_id_b"] - b["content_id"] for b in bs]))
  a, b, same = styles(0.0)
  assert (a == -1).all() and (b == -1).all()
  a, b, same = styles(1.0)
  assert (a == -1).all() and (b >= 0).all() and (same == 0).all()
  assert len(set(b.tolist())) > 2  # drawn among the content's stylized views


def _held_out(dataset):
  meta = json.loads((dataset / "stylized_metadata.json").read_text())
  ids = [s["style_id"] for s in meta["vocabularies"]["styles"]]
  pools = plan_lib.style_pools(ids, meta["plan"]["seed"],
                               meta["plan"]["holdout_style_fraction"])
  return set(ids) - set(pools["train"])


def _common(dataset, job):
  return [f"--data={dataset}", f"--job-dir={job}", "--image_size=48", "--width=8",
          "--batch_size=8", "--embedding_dim=16", "--projection_dim=16",
          "--monitor_every=0", "--log_every=5", "--probe_test_split=test"]


def test_supervised_mode_trains_resumes_exports_and_tests_on_held_out_styles(
    dataset, tmp_path, capsys):
  """Class-imbalanced regime, originals only; resumed once; evaluated on the test
  split's originals and its stylized views in held-out styles."""
  job = tmp_path / "sup"
  args = _common(dataset, job) + [
      "--mode=supervised", "--train_views=originals", "--checkpoint_every=5",
      "--imbalance_classes=circle,cross", "--imbalance_fraction=0.25",
      "--learning_rate=3e-3"]
  task.main(args + ["--max_steps=5"])
  out = task.main(args + ["--max_steps=25"])
  m, sup = out["train"], out["supervised"]
  assert m["mode"] == "supervised" and m["resumed_from_step"] == 5 and m["steps"] == 25
  assert m["final_loss"] < m["first_logged_loss"]
  per_class = m["data_selection"]["regime"]["per_class"]
  for name, c in per_class.items():
    want = max(1, round(c["contents"] * 0.25)) if name in ("circle", "cross") \
        else c["contents"]
    assert c["kept"] == want == sup["train_contents_per_class"][name]
  names = [r["name"] for r in sup["rows"]]
  assert names == ["majority class", "random-init network", "trained classifier"]
  held = _held_out(dataset)
  rob = sup["robustness"]
  assert rob["stylized_styles"].endswith("never seen in training")
  assert set(rob["stylized_style_ids"]) <= held and rob["stylized_style_ids"]
  assert rob["n_original"] == sup["n_test"] > 0 and rob["n_stylized"] == 2 * sup["n_test"]
  for r in sup["rows"]:
    assert r["robustness"]["original"]["balanced_accuracy"] == pytest.approx(
        r["linear"]["balanced_accuracy"])
    assert r["robustness"]["stylized"]["n"] == rob["n_stylized"]
  printed = capsys.readouterr().out
  assert "trained classifier" in printed and "styl" in printed and "ratio" in printed

  loaded = tf.saved_model.load(str(job / "model"))
  probs = loaded.serve(tf.zeros([3, 60, 60, 3], tf.uint8))["probabilities"].numpy()
  assert probs.shape == (3, 6) and np.allclose(probs.sum(1), 1, atol=1e-5)
  classes = json.loads((job / "model" / "assets" / "classes.json").read_text())
  assert classes["class_names"] == sorted(sample_images.CONTENT_CLASSES)


def test_probe_robustness_columns_use_only_held_out_styles(dataset, tmp_path, capsys):
  out = task.main(_common(dataset, tmp_path / "probe") + [
      "--mode=all", "--max_steps=2", "--probe_steps=20", "--no-report"])
  probe = out["probe"]["probe"]
  rob = probe["robustness"]
  assert set(rob["stylized_style_ids"]) <= _held_out(dataset)
  for r in probe["rows"]:
    lin = r["robustness"]["linear"]
    assert lin["original"]["n"] == rob["n_original"] > 0
    assert lin["stylized"]["n"] == rob["n_stylized"] > 0
    if lin["ratio"] is not None:
      assert lin["ratio"] == pytest.approx(lin["stylized"]["balanced_accuracy"] /
                                           lin["original"]["balanced_accuracy"])
  assert "never seen in training" in capsys.readouterr().out


def test_bad_supervised_data_fails_before_training(tmp_path):
  from trainer import config
  from trainer.records import DataError
  index = regimes.SplitIndex(np.array([1, 1, 2, 2]), np.array([5, 6, 5, 7]),
                             np.array(["a", "a", "b", "b"], dtype=object))
  cfg = config.parse(["--data=d", f"--job-dir={tmp_path}", "--mode=supervised",
                      "--train_views=originals"])
  with pytest.raises(DataError, match="no original views"):
    regimes.select_data(cfg, [], index)
  one_class = regimes.SplitIndex(index.content_ids, index.style_ids,
                                 np.array(["a"] * 4, dtype=object))
  with pytest.raises(DataError, match="1 classes .* needs at least 2"):
    regimes.select_data(cfg, [], one_class)
  cfg = config.parse(["--data=d", f"--job-dir={tmp_path}", "--mode=supervised",
                      "--imbalance_fraction=0.5", "--imbalance_classes=c"])
  with pytest.raises(DataError, match="not among the training classes"):
    regimes.select_data(cfg, [], index)


def test_held_out_styles_come_from_the_records():
  held, how = regimes.held_out_styles([-1, 1, 2], [-1, 1, 3, 3, 4])
  assert held == {3, 4} and "2 styles never seen" in how
  groups = regimes.view_groups([-1, 1, 3, 3, 4], held)
  assert groups["original"].tolist() == [True, False, False, False, False]
  assert groups["stylized"].tolist() == [False, False, True, True, True]
  assert regimes.held_out_styles([1, 2], [1, 3], {"holdout_style_fraction": 0})[0] is None
  assert regimes.held_out_styles([1, 2], [1, 2])[0] is None


def test_compare_tables_the_supervised_settings_with_baselines_and_differences(
    dataset, tmp_path, capsys):
  from trainer import compare
  result = compare.main([f"--job-dir={tmp_path / 'cmp'}", "--seeds=0,1",
                         "--settings=majority class,random-init network,"
                         "sup-originals/scarce,sup+stylized/scarce", "--scarce=0.5",
                         *_common(dataset, tmp_path / "unused")[:1], "--image_size=48",
                         "--width=8", "--batch_size=8", "--max_steps=3",
                         "--monitor_every=0"])
  rows = {r["setting"]: r for r in result["supervised_rows"]}
  assert list(rows) == ["majority class", "random-init network", "sup-originals/scarce",
                        "sup+stylized/scarce"]
  assert result["rows"] == []
  for r in rows.values():
    assert len(r["orig_balanced_accuracy"]["values"]) == 2
  # A constant prediction: recall 1 on at most one class of the test originals.
  assert all(v <= 1 / 4 for v in rows["majority class"]["orig_balanced_accuracy"]["values"])
  pair = [d for d in result["differences"] if d["baseline"] == "sup-originals/scarce"]
  assert {d["metric"] for d in pair} == set(compare.SUP_METRICS)
  d = next(d for d in pair if d["metric"] == "styl_balanced_accuracy")
  np.testing.assert_allclose(d["per_seed"], np.subtract(
      rows["sup+stylized/scarce"]["styl_balanced_accuracy"]["values"],
      rows["sup-originals/scarce"]["styl_balanced_accuracy"]["values"]))
  out = capsys.readouterr().out
  assert "supervised classifiers" in out and "sup+stylized/scarce - sup-originals/scarce" in out
  html = (tmp_path / "cmp" / "comparison.html").read_text()
  assert "Supervised training: originals only vs + stylized views" in html
