"""COCO 2017 as a content source: image files plus `instances_*.json` labels.

The annotation file is read once, at launch (train2017's is ~450 MB): polygons are
dropped while parsing, each image keeps only its label tuple, and workers receive the
labels inside the content manifest rather than a copy of the file.

Per image: the COCO image id is the content id; the labels are its categories
(multi-label, sorted by id); the primary label is the category with the largest total
annotated area (ties: the smaller id); the supercategory is the primary's. Images with
no annotations are kept with empty labels, marked as annotated (the file lists them:
they hold no objects). Each image also keeps its licence (id, name and URL from the
file's `licenses`) and its `coco_url` and `flickr_url`, so every record says under
which terms its photo may be used and whom to credit, and its annotations (id,
category, iscrowd, bbox, area) with the frame they are drawn in (`width`, `height`),
which workers map into each view (pipeline.annotations).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from typing import Iterable

from pipeline.annotations import Box
from pipeline.sources import ContentItem, SourceError, list_files, stable_id
from tfrecords_schema.fields import ANNOTATIONS_BOXES

NAME = "COCO 2017"
URL = "https://cocodataset.org"
CITATION = r"""@inproceedings{lin2014coco,
  title = {Microsoft {COCO}: Common Objects in Context},
  author = {Lin, Tsung-Yi and Maire, Michael and Belongie, Serge and Hays, James and
            Perona, Pietro and Ramanan, Deva and Doll{\'a}r, Piotr and Zitnick, C. Lawrence},
  booktitle = {European Conference on Computer Vision (ECCV)},
  pages = {740--755},
  year = {2014}
}"""


@dataclasses.dataclass(frozen=True)
class Category:
  id: int
  name: str
  supercategory: str


@dataclasses.dataclass(frozen=True)
class License:
  id: int
  name: str
  url: str


@dataclasses.dataclass(frozen=True)
class ImageInfo:
  """An image's licence id and public URLs, as `images[]` gives them."""
  license_id: int = -1
  coco_url: str = ""
  flickr_url: str = ""
  width: int = 0
  height: int = 0


@dataclasses.dataclass
class CocoLabels:
  """What the annotation file says, reduced to what the dataset needs."""
  categories: dict[int, Category]
  file_to_id: dict[str, int]
  image_labels: dict[int, tuple[int, ...]]      # image id -> sorted category ids
  image_primary: dict[int, int]                 # image id -> primary category id
  licenses: dict[int, License] = dataclasses.field(default_factory=dict)
  image_info: dict[int, ImageInfo] = dataclasses.field(default_factory=dict)
  image_boxes: dict[int, tuple] = dataclasses.field(default_factory=dict)  # Box lists

  def content_item(self, image_id: int, uri: str, rel_path: str) -> ContentItem:
    ids = self.image_labels.get(image_id, ())
    primary = self.image_primary.get(image_id, -1)
    cat = self.categories.get(primary)
    info = self.image_info.get(image_id, ImageInfo())
    lic = self.licenses.get(info.license_id)
    return ContentItem(
        content_id=image_id, uri=uri, rel_path=rel_path, label_ids=ids,
        label_names=tuple(self.categories[i].name for i in ids),
        label_supercategories=tuple(self.categories[i].supercategory for i in ids),
        annotations_status=ANNOTATIONS_BOXES,
        objects=self.image_boxes.get(image_id, ()),
        annotation_frame=(info.width, info.height),
        primary_label_id=primary, primary_label=cat.name if cat else "",
        supercategory=cat.supercategory if cat else "", source_url=info.coco_url,
        origin_url=info.flickr_url, license_id=info.license_id if lic else -1,
        license=lic.name if lic else "", license_url=lic.url if lic else "")

  def vocabulary(self) -> list[dict]:
    """Content label vocabulary for the dataset metadata (COCO ids are not dense)."""
    return [{"id": c.id, "name": c.name, "supercategory": c.supercategory}
            for c in sorted(self.categories.values(), key=lambda c: c.id)]


def _drop_polygons(obj: dict) -> dict:
  obj.pop("segmentation", None)
  return obj


def labels_from_annotations(images: Iterable[dict], annotations: Iterable[dict],
                            categories: Iterable[dict],
                            licenses: Iterable[dict] = ()) -> CocoLabels:
  """The pure part: COCO `images`, `annotations`, `categories` (and `licenses`) lists
  -> CocoLabels. An image whose licence id the file does not define has none."""
  cats = {int(c["id"]): Category(int(c["id"]), c["name"], c.get("supercategory", ""))
          for c in categories}
  images = list(images)
  file_to_id = {im["file_name"]: int(im["id"]) for im in images}
  lics = {int(x["id"]): License(int(x["id"]), x.get("name", ""), x.get("url", ""))
          for x in licenses}
  info = {int(im["id"]): ImageInfo(int(im.get("license", -1)), im.get("coco_url", ""),
                                   im.get("flickr_url", ""), int(im.get("width", 0)),
                                   int(im.get("height", 0))) for im in images}
  area: dict[int, dict[int, float]] = {}
  boxes: dict[int, list] = {}
  for a in annotations:
    per_image = area.setdefault(int(a["image_id"]), {})
    cid = int(a["category_id"])
    if cid not in cats:
      raise SourceError(f"annotation {a.get('id')} has unknown category_id {cid}")
    per_image[cid] = per_image.get(cid, 0.0) + float(a.get("area", 0.0))
    x, y, w, h = (float(v) for v in a.get("bbox", (0, 0, 0, 0)))
    boxes.setdefault(int(a["image_id"]), []).append(tuple(Box(
        int(a.get("id", -1)), cid, int(a.get("iscrowd", 0)), x, y, w, h,
        float(a.get("area", 0.0))).as_list()))
  labels = {img: tuple(sorted(per)) for img, per in area.items()}
  primary = {img: min(per, key=lambda c: (-per[c], c)) for img, per in area.items()}
  boxes_by_image = {img: tuple(sorted(rows)) for img, rows in boxes.items()}
  return CocoLabels(cats, file_to_id, labels, primary, lics, info, boxes_by_image)


def read_annotations(path: str) -> CocoLabels:
  """Reads an `instances_*.json` (local or gs://) once."""
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(path) as f:
      data = json.load(f, object_hook=_drop_polygons)
  except Exception as e:
    raise SourceError(f"cannot read COCO annotations {path!r}: {e}") from e
  missing = {"images", "annotations", "categories"} - set(data)
  if missing:
    raise SourceError(f"{path!r} is not a COCO instances file: lacks {sorted(missing)}")
  return labels_from_annotations(data["images"], data["annotations"], data["categories"],
                                 data.get("licenses", []))


def coco_contents(images: str, annotations: str) -> tuple[list[ContentItem], CocoLabels]:
  """Every file in `images`, labelled from `annotations`.

  A file the annotation file does not list is still an input (it is written or
  dead-lettered like any other) with empty labels and a path-hash id.
  """
  labels = read_annotations(annotations)
  items = []
  for uri, rel in list_files(images):
    image_id = labels.file_to_id.get(posixpath.basename(rel))
    if image_id is None:
      items.append(ContentItem(stable_id(rel), uri, rel))
    else:
      items.append(labels.content_item(image_id, uri, rel))
  if len({c.content_id for c in items}) != len(items):
    raise SourceError(f"duplicate content ids among {images!r} (the same COCO file name "
                      "twice?)")
  return items, labels
