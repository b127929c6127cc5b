"""HubStylizer and the SavedModel export, offline: the classical stylizer stands in for Magenta."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from pipeline.stylizers import DEFAULT_HUB_HANDLE, StylizerConfigError, from_spec
from pipeline.stylizers.classical import ClassicalStylizer
from pipeline.stylizers.export import export_hub_savedmodel
from pipeline.stylizers.hub import HubStylizer
from tests.conftest import make_stripes_style


def make_content(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
  """Smooth gradients plus two flat shapes."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:h, 0:w].astype(np.float32)
  img = np.stack([0.3 + 0.4 * x / w, 0.4 + 0.3 * y / h, 0.5 - 0.2 * x / w], axis=-1)
  img[(y - h * 0.4) ** 2 + (x - w * 0.35) ** 2 < (min(h, w) * 0.2) ** 2] = (0.85, 0.8, 0.7)
  img[int(h * 0.6):int(h * 0.85), int(w * 0.55):int(w * 0.9)] = (0.15, 0.2, 0.3)
  img += rng.normal(0.0, 0.005, img.shape).astype(np.float32)
  return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def make_style(palette, seed: int, size: int = 256) -> np.ndarray:
  return make_stripes_style(palette, seed, size)


@pytest.fixture(scope="module")
def classical() -> ClassicalStylizer:
  return ClassicalStylizer()


@pytest.fixture(scope="module")
def export_dir(classical, tmp_path_factory) -> str:
  return export_hub_savedmodel(classical, str(tmp_path_factory.mktemp("hub") / "classical"))


@pytest.fixture(scope="module")
def content() -> np.ndarray:
  return make_content()


@pytest.fixture(scope="module")
def style_a() -> np.ndarray:
  return make_style(((0.9, 0.45, 0.1), (0.35, 0.05, 0.45)), seed=1)


@pytest.fixture(scope="module")
def style_b() -> np.ndarray:
  return make_style(((0.1, 0.6, 0.3), (0.05, 0.2, 0.7)), seed=2)


def test_exported_model_has_magenta_call_convention(classical, export_dir, content,
                                                    style_a):
  model = hub.load(export_dir)
  c = content.astype(np.float32)[None] / 255.0
  s = style_a.astype(np.float32)[None] / 255.0
  out = model(tf.constant(c), tf.constant(s))[0].numpy()
  ref = classical.content_step(c, [classical.style_step(style_a)], [1.0])
  assert out.shape == c.shape and out.dtype == np.float32
  np.testing.assert_allclose(out, ref, atol=1e-4)
  # The serving signature mirrors the published model's names (not run: it is the same
  # function, and its first call costs seconds of graph optimisation).
  serving = model.signatures["serving_default"]
  assert set(serving.structured_input_signature[1]) == {"placeholder", "placeholder_1"}
  assert set(serving.structured_outputs) == {"output_0"}


def test_hub_spec_on_exported_dir_matches_classical(classical, export_dir, content,
                                                    style_a, style_b):
  stylizer = from_spec("hub:" + export_dir)
  assert isinstance(stylizer, HubStylizer)
  stylizer.validate()
  stylizer.load()
  stylizer.load()  # idempotent
  out = stylizer.stylize(content, style_a)
  ref = classical.stylize(content, style_a)
  assert out.dtype == np.uint8 and out.shape == content.shape
  assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1

  # A batch mixing two styles and strengths: grouped by state, blended in pixel space.
  state_a, state_b = stylizer.style_step(style_a), stylizer.style_step(style_b)
  assert state_a.shape == (256, 256, 3) and state_a.dtype == np.float32
  c = content.astype(np.float32) / 255.0
  x = np.stack([c, c, c])
  got = stylizer.content_step(x, [state_a, state_b, state_a.copy()], [1.0, 0.5, 0.0])
  full = classical.content_step(x[:2], [classical.style_step(style_a),
                                        classical.style_step(style_b)], [1.0, 1.0])
  np.testing.assert_allclose(got[0], full[0], atol=1e-4)
  np.testing.assert_allclose(got[1], 0.5 * full[1] + 0.5 * c, atol=1e-4)
  np.testing.assert_allclose(got[2], c, atol=1e-6)


def test_style_step_resizes_to_256(export_dir):
  state = HubStylizer(export_dir).style_step(np.full((300, 500, 3), 200, np.uint8))
  assert state.shape == (256, 256, 3) and state.dtype == np.float32
  np.testing.assert_allclose(state, 200 / 255.0, atol=1e-6)


def test_output_resized_back_to_content_size(content):
  """A model returning another size (not the real Magenta one) is resized defensively."""
  calls = []

  def half_size_model(c, s):
    calls.append((tuple(c.shape), tuple(s.shape)))
    return [tf.image.resize(c, (c.shape[1] // 2, c.shape[2] // 2))]

  stylizer = HubStylizer("unused")
  stylizer._model = half_size_model
  x = content.astype(np.float32)[None] / 255.0
  out = stylizer.content_step(x, [np.zeros((256, 256, 3), np.float32)], [1.0])
  assert out.shape == x.shape
  assert calls == [(x.shape, (1, 256, 256, 3))]
  assert np.abs(out - x).mean() < 0.02


def test_version_identifies_the_model(export_dir, tmp_path):
  version = HubStylizer(export_dir).version
  assert version.startswith("classical@") and len(version) > len("classical@")
  other = tmp_path / "classical"
  other.mkdir()
  (other / "saved_model.pb").write_bytes(b"not the same model")
  assert HubStylizer(str(other)).version != version
  assert HubStylizer(DEFAULT_HUB_HANDLE).version == DEFAULT_HUB_HANDLE


def test_validate_missing_dir(tmp_path):
  missing = tmp_path / "nope"
  with pytest.raises(StylizerConfigError, match=str(missing)):
    HubStylizer(str(missing)).validate()


def test_validate_dir_without_saved_model(tmp_path):
  (tmp_path / "variables").mkdir()
  with pytest.raises(StylizerConfigError, match="saved_model.pb") as err:
    HubStylizer(str(tmp_path)).validate()
  assert str(tmp_path) in str(err.value)


def test_load_error_is_config_error(tmp_path):
  (tmp_path / "saved_model.pb").write_bytes(b"garbage")
  stylizer = HubStylizer(str(tmp_path))
  stylizer.validate()
  with pytest.raises(StylizerConfigError, match="cannot load"):
    stylizer.load()


def test_default_spec_is_magenta_handle():
  stylizer = from_spec("hub")
  assert isinstance(stylizer, HubStylizer)
  assert stylizer.handle == DEFAULT_HUB_HANDLE
  stylizer.validate()  # remote: nothing to check offline, and nothing is loaded
  assert stylizer._model is None


def test_export_rejects_non_tf_stylizer():
  with pytest.raises(StylizerConfigError, match="stylize_tf"):
    export_hub_savedmodel(HubStylizer("unused"), "/nonexistent/never-written")
