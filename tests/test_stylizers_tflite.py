"""The real Magenta TF Lite pair on real COCO photos and real paintings.

Thresholds below were measured on this data (first 3 sorted train2017 photos, first 2
sorted AIC paintings) and set with margin, so they fail if the model stops stylizing.
"""

from __future__ import annotations

import hashlib
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from pipeline.stylizers import from_spec
from pipeline.stylizers.base import StylizerConfigError
from pipeline.stylizers.tflite import TFLiteStylizer


def _load(path, size: int | None = None) -> np.ndarray:
  """uint8 RGB; with size, centre-crop to square then resize, like the job's contents."""
  im = Image.open(path).convert("RGB")
  if size:
    w, h = im.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BILINEAR)
  return np.asarray(im)


def _mean_std(x: np.ndarray) -> np.ndarray:
  flat = x.reshape(-1, 3).astype(np.float64)
  return np.concatenate([flat.mean(0), flat.std(0)])


def _hist(x: np.ndarray, bins: int = 8) -> np.ndarray:
  """Normalised joint RGB histogram (8x8x8) of a [0,1] image."""
  q = np.clip((x.reshape(-1, 3) * bins).astype(int), 0, bins - 1)
  h = np.bincount(q[:, 0] * bins * bins + q[:, 1] * bins + q[:, 2], minlength=bins ** 3)
  return h / h.sum()


@pytest.fixture(scope="module")
def stylizer(magenta_tflite_dir):
  s = TFLiteStylizer(magenta_tflite_dir)
  s.validate()
  s.load()
  return s


@pytest.fixture(scope="module")
def contents(coco_images_dir) -> np.ndarray:
  paths = sorted((coco_images_dir / "train2017").glob("*.jpg"))[:3]
  assert len(paths) == 3
  return np.stack([_load(p, 256) for p in paths]).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def styles(paintings_dir) -> list[np.ndarray]:
  paths = sorted(paintings_dir.glob("*.jpg"))[:2]
  assert len(paths) == 2
  return [_load(p) for p in paths]


@pytest.fixture(scope="module")
def states(stylizer, styles) -> list[np.ndarray]:
  return [stylizer.style_step(s) for s in styles]


@pytest.mark.slow
def test_stylizes_real_photos_toward_painting_colours(stylizer, contents, styles, states):
  # Measured: MAD 0.14-0.24; mean+std distance to the style shrinks to 0.13-0.44 of the
  # content's, joint-histogram L1 to 0.22-0.56. The unstylized strength-0 render scores
  # 0.79-1.06 and 0.94-1.10, so the 0.6 / 0.75 bounds do separate style from no style.
  for style, state in zip(styles, states):
    style01 = style.astype(np.float32) / 255.0
    out = stylizer.content_step(contents, [state] * len(contents), [1.0] * len(contents))
    assert out.shape == contents.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    for content, stylized in zip(contents, out):
      assert np.abs(stylized - content).mean() > 0.05
      d_content = np.linalg.norm(_mean_std(content) - _mean_std(style01))
      d_output = np.linalg.norm(_mean_std(stylized) - _mean_std(style01))
      assert d_output < 0.6 * d_content, (d_output, d_content)
      h_content = np.abs(_hist(content) - _hist(style01)).sum()
      h_output = np.abs(_hist(stylized) - _hist(style01)).sum()
      assert h_output < 0.75 * h_content, (h_output, h_content)


@pytest.mark.slow
def test_style_step_is_a_deterministic_distinct_bottleneck(stylizer, styles, states):
  for state in states:
    assert state.shape == (100,) and state.dtype == np.float32
    assert np.isfinite(state).all()
  np.testing.assert_array_equal(stylizer.style_step(styles[0]), states[0])
  # Measured: the two bottlenecks are 4.4 apart with norms 6.7 and 8.4.
  assert np.linalg.norm(states[0] - states[1]) > 0.3 * np.linalg.norm(states[0])


