"""Shared fixtures. Tests that need ../shared (real model, real photos) skip without it."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("STYLIZED_SHARED_DIR", ROOT.parent / "shared"))


def _need(path: pathlib.Path) -> pathlib.Path:
  if not path.exists():
    pytest.skip(f"needs {path} (the project's ../shared data); absent on this machine")
  return path


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
  return _need(SHARED)


@pytest.fixture(scope="session")
def magenta_tflite_dir() -> pathlib.Path:
  return _need(SHARED / "models" / "magenta_v1_256_tflite")


@pytest.fixture(scope="session")
def coco_images_dir() -> pathlib.Path:
  return _need(SHARED / "data" / "coco256" / "images")


@pytest.fixture(scope="session")
def paintings_dir() -> pathlib.Path:
  return _need(SHARED / "data" / "paintings_aic" / "images")


def write_photos(folder: pathlib.Path, n: int, seed: int = 0, size=(96, 128)) -> list:
  """n small seeded JPEG 'photos' (blocks of colour over a gradient) in folder."""
  import numpy as np
  from PIL import Image
  rng = np.random.default_rng(seed)
  folder.mkdir(parents=True, exist_ok=True)
  paths = []
  h, w = size
  for i in range(n):
    img = np.zeros((h, w, 3), np.float32)
    img[...] = np.linspace(0, 1, w)[None, :, None] * rng.uniform(0, 255, 3)
    y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
    img[y:y + h // 3, x:x + w // 3] = rng.uniform(0, 255, 3)
    path = folder / f"photo_{i:03d}.jpg"
    Image.fromarray(img.astype(np.uint8)).save(path, quality=92)
    paths.append(path)
  return paths


def write_styles(folder: pathlib.Path, n: int, seed: int = 1, size: int = 64) -> list:
  """n seeded PNG 'paintings': a distinct palette and stripe texture each."""
  import numpy as np
  from PIL import Image
  rng = np.random.default_rng(seed)
  folder.mkdir(parents=True, exist_ok=True)
  paths = []
  yy, xx = np.mgrid[:size, :size]
  for j in range(n):
    period = 4 + 3 * j
    stripes = ((xx + yy * (j % 3)) // period) % 2
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = np.where(stripes[..., None] == 1, a, b) + rng.normal(0, 12, (size, size, 3))
    path = folder / f"style_{j:02d}.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    paths.append(path)
  return paths


def make_stripes_style(palette=((0.9, 0.45, 0.1), (0.35, 0.05, 0.45)), seed: int = 1,
                       size: int = 256):
  """Two-colour diagonal stripes (period ~6 px) plus noise: a strong palette and
  texture, as uint8 HxWx3. At 256x256 HubStylizer's resize is the identity."""
  import numpy as np
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:size, 0:size].astype(np.float32)
  t = 0.5 + 0.5 * np.sin((x + 0.6 * y) * 2 * np.pi / 6.0)
  a, b = (np.asarray(c, np.float32) for c in palette)
  img = t[..., None] * a + (1 - t[..., None]) * b
  img += rng.normal(0.0, 0.06, img.shape).astype(np.float32)
  return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def magenta_tf_dir(magenta_tflite_dir, tmp_path_factory) -> pathlib.Path:
  """The Magenta TF Lite pair exported once per test session as a SavedModel (~10 s)."""
  from pipeline.stylizers import magenta_tf
  out = tmp_path_factory.mktemp("magenta_tf") / "model"
  return pathlib.Path(magenta_tf.export(str(magenta_tflite_dir), str(out)))
