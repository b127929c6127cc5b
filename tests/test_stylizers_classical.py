"""ClassicalStylizer: real colour and texture transfer on generated and (if present) real images."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from pipeline.stylizers import from_spec
from pipeline.stylizers.classical import ClassicalStylizer
from tests.conftest import make_stripes_style


def make_content(h: int = 128, w: int = 160, seed: int = 0) -> np.ndarray:
  """Smooth gradients plus a few flat shapes: low high-frequency energy, neutral palette."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:h, 0:w].astype(np.float32)
  img = np.stack([0.3 + 0.4 * x / w, 0.4 + 0.3 * y / h, 0.5 - 0.2 * x / w], axis=-1)
  cy, cx = h * 0.4, w * 0.35
  img[(y - cy) ** 2 + (x - cx) ** 2 < (min(h, w) * 0.2) ** 2] = (0.85, 0.8, 0.7)
  img[int(h * 0.6):int(h * 0.85), int(w * 0.55):int(w * 0.9)] = (0.15, 0.2, 0.3)
  img += rng.normal(0.0, 0.005, img.shape).astype(np.float32)
  return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def make_style(palette=((0.9, 0.45, 0.1), (0.35, 0.05, 0.45)), size: int = 256,
               seed: int = 1) -> np.ndarray:
  return make_stripes_style(palette, seed, size)


def as_float(img: np.ndarray) -> np.ndarray:
  return img.astype(np.float32) / 255.0


def colour_mean(img: np.ndarray) -> np.ndarray:
  img = as_float(img) if img.dtype == np.uint8 else img
  return img.reshape(-1, 3).mean(axis=0)


def hf_energy(img: np.ndarray) -> float:
  """Std of the 4-neighbour Laplacian: a scale-local measure of texture energy."""
  img = as_float(img) if img.dtype == np.uint8 else img
  lap = (4 * img[1:-1, 1:-1] - img[:-2, 1:-1] - img[2:, 1:-1]
         - img[1:-1, :-2] - img[1:-1, 2:])
  return float(lap.std())


@pytest.fixture(scope="module")
def stylizer() -> ClassicalStylizer:
  s = ClassicalStylizer()
  s.validate()
  s.load()
  return s


@pytest.fixture(scope="module")
def content() -> np.ndarray:
  return make_content()


@pytest.fixture(scope="module")
def style_a() -> np.ndarray:
  return make_style()


@pytest.fixture(scope="module")
def style_b() -> np.ndarray:
  return make_style(palette=((0.1, 0.6, 0.3), (0.05, 0.2, 0.7)), seed=2)


@pytest.fixture(scope="module")
def state_a(stylizer, style_a):
  return stylizer.style_step(style_a)


@pytest.fixture(scope="module")
def out_a(stylizer, content, state_a) -> np.ndarray:
  return stylizer.content_step(as_float(content)[None], [state_a], [1.0])[0]


def test_registry_and_version(stylizer):
  assert isinstance(from_spec("classical"), ClassicalStylizer)
  assert stylizer.name == "classical"
  assert stylizer.version.startswith("classical-v")


def test_output_shape_dtype_range(content, out_a):
  assert out_a.shape == content.shape
  assert out_a.dtype == np.float32
  assert np.isfinite(out_a).all()
  assert out_a.min() >= 0.0 and out_a.max() <= 1.0


def test_output_differs_from_content(content, out_a):
  assert np.abs(out_a - as_float(content)).mean() > 0.05


def test_colour_mean_moves_toward_style(content, style_a, out_a):
  target = colour_mean(style_a)
  before = np.linalg.norm(colour_mean(content) - target)
  after = np.linalg.norm(colour_mean(out_a) - target)
  assert after <= 0.5 * before, (before, after)


def test_high_frequency_energy_moves_toward_style(content, style_a, out_a):
  target = hf_energy(style_a)
  before = abs(hf_energy(content) - target)
  after = abs(hf_energy(out_a) - target)
  assert after <= 0.5 * before, (hf_energy(content), hf_energy(out_a), target)


def test_colour_covariance_moves_toward_style(content, style_a, out_a):
  def cov(img):
    img = as_float(img) if img.dtype == np.uint8 else img
    return np.cov(img.reshape(-1, 3).T)
  target = cov(style_a)
  assert (np.linalg.norm(cov(out_a) - target)
          < 0.5 * np.linalg.norm(cov(content) - target))