@pytest.mark.slow
def test_strength_zero_stays_near_content(stylizer, contents, states):
  # Measured MAD to content: strength 0 -> 0.065-0.152, 0.5 -> 0.106-0.165,
  # 1 -> 0.173-0.231 (Magenta re-renders the content; it is not an identity).
  n = len(contents)
  mads = {}
  for strength in (0.0, 0.5, 1.0):
    out = stylizer.content_step(contents, [states[0]] * n, [strength] * n)
    mads[strength] = np.abs(out - contents).mean(axis=(1, 2, 3))
  assert (mads[0.0] < 0.8 * mads[1.0]).all(), mads
  assert (mads[0.0] < mads[0.5]).all() and (mads[0.5] < mads[1.0]).all(), mads
  assert (mads[0.0] < 0.2).all(), mads


@pytest.mark.slow
def test_batch_elements_get_their_own_style(stylizer, contents, states):
  batch = stylizer.content_step(contents[:2], states, [1.0, 1.0])
  for i in range(2):
    single = stylizer.content_step(contents[i:i + 1], [states[i]], [1.0])[0]
    np.testing.assert_allclose(batch[i], single, atol=1e-5)
    other = stylizer.content_step(contents[i:i + 1], [states[1 - i]], [1.0])[0]
    assert np.abs(batch[i] - other).mean() > 0.05  # measured ~0.20


@pytest.mark.slow
def test_non_square_content_keeps_its_size(stylizer, coco_images_dir, states):
  photo = _load(sorted((coco_images_dir / "train2017").glob("*.jpg"))[0])
  x = photo[None].astype(np.float32) / 255.0
  out = stylizer.content_step(x, [states[0]], [1.0])
  assert out.shape == x.shape


def test_validate_names_the_missing_file(tmp_path, magenta_tflite_dir):
  with pytest.raises(StylizerConfigError, match="does not exist"):
    TFLiteStylizer(tmp_path / "nope").validate()
  with pytest.raises(StylizerConfigError, match="prediction_int8.tflite"):
    TFLiteStylizer(tmp_path).validate()
  shutil.copy(magenta_tflite_dir / "prediction_int8.tflite", tmp_path)
  with pytest.raises(StylizerConfigError,
                     match=r"transfer_fp16\.tflite or transfer_int8\.tflite.*" +
                     re.escape(str(tmp_path))):
    TFLiteStylizer(tmp_path).validate()
  with pytest.raises(StylizerConfigError, match="transfer"):
    TFLiteStylizer(tmp_path, transfer="fp32")


def test_falls_back_to_int8_transfer(tmp_path, magenta_tflite_dir):
  for name in ("prediction_int8.tflite", "transfer_int8.tflite"):
    shutil.copy(magenta_tflite_dir / name, tmp_path)
  s = TFLiteStylizer(tmp_path)
  s.validate()
  pair = hashlib.sha256((tmp_path / "prediction_int8.tflite").read_bytes()
                        + (tmp_path / "transfer_int8.tflite").read_bytes()).hexdigest()
  assert s.version.endswith(f"+transfer_int8@{pair[:12]}")  # both halves identify it
  assert "+transfer_int8@" in TFLiteStylizer(magenta_tflite_dir, transfer="int8").version


