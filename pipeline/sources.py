"""Content and style sources over any image folder or glob, with stable ids.

Listing goes through Beam's filesystem layer, so the same code reads a local folder
here and `gs://bucket/...` on Dataflow. Listing happens once, at launch, so an empty or
missing input fails before any work starts.

Every regular file found is an input (except hidden dotfiles): a text file or a corrupt
image in the folder is not skipped here but dead-lettered later with its reason, so the
job accounts for every file.

A local location is made absolute first, so an item's `uri` names the file whatever
the working directory, and its `rel_path` is relative to the source root
(`source_root`) that the dataset's metadata names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re

from tfrecords_schema.fields import ANNOTATIONS_IMAGE_LEVEL

_WILDCARD = re.compile(r"[*?\[]")


class SourceError(ValueError):
  """An input location is unusable (missing, empty, ambiguous ids)."""


@dataclasses.dataclass(frozen=True)
class ContentItem:
  """One content photo and what is known about it (labels, licence, public URLs empty
  or -1 when unknown; the record fields of the same names say what each holds)."""
  content_id: int
  uri: str
  rel_path: str
  label_ids: tuple[int, ...] = ()
  label_names: tuple[str, ...] = ()
  primary_label_id: int = -1
  primary_label: str = ""
  supercategory: str = ""
  source_url: str = ""   # a public copy of the same photo (COCO coco_url)
  origin_url: str = ""   # where the photo comes from (COCO flickr_url)
  license_id: int = -1
  license: str = ""
  license_url: str = ""
  # What the labels know (tfrecords_schema.fields ANNOTATIONS_*: 0 none, 1 image-level,
  # 2 boxes), and for boxes: each annotation as annotations.Box.as_list() in the frame
  # (width, height) the annotation file gives ((1, 1): fractions of the photo's size),
  # and the labels' supercategories.
  annotations_status: int = 0
  objects: tuple = ()
  annotation_frame: tuple = ()
  label_supercategories: tuple = ()


@dataclasses.dataclass(frozen=True)
class StyleItem:
  """One style image and its metadata (empty strings when unknown)."""
  style_id: int
  uri: str
  rel_path: str
  name: str = ""
  artist: str = ""
  genre: str = ""
  title: str = ""
  source_url: str = ""  # a public copy of the image
  source_id: str = ""   # the work's id at its source (a museum's object id, ...)
  credit: str = ""
  license: str = ""
  license_url: str = ""


def stable_id(key: str) -> int:
  """First 63 bits of sha256(key): a non-negative int64, identical on every machine."""
  return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") >> 1


def absolute(location: str) -> str:
  """A local path made absolute (URIs such as gs://... are returned as they are)."""
  return location if "://" in location else os.path.abspath(location)


def _pattern_and_root(location: str) -> tuple[str, str]:
  """A folder means every file below it; a glob is used as given.

  The root (ids are computed relative to it) is the longest wildcard-free folder prefix,
  so ids survive moving the data, e.g. from a local disk to gs://.
  """
  loc = absolute(location).rstrip("/")
  if _WILDCARD.search(loc):
    head = _WILDCARD.split(loc, 1)[0]
    return loc, head.rsplit("/", 1)[0] if "/" in head else ""
  if not location.endswith("/") and _is_file(loc):  # "x/" is a folder: no need to ask
    return loc, posixpath.dirname(loc)
  return loc + "/**", loc


def source_root(location: str) -> str:
  """The folder that items' `rel_path`s are relative to, as an absolute path or URI."""
  return _pattern_and_root(location)[1]


def _is_dir(path: str) -> bool:
  return "://" not in path and os.path.isdir(path)


def _is_file(path: str) -> bool:
  if "://" not in path:
    return os.path.isfile(path)
  from apache_beam.io.filesystems import FileSystems
  try:
    return FileSystems.exists(path)  # an object store "folder" is a prefix, not an object
  except Exception:
    return False


def list_files(location: str) -> list[tuple[str, str]]:
  """Sorted (uri, path relative to the root) of every non-hidden file at `location`."""
  from apache_beam.io.filesystems import FileSystems
  pattern, root = _pattern_and_root(location)
  try:
    metadata = FileSystems.match([pattern])[0].metadata_list
  except Exception as e:  # BeamIOError, ValueError for an unknown scheme
    raise SourceError(f"cannot list {location!r}: {e}") from e
  out = []
  for m in metadata:
    rel = m.path[len(root):].lstrip("/") if root and m.path.startswith(root) else m.path
    if any(part.startswith(".") for part in rel.split("/")) or m.path.endswith("/"):
      continue
    if _is_dir(m.path):
      continue
    out.append((m.path, rel or posixpath.basename(m.path)))
  if not out:
    raise SourceError(f"no input files at {location!r} (looked for {pattern!r})")
  return sorted(out)


def _check_unique(ids: list[int], what: str, location: str) -> None:
  if len(set(ids)) != len(ids):
    raise SourceError(f"duplicate {what} ids among the files at {location!r}")


def folder_contents(location: str, labels_from_dirs: bool = False) -> list[ContentItem]:
  """Contents with id = stable_id(path relative to the root).

  With labels_from_dirs, `<root>/<class>/.../file` is labelled `<class>` (the usual
  one-folder-per-class layout); label ids index the sorted class names, so they are
  stable for the same set of classes. Files directly under the root stay unlabelled.
  """
  files = list_files(location)
  classes = sorted({rel.split("/")[0] for _, rel in files if "/" in rel})
  index = {c: i for i, c in enumerate(classes)}
  items = []
  for uri, rel in files:
    cls = rel.split("/")[0] if labels_from_dirs and "/" in rel else ""
    if cls:
      items.append(ContentItem(stable_id(rel), uri, rel, (index[cls],), (cls,),
                               index[cls], cls,
                               annotations_status=ANNOTATIONS_IMAGE_LEVEL))
    else:
      items.append(ContentItem(stable_id(rel), uri, rel))
  _check_unique([c.content_id for c in items], "content", location)
  return items


def label_vocabulary(items) -> list[dict]:
  """[{id, name, supercategory}] of the labels the contents carry, sorted by id."""
  vocab = {}
  for c in items:
    for i, name in zip(c.label_ids, c.label_names):
      vocab[i] = {"id": i, "name": name,
                  "supercategory": c.supercategory if i == c.primary_label_id else ""}
  return [vocab[i] for i in sorted(vocab)]


def folder_styles(location: str) -> list[StyleItem]:
  """Styles with no metadata: id = stable_id(path relative to the root)."""
  items = [StyleItem(stable_id(rel), uri, rel) for uri, rel in list_files(location)]
  _check_unique([s.style_id for s in items], "style", location)
  return items
