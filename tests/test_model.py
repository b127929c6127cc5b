"""Tests for trainer.model: shapes, shared weights, checkpoints, training step, export."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.utils import file_utils

from trainer.choices import BACKBONES
from trainer.model import ModelConfig, build_model, export_saved_model

FEATURE_DIMS = {"small_cnn": 8 * 32, "mobilenet_v2": 1280, "resnet50": 2048}


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
  """Any attempt to fetch ImageNet weights fails the test instead of hitting the network."""
  def refuse(*args, **kwargs):
    raise AssertionError(f"download attempted: {args} {kwargs}")
  monkeypatch.setattr(file_utils, "get_file", refuse)


def _images(n, size, seed=0):
  return tf.random.uniform([n, size, size, 3], seed=seed)


def _train_step(model, optimizer):
  """One step of a toy loss inside strategy.run, as the custom loop does it."""
  strategy = tf.distribute.get_strategy()

  @tf.function
  def step(images):
    def replica_fn(images):
      with tf.GradientTape() as tape:
        out = model(images, training=True)
        loss = tf.add_n([tf.reduce_mean(tf.square(v - 1.0)) for v in out.values()])
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(grads, model.trainable_variables))
      return loss
    return strategy.run(replica_fn, args=(images,))

  return step


@pytest.fixture(scope="module")
def trained():
  """A small_cnn with a style head after one training step, shared to keep tests fast.

  Tests only read it, so sharing cannot couple them.
  """
  cfg = ModelConfig(image_size=32, style_head=True)
  strategy = tf.distribute.get_strategy()
  with strategy.scope():
    model = build_model(cfg)
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
  before = [v.numpy() for v in model.trainable_variables]
  _train_step(model, optimizer)(_images(4, 32))  # moves weights, BN stats, Adam slots
  return cfg, model, optimizer, before


@pytest.mark.parametrize("backbone,size,style", [
    ("small_cnn", 64, False), ("small_cnn", 64, True),
    ("mobilenet_v2", 32, True), ("resnet50", 32, False)])
def test_backbone_outputs(backbone, size, style):
  cfg = ModelConfig(backbone=backbone, image_size=size, embedding_dim=16,
                    projection_dim=24, style_head=style)
  assert cfg.weights is None
  out = build_model(cfg)(_images(2, size), training=False)
  expected = {"features", "embedding"} | ({"style_embedding"} if style else set())
  assert set(out) == expected
  assert out["features"].shape == (2, FEATURE_DIMS[backbone])
  assert out["embedding"].shape == (2, 16)
  if style:
    assert out["style_embedding"].shape == (2, 16)
  assert all(v.dtype == tf.float32 for v in out.values())


def test_config_rejects_bad_values():
  with pytest.raises(ValueError, match="backbone"):
    ModelConfig(backbone="vit")
  with pytest.raises(ValueError, match="image_size >= 32"):
    ModelConfig(backbone="resnet50", image_size=24)
  with pytest.raises(ValueError, match="small_cnn has no pretrained"):
    ModelConfig(weights="w.h5")


def test_missing_weights_file_is_a_clear_error(tmp_path):
  missing = str(tmp_path / "nope_no_top.h5")
  with pytest.raises(FileNotFoundError, match="nope_no_top.h5.*nothing is downloaded"):
    build_model(ModelConfig(backbone="mobilenet_v2", image_size=32, weights=missing))


def test_local_weights_load_by_name_and_wrong_file_fails(tmp_path):
  """A legacy .h5 (the keras.applications format) and a .weights.h5 both load."""
  from keras.src.legacy.saving import legacy_h5_format
  source = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False,
                                          weights=None, pooling="avg")
  legacy = str(tmp_path / "mobilenet_no_top.h5")
  with h5py.File(legacy, "w") as f:
    legacy_h5_format.save_weights_to_hdf5_group(f, source)
  for path in (legacy, str(tmp_path / "mobilenet.weights.h5")):
    if path.endswith(".weights.h5"):
      source.save_weights(path)
    model = build_model(ModelConfig(backbone="mobilenet_v2", image_size=32, weights=path))
    for got, want in zip(model.backbone.weights, source.weights):
      np.testing.assert_array_equal(got.numpy(), want.numpy())

  small = build_model(ModelConfig(image_size=32)).backbone
  wrong = str(tmp_path / "small_cnn.h5")
  with h5py.File(wrong, "w") as f:
    legacy_h5_format.save_weights_to_hdf5_group(f, small)
  with pytest.raises(ValueError, match="no weight .* matched"):
    build_model(ModelConfig(backbone="mobilenet_v2", image_size=32, weights=wrong))


def test_two_calls_share_weights(trained):
  """Siamese = one model called on both views: the same image embeds identically."""
  model = trained[1]
  images = _images(3, 32)
  first = model(images, training=False)["embedding"]
  second = model(images, training=False)["embedding"]
  np.testing.assert_array_equal(first.numpy(), second.numpy())
  both = model(tf.concat([images, images], 0), training=False)["embedding"]
  np.testing.assert_allclose(both[:3].numpy(), both[3:].numpy(), atol=1e-6)


def test_gradient_step_under_default_strategy_changes_weights(trained):
  _, model, optimizer, before = trained
  unchanged = [v.path for v, b in zip(model.trainable_variables, before)
               if np.array_equal(v.numpy(), b)]
  assert not unchanged
  assert int(optimizer.iterations) == 1


def test_checkpoint_restores_into_fresh_model(trained, tmp_path):
  cfg, model, optimizer, _ = trained
  path = tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(tmp_path / "ckpt"))
  images = _images(3, 32, seed=1)
  want = model(images, training=False)

  fresh, fresh_opt = build_model(cfg), keras.optimizers.SGD(0.1, momentum=0.9)
  # Keras 3 optimizers create slots lazily: build first so restore is immediate.
  fresh_opt.build(fresh.trainable_variables)
  status = tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).restore(path)
  status.assert_consumed()
  got = fresh(images, training=False)
  for key in want:
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
  assert int(fresh_opt.iterations) == 1
  for a, b in zip(fresh_opt.variables, optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_embed_accepts_uint8_and_float(trained):
  model = trained[1]
  pixels = np.random.default_rng(0).integers(0, 256, (4, 40, 50, 3), dtype=np.uint8)
  from_uint8 = model.embed(pixels).numpy()
  np.testing.assert_allclose(model.embed(pixels / np.float32(255)).numpy(), from_uint8,
                             atol=1e-6)
  np.testing.assert_allclose(model.embed(pixels, batch_size=3).numpy(), from_uint8,
                             atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(from_uint8, axis=1), 1.0, atol=1e-5)


_LOAD_AND_RUN = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load("export")
    serve = model.signatures["serving_default"]
    for name in ("square", "wide"):
      out = serve(images=tf.constant(np.load(name + ".npy")))
      for key, value in out.items():
        np.save(f"{name}_{key}_out.npy", value.numpy())
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("trainer", "pipeline"))
    assert not leaked, leaked
""")