def test_load_wraps_a_corrupt_model(tmp_path):
  rng = np.random.default_rng(0)
  for name in ("prediction_int8.tflite", "transfer_fp16.tflite"):
    (tmp_path / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
  s = TFLiteStylizer(tmp_path)
  s.validate()  # the files exist; only loading can tell they are not models
  with pytest.raises(StylizerConfigError, match=re.escape(str(tmp_path))):
    s.load()


@pytest.mark.slow
def test_from_spec_builds_a_working_stylizer(magenta_tflite_dir, contents, styles):
  s = from_spec("tflite:" + str(magenta_tflite_dir))
  assert isinstance(s, TFLiteStylizer) and s.name == "tflite"
  s.validate()
  pair = hashlib.sha256((magenta_tflite_dir / "prediction_int8.tflite").read_bytes()
                        + (magenta_tflite_dir / "transfer_fp16.tflite").read_bytes())
  assert s.version == ("magenta_v1_256/prediction_int8+transfer_fp16@"
                       + pair.hexdigest()[:12])
  content = np.rint(contents[0] * 255).astype(np.uint8)
  out = s.stylize(content, styles[0])
  assert out.shape == content.shape and out.dtype == np.uint8
  assert np.abs(out.astype(float) - content).mean() > 0.05 * 255


@pytest.mark.slow
def test_thread_count_is_a_speed_knob_not_a_result(magenta_tflite_dir, stylizer, contents,
                                                    styles, states, monkeypatch):
  """The local job gives each worker cores // workers threads; outputs must not change,
  or shards would differ between runner modes and machines."""
  from pipeline.stylizers import tflite
  one = from_spec(f"tflite:{magenta_tflite_dir}?threads=1")
  assert one.num_threads == 1 and one.model_dir == str(magenta_tflite_dir)
  one.load()
  np.testing.assert_array_equal(one.style_step(styles[0]), states[0])
  two = TFLiteStylizer(magenta_tflite_dir, num_threads=2)
  two.load()
  np.testing.assert_array_equal(one.content_step(contents[:2], states, [1.0, 0.5]),
                                two.content_step(contents[:2], states, [1.0, 0.5]))
  monkeypatch.setenv(tflite.THREADS_ENV, "3")
  assert tflite.default_threads() == 3
  monkeypatch.setenv(tflite.THREADS_ENV, "0")
  with pytest.raises(StylizerConfigError, match="STYLIZE_TFLITE_THREADS"):
    tflite.default_threads()


@pytest.mark.parametrize("spec", ["tflite:models?threads=0", "tflite:models?thread=2",
                                  "tflite:models?threads=x", "tflite:?threads=1"])
def test_spec_options_are_checked(spec):
  with pytest.raises(StylizerConfigError, match="threads"):
    from_spec(spec)


@pytest.mark.parametrize("shape, size", [((256, 256), (384, 384)), ((384, 384), (256, 256)),
                                         ((900, 1203), (256, 256)), ((97, 130), (384, 384))])
def test_resize_is_tensorflows_antialiased_bilinear(shape, size):
  """The pair's resize is Pillow's, so workers need no TensorFlow; it must stay the
  filter Magenta's preprocessing (tf.image.resize, antialiased) uses."""
  import tensorflow as tf
  from pipeline.stylizers.preprocess import resize
  image = np.random.default_rng(sum(shape)).random((*shape, 3), dtype=np.float32)
  ours = resize(image, *size)
  theirs = tf.image.resize(image, size, method="bilinear", antialias=True).numpy()
  assert ours.shape == (*size, 3) and ours.dtype == np.float32
  np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.slow
def test_stylizing_does_not_start_tensorflow(magenta_tflite_dir, paintings_dir,
                                             coco_images_dir):
  """Each job worker would pay ~4.5 s (and ~1 GB) for an unused TensorFlow runtime."""
  import subprocess
  import sys
  from tests.conftest import ROOT
  photo = sorted((coco_images_dir / "train2017").glob("*.jpg"))[0]
  painting = sorted(paintings_dir.glob("*.jpg"))[0]
  code = (
      "import sys, numpy as np\n"
      "from PIL import Image\n"
      "from pipeline.stylizers import from_spec\n"
      f"s = from_spec({'tflite:' + str(magenta_tflite_dir) + '?threads=1'!r})\n"
      f"c = np.asarray(Image.open({str(photo)!r}).convert('RGB'))\n"
      f"st = np.asarray(Image.open({str(painting)!r}).convert('RGB'))\n"
      "out = s.stylize(c, st)\n"
      "assert out.shape == c.shape\n"
      "print('tensorflow' in sys.modules)\n")
  done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().splitlines()[-1] == "False"


def test_identity_names_the_published_network_not_the_folder(tmp_path, magenta_tflite_dir):
  """The same files in a folder of another name: the same version and identity, with
  each file's sha256 and what its flatbuffer says about the converter."""
  from pipeline.stylizers import identity
  for name in ("prediction_int8.tflite", "transfer_fp16.tflite"):
    shutil.copy(magenta_tflite_dir / name, tmp_path)
  here, there = TFLiteStylizer(tmp_path), TFLiteStylizer(magenta_tflite_dir)
  assert here.version == there.version and here.identity() == there.identity()
  got = here.identity()
  assert got["network"] == identity.MAGENTA_NETWORK and str(tmp_path) not in str(got)
  for entry in got["files"]:
    data = (tmp_path / entry["file"]).read_bytes()
    assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(data).hexdigest(),
                                                 len(data))
    assert entry["published_as"].startswith("https://tfhub.dev/google/lite-model/magenta/")
    assert entry["converter"]["description"] == "TOCO Converted."
