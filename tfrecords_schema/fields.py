"""The field table: the single source of truth for the record contract.

The encoder, the TF parser, the TFDS `features.json` and the table in README.md are all
derived from `FIELDS`; a test checks the README table against it. Changing a field's
name, kind or meaning is a breaking change: bump `SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: Bumped on any incompatible change to FIELDS. Written into every record.
SCHEMA_VERSION = 1

#: Field kinds and their tf.train.Feature list type.
BYTES, STR, INT, FLOAT, BOOL, INT_LIST, STR_LIST = (
    "bytes", "str", "int", "float", "bool", "int_list", "str_list")
FEATURE_LIST = {BYTES: "bytes_list", STR: "bytes_list", INT: "int64_list",
                FLOAT: "float_list", BOOL: "int64_list", INT_LIST: "int64_list",
                STR_LIST: "bytes_list"}

_REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Field:
  name: str
  kind: str
  doc: str
  default: Any = _REQUIRED

  @property
  def required(self) -> bool:
    return self.default is _REQUIRED


FIELDS: tuple[Field, ...] = (
    Field("schema_version", INT, "Version of this table the record was written with."),
    # The image.
    Field("image", BYTES, "Encoded image bytes (JPEG or PNG, RGB, 8-bit)."),
    Field("image_format", STR, "`jpeg` or `png`: the encoding of `image`."),
    Field("height", INT, "Image height in pixels."),
    Field("width", INT, "Image width in pixels."),
    # The content (the photo this image shows).
    Field("content_id", INT,
          "Stable id of the source photo: the COCO image id, else the first 63 bits of "
          "sha256 of its path relative to the source root. Same across runs."),
    Field("content_uri", STR, "Where the source photo was read from."),
    Field("content_label_ids", INT_LIST,
          "Multi-label category ids of the photo (e.g. COCO category ids); empty when "
          "unknown.", ()),
    Field("content_label_names", STR_LIST,
          "Names of `content_label_ids`, same order; empty when unknown.", ()),
    Field("content_primary_label_id", INT,
          "One category id for single-label use (COCO: the category with the largest "
          "total annotated area); -1 when unknown.", -1),
    Field("content_primary_label", STR, "Name of the primary label; empty when unknown.",
          ""),
    Field("content_supercategory", STR,
          "Supercategory of the primary label (COCO); empty when unknown.", ""),
    # The style (the painting whose style this image takes).
    Field("is_original", BOOL,
          "1 for the unstylized original view of the content (then all style fields "
          "are empty/-1 and `style_strength` is 0), else 0."),
    Field("style_id", INT,
          "Stable id of the style image: the first 63 bits of sha256 of its path "
          "relative to the style root (or of a manifest id); -1 for the original view.",
          -1),
    Field("style_uri", STR, "Where the style image was read from; empty for originals.",
          ""),
    Field("style_name", STR,
          "Art style / movement (e.g. `Impressionism`) when known, else empty.", ""),
    Field("style_artist", STR, "Artist of the style image when known, else empty.", ""),
    Field("style_genre", STR, "Genre of the style image when known, else empty.", ""),
    Field("style_title", STR, "Title of the style image when known, else empty.", ""),
    Field("stylizer", STR,
          "Stylizer name (`tflite`, `hub`, `classical`); `none` for originals."),
    Field("stylizer_version", STR,
          "Exact model/weights identity of the stylizer; empty for originals.", ""),
    Field("style_strength", FLOAT,
          "Blend strength in [0, 1] the stylizer was run with; 0 for originals.", 0.0),
    Field("view_index", INT,
          "0 for the original view, 1..K for the K stylized views of a content. Records "
          "of one content are stored next to each other in ascending `view_index`."),
    Field("split", STR, "`train`, `val` or `test`; a content is in exactly one split."),
)

FIELDS_BY_NAME = {f.name: f for f in FIELDS}

_TF_TYPE = {BYTES: "bytes", STR: "bytes (UTF-8)", INT: "int64", FLOAT: "float",
            BOOL: "int64 (0/1)", INT_LIST: "int64, 0..n values",
            STR_LIST: "bytes (UTF-8), 0..n values"}


def fields_markdown() -> str:
  """The field table as it appears in tfrecords_schema/README.md (a test compares)."""
  rows = ["| field | tf.train.Feature | when absent | meaning |", "|---|---|---|---|"]
  for f in FIELDS:
    absent = "required" if f.required else (
        "empty list" if f.kind in (INT_LIST, STR_LIST) else f"`{f.default!r}`")
    rows.append(f"| `{f.name}` | {FEATURE_LIST[f.kind]}: {_TF_TYPE[f.kind]} | {absent} "
                f"| {f.doc} |")
  return "\n".join(rows) + "\n"
