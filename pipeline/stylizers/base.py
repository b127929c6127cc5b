"""The one interface every stylizer implements.

A stylizer splits its work in two so the job can do the expensive per-style part once:

* `style_step(style_rgb)` turns one style image into a small, picklable *style state*
  (a Magenta bottleneck, colour/texture statistics, a resized style image). The job calls
  it exactly once per distinct style and ships the state to every content of that style.
* `content_step(contents, states, strengths)` renders a batch of contents, each with its
  own state and blend strength.

Images cross this interface as numpy arrays: uint8 HxWx3 for inputs to `style_step`,
float32 [N,H,W,3] in [0, 1] for contents and outputs, so every stylizer is testable
without Beam and the job never needs to know which model is behind it.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import numpy as np


class StylizerConfigError(ValueError):
  """A stylizer spec or model path is unusable. Raised before any work starts."""


def check_batch(contents, states: Sequence[Any],
                strengths: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
  """content_step's arguments, checked alike for every stylizer: float32 [N,H,W,3]
  contents, one state and one strength in [0, 1] per content. Returns (contents,
  strengths) as float32 arrays."""
  contents = np.asarray(contents, np.float32)
  if contents.ndim != 4 or contents.shape[-1] != 3:
    raise ValueError(f"contents must be [N,H,W,3], got {contents.shape}")
  n = contents.shape[0]
  if len(states) != n or len(strengths) != n:
    raise ValueError(f"{n} contents but {len(states)} states, {len(strengths)} strengths")
  s = np.asarray(strengths, np.float32).reshape(n)
  if ((s < 0) | (s > 1)).any():
    raise ValueError(f"strengths must be in [0, 1], got {s.tolist()}")
  return contents, s


class Stylizer(abc.ABC):
  """Base class. Subclasses set `name` and implement the abstract methods."""

  #: Short registry name, as in the `--stylizer` flag prefix ("tflite", "hub", ...).
  name: str = ""

  @property
  @abc.abstractmethod
  def version(self) -> str:
    """Identifies the exact model (and weights) for the dataset card and records."""

  def identity(self) -> dict:
    """The public identity (pipeline.stylizers.identity): `network`, `published`
    handle, `license`, `format`, `files` [{file, bytes, sha256, published_as}], none
    of it naming the local folder the model was loaded from."""
    return {"network": "", "published": "", "license": "", "format": self.version,
            "files": []}

  def validate(self) -> None:
    """Cheap check of paths/config; raises StylizerConfigError. No model load."""

  def load(self) -> None:
    """Loads weights. Idempotent; called once per worker process by the job."""

  @abc.abstractmethod
  def style_step(self, style_rgb: np.ndarray) -> Any:
    """uint8 HxWx3 style image -> picklable style state (numpy array or dict of them)."""

  @abc.abstractmethod
  def content_step(self, contents: np.ndarray, states: Sequence[Any],
                   strengths: Sequence[float]) -> np.ndarray:
    """float32 [N,H,W,3] in [0,1] + N states + N strengths -> float32 [N,H,W,3] in [0,1].

    strength 1.0 is the full style, 0.0 returns (approximately) the content.
    The output has the same height and width as the input.
    """

  def stylize(self, content_rgb: np.ndarray, style_rgb: np.ndarray,
              strength: float = 1.0) -> np.ndarray:
    """Convenience for one uint8 content and one uint8 style -> uint8 HxWx3."""
    self.load()
    state = self.style_step(style_rgb)
    x = content_rgb.astype(np.float32)[None] / 255.0
    out = self.content_step(x, [state], [strength])[0]
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