def test_strength_blends_linearly(stylizer, content, state_a, out_a):
  x = as_float(content)[None]
  zero = stylizer.content_step(x, [state_a], [0.0])[0]
  np.testing.assert_allclose(zero, x[0], atol=1e-3)
  half = stylizer.content_step(x, [state_a], [0.5])[0]
  full_diff = np.abs(out_a - x[0]).mean()
  half_diff = np.abs(half - x[0]).mean()
  assert 0.35 * full_diff < half_diff < 0.65 * full_diff


def test_state_small_picklable_deterministic(stylizer, style_a, state_a):
  assert set(state_a) == {"mean", "cov", "band_std", "tile"}
  assert state_a["mean"].shape == (3,)
  assert state_a["cov"].shape == (3, 3)
  assert state_a["tile"].ndim == 3 and state_a["tile"].shape[-1] == 3
  blob = pickle.dumps(state_a)
  assert len(blob) < 300_000
  again = stylizer.style_step(style_a)
  for key, value in pickle.loads(blob).items():
    assert np.array_equal(value, again[key]), key


def test_batch_uses_each_elements_own_style(stylizer, content, style_a, style_b, state_a):
  state_b = stylizer.style_step(style_b)
  x = np.stack([as_float(content), as_float(content)])
  out = stylizer.content_step(x, [state_a, state_b], [1.0, 1.0])
  ma, mb = colour_mean(style_a), colour_mean(style_b)
  m0, m1 = colour_mean(out[0]), colour_mean(out[1])
  assert np.linalg.norm(m0 - ma) < np.linalg.norm(m0 - mb)
  assert np.linalg.norm(m1 - mb) < np.linalg.norm(m1 - ma)
  # Batching must not mix elements: each equals its single-image render.
  single_b = stylizer.content_step(x[1:], [state_b], [1.0])[0]
  np.testing.assert_allclose(out[1], single_b, atol=1e-4)


@pytest.mark.parametrize("hw", [(16, 16), (61, 100), (90, 37)])
def test_non_square_and_small_sizes(stylizer, state_a, hw):
  c = make_content(*hw)
  out = stylizer.content_step(as_float(c)[None], [state_a], [1.0])[0]
  assert out.shape == c.shape
  assert np.isfinite(out).all()
  assert np.abs(out - as_float(c)).mean() > 0.05


def test_greyscale_style_and_content(stylizer, content, style_a):
  grey_style = np.asarray(Image.fromarray(style_a).convert("L"))      # HxW uint8
  state = stylizer.style_step(grey_style)
  assert all(np.isfinite(v.astype(np.float32)).all() for v in state.values())
  out = stylizer.content_step(as_float(content)[None], [state], [1.0])[0]
  assert np.isfinite(out).all()
  assert out.std(axis=-1).mean() < 0.03            # a grey style gives a grey result

  grey_content = np.repeat(np.asarray(Image.fromarray(content).convert("L"))[..., None],
                           3, axis=-1)
  out = stylizer.stylize(grey_content, style_a)
  assert out.dtype == np.uint8 and out.shape == grey_content.shape


def test_stylize_convenience(stylizer, content, style_a, out_a):
  out = stylizer.stylize(content, style_a)
  assert out.dtype == np.uint8
  assert np.abs(out.astype(np.float32) / 255.0 - out_a).max() <= 1.0 / 255 + 1e-6


# --------------------------------------------------------------- real data (../shared)


def _load_square(path, side: int = 256) -> np.ndarray:
  with Image.open(path) as im:
    im = im.convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return np.asarray(im.resize((side, side), Image.Resampling.BILINEAR))


def _load_rgb(path) -> np.ndarray:
  with Image.open(path) as im:
    return np.asarray(im.convert("RGB"))


def test_real_photos_take_painting_palette(stylizer, coco_images_dir, paintings_dir):
  photos = sorted((coco_images_dir / "train2017").glob("*.jpg"))[:2]
  paintings = sorted(paintings_dir.glob("*.jpg"))[:2]
  if len(photos) < 2 or len(paintings) < 2:
    pytest.skip("needs 2 COCO photos and 2 paintings")
  contents = np.stack([as_float(_load_square(p)) for p in photos])
  styles = [_load_rgb(p) for p in paintings]
  states = [stylizer.style_step(s) for s in styles]
  out = stylizer.content_step(contents, states, [1.0, 1.0])
  assert out.shape == contents.shape and np.isfinite(out).all()
  for c, o, s in zip(contents, out, styles):
    assert np.abs(o - c).mean() > 0.05
    target = colour_mean(s)
    assert (np.linalg.norm(colour_mean(o) - target)
            < 0.75 * np.linalg.norm(colour_mean(c) - target))
