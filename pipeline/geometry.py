"""Where each resize policy puts a photo in a square view: one geometry for pixels and
boxes.

`image_io.resize_to_square` resamples with it and `annotations` maps boxes with it, so
an annotation lands exactly where its object's pixels do (tests/test_annotations.py).
"""

from __future__ import annotations

import dataclasses

RESIZE_POLICIES = ("center_crop", "pad", "stretch")
PAD_VALUE = 128


@dataclasses.dataclass(frozen=True)
class SquareLayout:
  """Where a resize policy puts a w x h photo in a size x size view.

  `source_box` (left, top, right, bottom, source pixels) is resampled to `placed`
  (width, height) view pixels, pasted at `offset` (x, y); the rest of the view is
  padding. A point (x, y) of the photo lands at `to_view(x, y)`.
  """
  source_box: tuple[float, float, float, float]
  placed: tuple[int, int]
  offset: tuple[int, int]
  size: int

  @property
  def scale(self) -> tuple[float, float]:
    l, t, r, b = self.source_box
    return self.placed[0] / (r - l), self.placed[1] / (b - t)

  def to_view(self, x, y):
    """Photo pixel coordinates (continuous, corner at 0) -> view pixel coordinates."""
    sx, sy = self.scale
    return ((x - self.source_box[0]) * sx + self.offset[0],
            (y - self.source_box[1]) * sy + self.offset[1])

  def to_photo(self, x, y):
    """The inverse of `to_view`."""
    sx, sy = self.scale
    return ((x - self.offset[0]) / sx + self.source_box[0],
            (y - self.offset[1]) / sy + self.source_box[1])


def square_layout(w: int, h: int, size: int, policy: str = "center_crop") -> SquareLayout:
  """The geometry of `resize_to_square` for a w x h photo (the one place it is set)."""
  if int(size) != size or size < 1:
    raise ValueError(f"size must be a positive integer, got {size!r}")
  size = int(size)
  if policy == "center_crop":
    s = min(w, h)
    return SquareLayout(((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2),
                        (size, size), (0, 0), size)
  if policy == "pad":
    scale = size / max(w, h)
    nw, nh = max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale)))
    return SquareLayout((0, 0, w, h), (nw, nh), ((size - nw) // 2, (size - nh) // 2),
                        size)
  if policy == "stretch":
    return SquareLayout((0, 0, w, h), (size, size), (0, 0), size)
  raise ValueError(f"unknown resize policy {policy!r}; expected one of {RESIZE_POLICIES}")
