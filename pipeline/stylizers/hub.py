"""Any model with the Magenta TF-Hub call convention: `model(content, style)[0]`.

That covers the published arbitrary-image-stylization-v1-256 handle and local SavedModels
(including the ones `export.export_hub_savedmodel` writes, which is how tests run offline).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Sequence

import numpy as np
from PIL import Image

from pipeline.stylizers.base import Stylizer, StylizerConfigError

#: The published model was trained with 256x256 styles; other sizes change the result.
STYLE_SIZE = 256


def _is_remote(handle: str) -> bool:
  return "://" in handle or handle.startswith("https")


class HubStylizer(Stylizer):
  """Wraps `tensorflow_hub.load(handle)`; a style state is the style resized to 256x256.

  The published model has no strength input, so strength is a pixel-space blend:
  output = strength * model(content, style) + (1 - strength) * content.
  """

  name = "hub"

  def __init__(self, handle: str):
    self.handle = str(handle)
    self._model = None
    self._version: str | None = None

  # ---------------------------------------------------------------- config

  @property
  def version(self) -> str:
    if self._version is None:
      if _is_remote(self.handle):
        self._version = self.handle
      else:
        path = os.path.abspath(self.handle)
        pb = os.path.join(path, "saved_model.pb")
        digest = "missing"
        if os.path.isfile(pb):
          with open(pb, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        self._version = f"{os.path.basename(path.rstrip(os.sep))}@{digest}"
    return self._version

  def validate(self) -> None:
    """Checks a local SavedModel dir; remote handles can't be checked offline."""
    if _is_remote(self.handle):
      return
    path = os.path.abspath(self.handle)
    if not os.path.isdir(path):
      raise StylizerConfigError(f"hub: SavedModel directory {path} does not exist")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
      raise StylizerConfigError(
          f"hub: {path} has no saved_model.pb; expected a TF SavedModel directory")

  def load(self) -> None:
    if self._model is not None:
      return
    import tensorflow_hub as hub  # Deferred: importing TF costs seconds.
    try:
      self._model = hub.load(self.handle)
    except Exception as e:  # hub/TF raise many types (OSError, ValueError, NotFound...).
      raise StylizerConfigError(f"hub: cannot load {self.handle!r}: {e}") from e

  # ---------------------------------------------------------------- the two halves

  def style_step(self, style_rgb: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> float32 [256,256,3] in [0,1].

    Resized with Pillow's bilinear filter, which antialiases when downscaling (plain
    tf.image.resize would alias a large painting); the aspect ratio is not kept, as in
    the Magenta demo.
    """
    a = np.asarray(style_rgb)
    if a.dtype != np.uint8:  # Tolerate float [0, 1] input, like the classical stylizer.
      a = np.clip(np.rint(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
      a = a[..., None]
    if a.shape[-1] == 1:
      a = np.repeat(a, 3, axis=-1)
    a = np.ascontiguousarray(a[..., :3])
    if a.shape[:2] != (STYLE_SIZE, STYLE_SIZE):
      a = np.asarray(Image.fromarray(a).resize((STYLE_SIZE, STYLE_SIZE),
                                               Image.Resampling.BILINEAR))
    return a.astype(np.float32) / 255.0

  def content_step(self, contents: np.ndarray, states: Sequence[Any],
                   strengths: Sequence[float]) -> np.ndarray:
    """Runs the model once per distinct style state, on all contents sharing it."""
    contents = np.asarray(contents, np.float32)
    n, h, w = contents.shape[:3]
    if len(states) != n or len(strengths) != n:
      raise ValueError(f"{n} contents but {len(states)} states, {len(strengths)} strengths")
    if n == 0:
      return contents.copy()
    import tensorflow as tf  # Deferred: importing TF costs seconds.
    self.load()

    groups: dict[bytes, list[int]] = {}
    for i, state in enumerate(states):
      s = np.ascontiguousarray(state, np.float32)
      key = hashlib.sha1(s.tobytes()).digest() + str(s.shape).encode()
      groups.setdefault(key, []).append(i)

    out = np.empty_like(contents)
    for idx in groups.values():
      style = np.asarray(states[idx[0]], np.float32)[None]
      result = self._model(tf.constant(contents[idx]), tf.constant(style))[0]
      if tuple(result.shape[1:3]) != (h, w):
        result = tf.image.resize(result, (h, w), method="bilinear")
      out[idx] = np.asarray(result, np.float32)

    s = np.asarray(strengths, np.float32)[:, None, None, None]
    return np.clip(s * out + (1.0 - s) * contents, 0.0, 1.0)
