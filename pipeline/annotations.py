"""A photo's object annotations mapped into one view: boxes, visible shares, labels.

A view is the photo after the dataset's resize policy (`geometry.square_layout`, the
same geometry `resize_to_square` resamples with), so a box drawn on the view must go
through exactly that geometry. For every annotation the record keeps its box in view
pixels, clipped to the view, and the fraction of its box area that stayed inside.

The view's labels follow from that: a category is a view label when at least one of
its boxes keeps `VISIBLE_MIN` of its area (tfrecords_schema.fields documents the
threshold); the view's primary label is the category with the largest visible area
(annotated area x kept fraction, summed over its visible boxes; ties to the smaller
id). A photo whose every box is inside the view gets the photo's labels back exactly.

Annotations are given in the frame of the annotation file (COCO `images[].width`,
`height`); a decoded photo of another size with the same aspect ratio (a resized copy)
is scaled to it. A photo whose aspect ratio differs (e.g. an EXIF rotation the file
does not apply) cannot be placed: its record keeps the photo-level labels only.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from pipeline import geometry
from pipeline.sources import ContentItem
from tfrecords_schema.fields import (ANNOTATIONS_BOXES, ANNOTATIONS_IMAGE_LEVEL,
                                     ANNOTATIONS_NONE, VISIBLE_MIN)

#: Relative aspect-ratio difference up to which the decoded photo is taken to be a
#: resized copy of the annotated one (rounding a side to whole pixels).
_ASPECT_TOLERANCE = 0.02


@dataclasses.dataclass(frozen=True)
class Box:
  """One annotation in the annotation file's frame: bbox (x, y, width, height)."""
  annotation_id: int
  category_id: int
  iscrowd: int
  x: float
  y: float
  w: float
  h: float
  area: float  # the annotated (segmentation) area, as the file gives it

  def as_list(self) -> list:
    """The compact form a content manifest carries (JSON)."""
    return [self.annotation_id, self.category_id, self.iscrowd, self.x, self.y, self.w,
            self.h, self.area]

  @classmethod
  def from_list(cls, v: Sequence) -> "Box":
    return cls(int(v[0]), int(v[1]), int(v[2]), *(float(x) for x in v[3:8]))


def map_box(layout: geometry.SquareLayout, x0: float, y0: float, x1: float,
            y1: float) -> tuple[tuple[float, float, float, float], float]:
  """A photo box (corners) -> (its view box clipped to the view, kept area fraction).

  The fraction is measured in view pixels (clipped area over unclipped area); a box of
  no area is kept whole when its point lies inside the view."""
  (vx0, vy0), (vx1, vy1) = layout.to_view(x0, y0), layout.to_view(x1, y1)
  s = layout.size
  cx0, cy0 = min(max(vx0, 0.0), s), min(max(vy0, 0.0), s)
  cx1, cy1 = min(max(vx1, 0.0), s), min(max(vy1, 0.0), s)
  full = (vx1 - vx0) * (vy1 - vy0)
  if full > 0:
    kept = (cx1 - cx0) * (cy1 - cy0) / full
  else:
    kept = float(0 <= vx0 <= s and 0 <= vy0 <= s)
  # As stored (float32), so a reader comparing with VISIBLE_MIN decides as the writer.
  return (cx0, cy0, cx1, cy1), float(np.float32(min(1.0, max(0.0, kept))))


def _frame_scale(frame: Sequence[int], w: int, h: int) -> tuple[float, float] | None:
  """Annotation frame -> decoded photo scale, or None when the two cannot match."""
  fw, fh = frame
  if (fw, fh) == (1, 1):  # boxes given as fractions of the photo's size (TFDS)
    return float(w), float(h)
  if fw <= 0 or fh <= 0:
    return None
  if (fw, fh) == (w, h):
    return 1.0, 1.0
  if abs((w / h) / (fw / fh) - 1) > _ASPECT_TOLERANCE:
    return None
  return w / fw, h / fh


def _labels(ids: Sequence[int], primary: int, names: Mapping[int, tuple[str, str]],
            prefix: str) -> dict:
  return {f"{prefix}_label_ids": list(ids),
          f"{prefix}_label_names": [names[i][0] for i in ids],
          f"{prefix}_primary_label_id": primary,
          f"{prefix}_primary_label": names[primary][0] if primary in names else "",
          f"{prefix}_supercategory": names[primary][1] if primary in names else ""}


def photo_labels(content: ContentItem) -> dict:
  """The photo-level label fields of a content (a manifest entry, or as listed)."""
  return {"photo_label_ids": list(content.label_ids),
          "photo_label_names": list(content.label_names),
          "photo_primary_label_id": content.primary_label_id,
          "photo_primary_label": content.primary_label,
          "photo_supercategory": content.supercategory}


def view_fields(content: ContentItem, photo_size: tuple[int, int], size: int,
                policy: str) -> dict:
  """Every label and object field of the records of one content's views.

  content: a manifest entry or a listed content (label_ids, label_names, label_supercategories, ...,
  `annotations_status`, `objects` as Box.as_list rows, `annotation_frame` (w, h));
  photo_size: the decoded photo's (width, height). A view's labels are among the
  photo's, so the photo's names name them."""
  w, h = photo_size
  out = photo_labels(content)
  out.update(photo_width=w, photo_height=h)
  status = content.annotations_status
  scale = _frame_scale(content.annotation_frame or (w, h), w, h)
  if status != ANNOTATIONS_BOXES or scale is None:
    # Image-level labels (a folder name; or boxes that cannot be placed) hold for the
    # view as they hold for the photo; unknown labels stay unknown.
    view = {k.replace("photo_", "view_", 1): v for k, v in out.items()
            if k.endswith(("label_ids", "label_names", "primary_label_id",
                           "primary_label", "supercategory"))}
    out.update(view, annotations_status=(ANNOTATIONS_NONE if status == ANNOTATIONS_NONE
                                         else ANNOTATIONS_IMAGE_LEVEL))
    return out
  layout = geometry.square_layout(w, h, size, policy)
  names = dict(zip(content.label_ids,
                   zip(content.label_names, content.label_supercategories)))
  objects = {k: [] for k in ("object_annotation_ids", "object_category_ids",
                             "object_iscrowd", "object_xmin", "object_ymin",
                             "object_xmax", "object_ymax", "object_visible_fraction")}
  visible: dict[int, float] = {}
  for row in content.objects:
    b = Box.from_list(row)
    box, kept = map_box(layout, b.x * scale[0], b.y * scale[1], (b.x + b.w) * scale[0],
                        (b.y + b.h) * scale[1])
    for key, v in zip(objects, (b.annotation_id, b.category_id, b.iscrowd, *box, kept)):
      objects[key].append(v)
    if kept >= VISIBLE_MIN:
      visible[b.category_id] = visible.get(b.category_id, 0.0) + b.area * kept
  primary = min(visible, key=lambda c: (-visible[c], c)) if visible else -1
  out.update(objects, annotations_status=ANNOTATIONS_BOXES,
             **_labels(sorted(visible), primary, names, "view"))
  return out
