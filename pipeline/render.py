"""One shard's contents -> its records, in order: the job's unit of work, without Beam.

For each content of the shard (in content-id order) the photo is decoded once, its K
stylized views are queued for the stylizer, and full batches (`batch_size` views, from
one or several contents) go through `content_step` in one call. Records come out in
the shard's order: contents ascending, each content's views in ascending view_index.
Memory holds one batch of views, whatever the shard's size.

Nothing is lost silently: a content that cannot be decoded, or that no style can be
used for, becomes one dead letter; a batch whose call raises is retried one view at a
time, so only the views that fail on their own are dead-lettered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import traceback
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from pipeline import annotations, image_io, plan
from pipeline.manifest import ContentEntry
from pipeline.records import dead_letter
from pipeline.sources import StyleItem

Counter = Callable[..., None]


@dataclasses.dataclass(frozen=True)
class RenderConfig:
  image_size: int = 256
  resize_policy: str = "center_crop"
  max_pixels: int = image_io.DEFAULT_MAX_PIXELS
  styles_per_content: int = 4
  include_original: bool = False
  strength: float = 1.0
  batch_size: int = 8


@dataclasses.dataclass
class View:
  """A finished view: uint8 pixels ready to encode (style None: the original), and
  the label and object fields of its record (annotations.view_fields)."""
  content: ContentEntry
  view_index: int
  style: Optional[StyleItem]
  pixels: Optional[np.ndarray] = None
  labels: Mapping = dataclasses.field(default_factory=dict)


def load_content(content: ContentEntry, max_pixels: int) -> np.ndarray:
  """The content's photo as uint8 HxWx3, from its file or its source's record."""
  record = content.source_record
  if record:  # the image lives inside a source shard (TFDS): read that one record
    from pipeline import tfds_coco
    data = tfds_coco.read_image_at(record["file"], record["offset"])
    return image_io.decode_image(data, max_pixels=max_pixels)
  return image_io.load_image(content.uri, max_pixels=max_pixels)


def _no_count(name: str, n: int = 1) -> None:
  del name, n


class ShardRenderer:
  """Renders shards with one loaded stylizer.

  `style_of(style_id)` returns (the style's manifest entry, its state); the job backs it
  with the side input and a per-worker cache. `count(name, n)` receives the job's
  counters (contents_read, views_stylized, content_step_calls, ...).
  """

  def __init__(self, stylizer, style_of: Callable[[int], tuple[StyleItem, Any]],
               cfg: RenderConfig, count: Counter = _no_count, lock=None):
    self._stylizer, self._style_of, self._cfg = stylizer, style_of, cfg
    self._count = count
    self._lock = lock or contextlib.nullcontext()

  def render(self, contents: Iterable[ContentEntry],
             pools: Mapping[str, Sequence[int]]) -> Iterator[View | dict]:
    """Yields a View per written view, in shard order, and a dict per dead letter."""
    cfg = self._cfg
    pending: list[View] = []   # finished or queued views, in output order
    batch: list[tuple[View, np.ndarray, Any]] = []  # queued: (view, content px, state)
    for content in contents:
      views = plan.views_for(content, pools, cfg.styles_per_content,
                             cfg.include_original)
      if not any(sid is not None for _, sid in views) and not cfg.include_original:
        self._count("contents_failed")
        yield dead_letter("content", content.uri, "no_usable_style",
                          "no style image could be used for this content",
                          content_id=content.content_id)
        continue
      try:
        rgb = load_content(content, cfg.max_pixels)
        pixels = image_io.resize_to_square(rgb, cfg.image_size, cfg.resize_policy)
        # Every view of a content shares its geometry, hence its labels and boxes.
        labels = annotations.view_fields(content, (rgb.shape[1], rgb.shape[0]),
                                         cfg.image_size, cfg.resize_policy)
      except image_io.ImageError as e:
        self._count("contents_failed")
        yield dead_letter("content", content.uri, e.reason, str(e),
                          content_id=content.content_id)
        continue
      self._count("contents_read")
      for view_index, style_id in views:
        if style_id is None:
          pending.append(View(content, view_index, None, pixels, labels))
          continue
        style, state = self._style_of(style_id)
        view = View(content, view_index, style, labels=labels)
        pending.append(view)
        batch.append((view, pixels, state))
        if len(batch) == cfg.batch_size:
          yield from self._flush(pending, batch)
    yield from self._flush(pending, batch)

  def _flush(self, pending: list[View], batch: list) -> Iterator[View | dict]:
    failed = self._stylize(batch) if batch else []
    failed_ids = {id(view) for view, _ in failed}
    yield from (d for _, d in failed)
    for view in pending:
      if id(view) not in failed_ids:
        if view.style is None:
          self._count("originals_written")
        else:
          self._count("views_stylized")
        yield view
    pending.clear()
    batch.clear()

  def _call(self, items: Sequence[tuple[View, np.ndarray, Any]]) -> np.ndarray:
    x = np.stack([px for _, px, _ in items]).astype(np.float32) / 255.0
    self._count("content_step_calls")
    with self._lock:
      out = self._stylizer.content_step(x, [s for _, _, s in items],
                                        [self._cfg.strength] * len(items))
    return image_io.to_uint8(out)

  def _stylize(self, batch: list) -> list[tuple[View, dict]]:
    """Fills each queued view's pixels; returns (view, dead letter) for the failures."""
    try:
      for (view, _, _), px in zip(batch, self._call(batch)):
        view.pixels = px
      return []
    except Exception:  # retry one by one: only the views that fail alone are lost
      self._count("batches_retried")
    failed = []
    for item in batch:
      view = item[0]
      try:
        view.pixels = self._call([item])[0]
      except Exception as exc:
        self._count("views_failed")
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failed.append((view, dead_letter(
            "stylize", view.content.uri, "stylize_failed", message,
            content_id=view.content.content_id, style_uri=view.style.uri,
            view_index=view.view_index)))
    return failed
