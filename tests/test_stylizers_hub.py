"""HubStylizer: the combined call (an exported classical stylizer stands in for the published
model), the two halves (the Magenta port of ../shared's TF Lite pair), and the offline check
of a remote handle."""

from __future__ import annotations

import hashlib
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from pipeline.stylizers import DEFAULT_HUB_HANDLE, StylizerConfigError, from_spec
from pipeline.stylizers.classical import ClassicalStylizer
from pipeline.stylizers.export import export_hub_savedmodel
from pipeline.stylizers import hub as hub_module
from pipeline.stylizers.hub import HubStylizer
from pipeline.stylizers.tflite import TFLiteStylizer
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

  # A batch mixing two styles and strengths: ONE call with the paired style batch (no
  # grouping by style), blended in pixel space (the combined call has no bottleneck).
  assert stylizer.has_halves is False
  state_a, state_b = stylizer.style_step(style_a), stylizer.style_step(style_b)
  assert state_a.shape == (256, 256, 3) and state_a.dtype == np.float32
  c = content.astype(np.float32) / 255.0
  x = np.stack([c, c, c])
  calls = stylizer.content_model_calls
  got = stylizer.content_step(x, [state_a, state_b, state_a.copy()], [1.0, 0.5, 0.0])
  assert stylizer.content_model_calls == calls + 1
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
  stylizer.attach(half_size_model)
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
  # Same graph, other weights: the variables' index (it holds their checksums) counts.
  (other / "variables").mkdir()
  (other / "variables" / "variables.index").write_bytes(b"other weights")
  assert HubStylizer(str(other)).version not in (version, f"classical@{'0' * 12}")
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
  assert stylizer._model is None  # building a stylizer loads nothing


def _assert_offline_message(err, handle):
  message = str(err.value)
  assert handle in message and "\n" not in message
  for alternative in ("--stylizer=hub:<SavedModel dir>", "magenta_tf export",
                      "--stylizer=tflite:", "--stylizer=classical"):
    assert alternative in message


def test_default_handle_offline_fails_fast_naming_the_alternatives(monkeypatch, tmp_path):
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))  # nothing cached

  def offline(*args, **kwargs):
    raise OSError(101, "Network is unreachable")

  monkeypatch.setattr(socket, "create_connection", offline)
  t0 = time.perf_counter()
  with pytest.raises(StylizerConfigError) as err:
    from_spec("hub").validate()
  assert time.perf_counter() - t0 < 1.0
  _assert_offline_message(err, DEFAULT_HUB_HANDLE)
  assert "Network is unreachable" in str(err.value)


def test_unresolvable_host_fails_within_the_timeout(monkeypatch, tmp_path):
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  handle = "https://tfhub.invalid/google/magenta/arbitrary-image-stylization-v1-256/2"
  t0 = time.perf_counter()
  with pytest.raises(StylizerConfigError) as err:
    HubStylizer(handle).validate()  # .invalid never resolves (RFC 2606)
  assert time.perf_counter() - t0 < hub_module.REACH_TIMEOUT_S + 1.0
  _assert_offline_message(err, handle)


def test_hanging_network_is_cut_at_the_timeout(monkeypatch, tmp_path):
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  monkeypatch.setattr(hub_module, "REACH_TIMEOUT_S", 0.3)

  def hang(*args, **kwargs):  # a DNS lookup or SYN that never answers
    time.sleep(2)
    raise OSError("answered too late")

  monkeypatch.setattr(socket, "create_connection", hang)
  t0 = time.perf_counter()
  with pytest.raises(StylizerConfigError, match="timed out"):
    HubStylizer(DEFAULT_HUB_HANDLE).validate()
  assert time.perf_counter() - t0 < 1.5


def test_remote_handle_passes_when_cached_or_reachable(monkeypatch, tmp_path):
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  cached = tmp_path / hashlib.sha1(DEFAULT_HUB_HANDLE.encode()).hexdigest()
  cached.mkdir()
  (cached / "saved_model.pb").write_bytes(b"")
  monkeypatch.setattr(socket, "create_connection", lambda *a, **k: 1 / 0)  # not asked
  HubStylizer(DEFAULT_HUB_HANDLE).validate()
  monkeypatch.undo()
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty"))
  with socket.socket() as server:  # a reachable "hub" on this machine
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    HubStylizer(f"http://127.0.0.1:{server.getsockname()[1]}/model/1").validate()
  # A SavedModel in Cloud Storage is not a download: no reachability check at all.
  monkeypatch.setattr(socket, "create_connection", lambda *a, **k: 1 / 0)
  HubStylizer("gs://bucket/magenta_tf").validate()


# -------------------------------------------- the two halves: the Magenta port, real data


@pytest.fixture(scope="module")
def magenta(magenta_tf_dir) -> HubStylizer:
  stylizer = from_spec(f"hub:{magenta_tf_dir}")
  stylizer.validate()
  stylizer.load()
  return stylizer


@pytest.fixture(scope="module")
def photos(coco_images_dir) -> np.ndarray:
  from pipeline import image_io
  paths = sorted((coco_images_dir / "val2017").glob("*.jpg"))[:4]
  return np.stack([image_io.resize_to_square(image_io.load_image(str(p)), 256,
                                             "center_crop") for p in paths])


