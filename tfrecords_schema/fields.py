"""The field table: the single source of truth for the record contract.

The encoder, the TF parser, the literal feature spec in every dataset's SCHEMA.md, the
TFDS `features.json`, the Croissant fields, the record index's columns and the table in
README.md are all derived from `FIELDS` and `TYPES`; tests check each against them.
Changing a field's name, type or meaning is a breaking change: bump `SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: Bumped on any incompatible change to FIELDS. Written into every record.
#: 2: content/style paths relative to a named source root, absolute URIs, licence and
#:    attribution fields; `is_original` declared int64 (0/1) everywhere.
#: 3: labels of the view (`view_*`) beside the photo's (`content_*` label fields
#:    renamed `photo_*`), `annotations_status`, the photo's size, and every COCO
#:    annotation's box mapped into the view (`object_*`).
SCHEMA_VERSION = 3

#: `annotations_status` values: what the label and object fields of a record know.
ANNOTATIONS_NONE, ANNOTATIONS_IMAGE_LEVEL, ANNOTATIONS_BOXES = 0, 1, 2
#: A category is a view label when one of its boxes keeps at least this fraction of
#: its area inside the view.
VISIBLE_MIN = 0.25

#: Field kinds.
BYTES, STR, INT, FLOAT, BOOL, INT_LIST, STR_LIST, FLOAT_LIST = (
    "bytes", "str", "int", "float", "bool", "int_list", "str_list", "float_list")


@dataclasses.dataclass(frozen=True)
class Type:
  """How one kind of field is stored and declared; the same type in every format."""
  name: str          # the type as SCHEMA.md states it
  feature_list: str  # tf.train.Feature list holding it
  tf_dtype: str      # dtype of the tf.io spec, as Python source
  croissant: str     # Croissant dataType
  arrow: str         # Arrow type of its column in index.parquet
  is_list: bool = False


TYPES = {
    BYTES: Type("bytes", "bytes_list", "tf.string", "sc:ImageObject", ""),
    STR: Type("string", "bytes_list", "tf.string", "sc:Text", "string"),
    INT: Type("int64", "int64_list", "tf.int64", "sc:Integer", "int64"),
    BOOL: Type("int64 (0 or 1)", "int64_list", "tf.int64", "sc:Integer", "int64"),
    FLOAT: Type("float32", "float_list", "tf.float32", "sc:Float", "float32"),
    INT_LIST: Type("list of int64", "int64_list", "tf.int64", "sc:Integer",
                   "list<int64>", True),
    STR_LIST: Type("list of string", "bytes_list", "tf.string", "sc:Text",
                   "list<string>", True),
    FLOAT_LIST: Type("list of float32", "float_list", "tf.float32", "sc:Float",
                     "list<float32>", True),
}
FEATURE_LIST = {kind: t.feature_list for kind, t in TYPES.items()}

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

  @property
  def type(self) -> Type:
    return TYPES[self.kind]

  @property
  def in_index(self) -> bool:
    """Every field but the image bytes is also a column of index.parquet."""
    return self.kind != BYTES


_URI = ("Full URI the {what} was read from (an absolute local path, `gs://...`, "
        "`tfds://...`): the producer's copy. Others use `{path}` and the source's public "
        "URLs.")
_PATH = ("Path of the {what} relative to `sources.{source}.root` in "
         "stylized_metadata.json, `/`-separated; the {id} hashes this string.")

FIELDS: tuple[Field, ...] = (
    Field("schema_version", INT, "Version of this table the record was written with."),
    # The image.
    Field("image", BYTES, "Encoded image bytes (RGB, 8-bit), in the format "
          "`image_format` names."),
    Field("image_format", STR, "`jpeg` or `png`: the encoding of `image`."),
    Field("height", INT, "Image height in pixels."),
    Field("width", INT, "Image width in pixels."),
    # The content (the photo this image shows).
    Field("content_id", INT,
          "Stable id of the source photo (rule: SCHEMA.md, section Ids). Same across "
          "runs."),
    Field("content_path", STR, _PATH.format(what="source photo", source="content",
                                            id="non-COCO content_id")),
    Field("content_uri", STR, _URI.format(what="source photo", path="content_path")),
    Field("content_source_url", STR,
          "Public URL of the same photo when the source names one (COCO: the image's "
          "`coco_url`); empty when unknown.", ""),
    Field("content_origin_url", STR,
          "URL of the photo's origin, which its licence's attribution refers to (COCO: "
          "`flickr_url`); empty when unknown.", ""),
    Field("content_license_id", INT,
          "Licence id the source gives the photo (COCO: `images[].license`, an id of "
          "the annotation file's `licenses`); -1 when unknown.", -1),
    Field("content_license", STR,
          "Name of the photo's licence (COCO: `licenses[].name`); empty when unknown.",
          ""),
    Field("content_license_url", STR,
          "URL of the photo's licence (COCO: `licenses[].url`); empty when unknown.", ""),
    Field("photo_width", INT,
          "Width in pixels of the photo as decoded (EXIF-upright), before the resize "
          "policy (`image.resize_policy` in stylized_metadata.json); -1 when unknown.",
          -1),
    Field("photo_height", INT, "Height in pixels of the photo as decoded; -1 when "
          "unknown.", -1),
    # What the record knows about the objects in the photo and in this view.
    Field("annotations_status", INT,
          f"What the label and object fields know: {ANNOTATIONS_NONE} = no annotations "
          "available (all label fields empty/-1: unknown, not absent); "
          f"{ANNOTATIONS_IMAGE_LEVEL} = image-level labels only (e.g. folder names; no "
          "boxes: the `view_*` labels are the photo's); "
          f"{ANNOTATIONS_BOXES} = boxes annotated (COCO): the `object_*` lists hold "
          "every annotation of the photo, and empty lists mean annotated with no "
          "objects.", ANNOTATIONS_NONE),
    Field("view_label_ids", INT_LIST,
          "Category ids visible in this view: those with a box keeping at least "
          f"{VISIBLE_MIN:g} of its area inside the view (SCHEMA.md, Objects and "
          "labels); sorted. Status 1: the photo's labels. Empty when unknown or none.",
          ()),
    Field("view_label_names", STR_LIST, "Names of `view_label_ids`, same order.", ()),
    Field("view_primary_label_id", INT,
          "The view's single label: among `view_label_ids`, the category with the "
          "largest visible area (annotated area x `object_visible_fraction`, summed; "
          "ties to the smaller id); -1 when unknown or nothing is visible.", -1),
    Field("view_primary_label", STR, "Name of `view_primary_label_id`; empty when "
          "unknown.", ""),
    Field("view_supercategory", STR,
          "Supercategory of `view_primary_label_id` (COCO); empty when unknown.", ""),
    Field("photo_label_ids", INT_LIST,
          "Multi-label category ids of the whole photo, cropped-out objects included "
          "(e.g. COCO category ids); sorted; empty when unknown or none.", ()),
    Field("photo_label_names", STR_LIST,
          "Names of `photo_label_ids`, same order; empty when unknown.", ()),
    Field("photo_primary_label_id", INT,
          "One category id of the whole photo (COCO: the category with the largest "
          "total annotated area; it may lie outside the view); -1 when unknown.", -1),
    Field("photo_primary_label", STR, "Name of the photo's primary label; empty when "
          "unknown.", ""),
    Field("photo_supercategory", STR,
          "Supercategory of the photo's primary label (COCO); empty when unknown.", ""),
    Field("object_annotation_ids", INT_LIST,
          "Per annotation of the photo (status 2; the `object_*` lists are parallel): "
          "its id in the source (COCO `annotations[].id`).", ()),
    Field("object_category_ids", INT_LIST, "Its category id (as `photo_label_ids`).",
          ()),
    Field("object_iscrowd", INT_LIST, "Its COCO `iscrowd` (1: a crowd region).", ()),
    Field("object_xmin", FLOAT_LIST,
          "Left edge of its box in view pixels (0 = the view's left edge, `width` = "
          "its right edge), clipped to the view.", ()),
    Field("object_ymin", FLOAT_LIST, "Top edge of its box in view pixels, clipped.",
          ()),
    Field("object_xmax", FLOAT_LIST, "Right edge of its box in view pixels, clipped.",
          ()),
    Field("object_ymax", FLOAT_LIST, "Bottom edge of its box in view pixels, clipped.",
          ()),
    Field("object_visible_fraction", FLOAT_LIST,
          "Fraction of its box's area inside the view (1: whole; 0: cropped out, its "
          "clipped box then has no area).", ()),
    # The style (the painting whose style this image takes).
    Field("is_original", BOOL,
          "1 for the unstylized original view of the content (then all style fields "
          "are empty/-1 and `style_strength` is 0), else 0."),
    Field("style_id", INT,
          "Stable id of the style image (rule: SCHEMA.md, section Ids); -1 for the "
          "original view.", -1),
    Field("style_path", STR, _PATH.format(what="style image", source="styles",
                                          id="style_id") + " Empty for originals.", ""),
    Field("style_uri", STR, _URI.format(what="style image", path="style_path") +
          " Empty for originals.", ""),
    Field("style_source_url", STR,
          "Public URL of the style image when the style manifest gives one (column "
          "`url`, `image_url`, `public_url`, `source_url` or `aic_image_url`, or the "
          "one --manifest_url_column names); else empty.", ""),
    Field("style_name", STR,
          "Art style / movement (e.g. `Impressionism`) when known, else empty.", ""),
    Field("style_artist", STR, "Artist of the style image when known, else empty.", ""),
    Field("style_genre", STR, "Genre of the style image when known, else empty.", ""),
    Field("style_title", STR, "Title of the style image when known, else empty.", ""),
    Field("style_credit", STR,
          "Credit line of the style image from the manifest (column `credit`, "
          "`credit_line` or `attribution`); empty when not given.", ""),
    Field("style_license", STR,
          "Licence of the style image from the manifest (column `license` or "
          "`licence`); empty when not given.", ""),
    Field("style_license_url", STR,
          "URL of the style image's licence from the manifest (column `license_url`); "
          "empty when not given.", ""),
    Field("stylizer", STR,
          "Stylizer name (`tflite`, `hub`, `classical`); `none` for originals."),
    Field("stylizer_version", STR,
          "Exact model/weights identity of the stylizer; empty for originals.", ""),
    Field("style_strength", FLOAT,
          "Blend strength in [0, 1] the stylizer was run with; 0 for originals.", 0.0),
    Field("view_index", INT,
          "0 for the original view, 1..K for the K stylized views of a content. Records "
          "of one content are stored next to each other in ascending `view_index`; a "
          "view that failed leaves a gap (SCHEMA.md, Failed views)."),
    Field("split", STR, "`train`, `val` or `test`; a content is in exactly one split."),
)

FIELDS_BY_NAME = {f.name: f for f in FIELDS}


def default_text(f: Field) -> str:
  """The value a reader gets when the feature is absent, as SCHEMA.md states it."""
  if f.required:
    return "required"
  if f.type.is_list:
    return "`[]`"
  return f"`{f.default!r}`" if f.kind != STR else f"`\"{f.default}\"`"


def fields_markdown() -> str:
  """The field table of README.md and SCHEMA.md (a test compares)."""
  rows = ["| field | type | shape | tf.train.Feature | when absent | meaning |",
          "|---|---|---|---|---|---|"]
  for f in FIELDS:
    shape = "[n]" if f.type.is_list else "[]"
    rows.append(f"| `{f.name}` | {f.type.name} | {shape} | {f.type.feature_list} | "
                f"{default_text(f)} | {f.doc} |")
  return "\n".join(rows) + "\n"


def types_markdown() -> str:
  """How each type is declared in each format: one type per field everywhere."""
  kinds = [k for k in TYPES if any(f.kind == k for f in FIELDS)]
  rows = ["| type | tf.io feature spec | features.json (TFDS) | Croissant dataType | "
          "index.parquet (Arrow) |", "|---|---|---|---|---|"]
  tfds = {BYTES: "Image", STR: "Text", INT: "Scalar int64", BOOL: "Scalar int64",
          FLOAT: "Scalar float32", INT_LIST: "Sequence of int64",
          STR_LIST: "Sequence of Text", FLOAT_LIST: "Sequence of float32"}
  for k in kinds:
    t = TYPES[k]
    spec = f"RaggedFeature({t.tf_dtype})" if t.is_list else f"FixedLenFeature([], {t.tf_dtype})"
    rows.append(f"| {t.name} | `{spec}` | {tfds[k]} | `{t.croissant}`"
                f"{' (repeated)' if t.is_list else ''} | "
                f"{t.arrow or '-'} |")
  return "\n".join(rows) + "\n"


def feature_spec_source() -> str:
  """The literal `tf.io` feature spec, as Python source a reader can copy."""
  lines = ["FEATURE_SPEC = {"]
  for f in FIELDS:
    t = f.type
    if t.is_list:
      spec = f"tf.io.RaggedFeature({t.tf_dtype})"
    elif f.required:
      spec = f"tf.io.FixedLenFeature([], {t.tf_dtype})"
    else:
      spec = f"tf.io.FixedLenFeature([], {t.tf_dtype}, default_value={f.default!r})"
    lines.append(f"    {f.name!r}: {spec},".replace("'", '"'))
  lines.append("}")
  return "\n".join(lines) + "\n"
