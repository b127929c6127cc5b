"""Image preparation shared by the Magenta stylizers (LiteRT pair and TF port).

One definition, so a painting yields the same network input, and so the same bottleneck
up to the int8-vs-float predictor, whichever Magenta path the job runs. Pure numpy and
Pillow: LiteRT workers never start TensorFlow.
"""

from __future__ import annotations

import numpy as np

#: The Magenta predictor was trained on 256x256 styles; other sizes change the result.
STYLE_SIZE = 256


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
  """float32 HxWx3 -> float32 height x width x 3.

  Bilinear with antialiasing: the same deterministic filter everywhere, and downscaling a
  large painting does not alias its brush texture (which the bottleneck would pick up).
  Pillow's float ("F") resampling is the triangle filter `tf.image.resize(...,
  antialias=True)` uses (outputs agree to 2e-5), without starting TensorFlow in every
  worker process (~4.5 s each).
  """
  if image.shape[0] == height and image.shape[1] == width:
    return image
  from PIL import Image
  channels = [Image.fromarray(np.ascontiguousarray(image[..., c], np.float32), "F")
              .resize((width, height), Image.Resampling.BILINEAR)
              for c in range(image.shape[-1])]
  return np.stack([np.asarray(c, np.float32) for c in channels], axis=-1)


def center_crop_square(image: np.ndarray) -> np.ndarray:
  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return image[top:top + side, left:left + side]


def as_rgb(image: np.ndarray) -> np.ndarray:
  """Accepts greyscale and RGBA too: a few public-domain paintings are greyscale."""
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
    raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return image[..., :3]


def unit_rgb(image: np.ndarray) -> np.ndarray:
  """uint8 (or float in [0, 1]) greyscale/RGB/RGBA -> float32 HxWx3 in [0, 1]."""
  image = as_rgb(image)
  if image.dtype == np.uint8:
    return image.astype(np.float32) / 255.0
  return np.clip(image.astype(np.float32), 0.0, 1.0)


def predictor_input(image01: np.ndarray) -> np.ndarray:
  """float32 HxWx3 in [0,1] -> the 256x256 centre crop the predictor sees, as in the
  Magenta demo (crop to a square, then resize)."""
  return resize(center_crop_square(image01), STYLE_SIZE, STYLE_SIZE)