@pytest.fixture(scope="module")
def paintings(paintings_dir) -> list[np.ndarray]:
  from PIL import Image
  return [np.asarray(Image.open(p).convert("RGB"))
          for p in sorted(paintings_dir.glob("*.jpg"))[4:8]]


@pytest.mark.slow
def test_halves_one_style_call_per_style_one_content_call_per_batch(magenta, photos,
                                                                     paintings):
  assert magenta.has_halves is True and magenta.device in ("/CPU:0", "/GPU:0")
  style_calls = magenta.style_model_calls
  states = [magenta.style_step(p) for p in paintings]
  assert magenta.style_model_calls == style_calls + 4
  assert all(s.shape == (100,) and s.dtype == np.float32 for s in states)
  x = photos.astype(np.float32) / 255.0
  calls = magenta.content_model_calls
  batch = magenta.content_step(x, states, [1.0] * 4)
  assert magenta.content_model_calls == calls + 1
  assert batch.shape == x.shape and 0.0 <= batch.min() and batch.max() <= 1.0
  for i in range(4):
    single = magenta.content_step(x[i:i + 1], [states[i]], [1.0])[0]
    np.testing.assert_allclose(batch[i], single, atol=1e-4)
  assert np.abs(batch - x).mean() > 0.1  # measured ~0.2: it does stylize
  assert np.abs(batch[0] - magenta.content_step(x[:1], [states[1]], [1.0])[0]).mean() > 0.05


@pytest.mark.slow
def test_halves_bottleneck_matches_the_litert_predictor(magenta, magenta_tflite_dir,
                                                        paintings):
  litert = TFLiteStylizer(magenta_tflite_dir)
  for painting in paintings[:2]:  # the same crop and resize on both paths
    ours, theirs = magenta.style_step(painting), litert.style_step(painting)
    assert ours @ theirs / np.linalg.norm(ours) / np.linalg.norm(theirs) > 0.99


@pytest.mark.slow
def test_halves_strength_is_bottleneck_interpolation(magenta, photos, paintings):
  x = photos[:2].astype(np.float32) / 255.0
  style = magenta.style_step(paintings[0])
  own = [magenta.style_step(p) for p in photos[:2]]  # the contents' own bottlenecks
  got = magenta.content_step(x, [style, style], [0.0, 0.5])
  np.testing.assert_allclose(got[0], magenta.content_step(x[:1], own[:1], [1.0])[0],
                             atol=1e-5)
  mixed = 0.5 * style + 0.5 * own[1]
  np.testing.assert_allclose(got[1], magenta.content_step(x[1:], [mixed], [1.0])[0],
                             atol=1e-5)
  full = magenta.content_step(x, [style, style], [1.0, 1.0])
  mad = lambda a: np.abs(a - x).mean(axis=(1, 2, 3))  # noqa: E731
  assert (mad(got) < mad(full)).all()


@pytest.mark.slow
def test_halves_keep_any_content_size(magenta, photos, paintings):
  state = magenta.style_step(paintings[0])
  for h, w in ((97, 130), (320, 480)):  # 97x130 is not a multiple of 4: resized back
    x = np.random.default_rng(h).random((1, h, w, 3), dtype=np.float32)
    assert magenta.content_step(x, [state], [1.0]).shape == (1, h, w, 3)


@pytest.mark.slow
def test_jit_compile_gives_the_same_images(magenta_tf_dir, magenta, photos, paintings):
  xla = HubStylizer(str(magenta_tf_dir), jit_compile=True)
  x = photos[:2].astype(np.float32) / 255.0
  states = [magenta.style_step(p) for p in paintings[:2]]
  np.testing.assert_allclose(xla.style_step(paintings[0]), states[0], atol=1e-4)
  np.testing.assert_allclose(xla.content_step(x, states, [1.0, 0.5]),
                             magenta.content_step(x, states, [1.0, 0.5]), atol=1e-4)


def test_jit_switch_is_checked(monkeypatch):
  monkeypatch.setenv(hub_module.JIT_ENV, "1")
  assert HubStylizer("unused").jit_compile is True
  assert HubStylizer("unused", jit_compile=False).jit_compile is False
  monkeypatch.setenv(hub_module.JIT_ENV, "yes")
  with pytest.raises(StylizerConfigError, match="STYLIZE_HUB_JIT"):
    HubStylizer("unused")


def test_states_of_another_model_are_refused(magenta, export_dir):
  x = np.zeros((1, 64, 64, 3), np.float32)
  with pytest.raises(ValueError, match=r"\(100,\)"):
    magenta.content_step(x, [np.zeros((256, 256, 3), np.float32)], [1.0])
  with pytest.raises(ValueError, match="strengths must be in"):
    magenta.content_step(x, [np.zeros(100, np.float32)], [1.5])


def test_export_rejects_non_tf_stylizer():
  with pytest.raises(StylizerConfigError, match="stylize_tf"):
    export_hub_savedmodel(HubStylizer("unused"), "/nonexistent/never-written")