def test_export_loads_in_a_fresh_process_without_project_code(trained, tmp_path):
  cfg, model = trained[:2]  # trained: BN statistics are not the trivial initial ones
  export_saved_model(model, cfg, str(tmp_path / "export"))
  rng = np.random.default_rng(0)
  batches = {"square": rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8),
             "wide": rng.integers(0, 256, (2, 37, 90, 3), dtype=np.uint8)}
  for name, batch in batches.items():
    np.save(tmp_path / f"{name}.npy", batch)

  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  result = subprocess.run([sys.executable, "-c", _LOAD_AND_RUN], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]

  for name, batch in batches.items():
    want_content, want_style = model.embed(batch, with_style=True)
    content = np.load(tmp_path / f"{name}_embedding_out.npy")
    style = np.load(tmp_path / f"{name}_style_embedding_out.npy")
    assert content.dtype == np.float32 and content.shape == (len(batch), cfg.embedding_dim)
    np.testing.assert_allclose(content, want_content.numpy(), atol=1e-5)
    np.testing.assert_allclose(style, want_style.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(content, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(style, axis=1), 1.0, atol=1e-5)


def test_export_features_output(trained, tmp_path):
  cfg, model = trained[:2]
  with pytest.raises(ValueError, match="which"):
    export_saved_model(model, cfg, str(tmp_path / "bad"), which="logits")
  export_saved_model(model, cfg, str(tmp_path / "all"), which="all")
  out = tf.saved_model.load(str(tmp_path / "all")).signatures["serving_default"](
      images=tf.zeros([2, 32, 32, 3], tf.uint8))
  assert set(out) == {"embedding", "style_embedding", "features"}
  assert out["features"].shape == (2, FEATURE_DIMS["small_cnn"])


def test_mixed_precision_outputs_are_float32():
  try:
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = build_model(ModelConfig(image_size=32, style_head=True))
    assert model.backbone.layers[1].compute_dtype == "float16"  # the policy took effect
    out = model(_images(2, 32), training=False)
    assert {k: v.dtype for k, v in out.items()} == {
        "features": tf.float32, "embedding": tf.float32, "style_embedding": tf.float32}
    assert model.embed(np.zeros([1, 32, 32, 3], np.uint8)).dtype == tf.float32
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_all_backbones_listed():
  assert set(FEATURE_DIMS) == set(BACKBONES)
