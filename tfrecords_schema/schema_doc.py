"""SCHEMA.md: the record contract written into every dataset folder.

A consumer receives the folder, not our repository, so the folder states everything
needed to read it: the field table (from FIELDS), the layout, the exact id, split and
held-out-style rules, what happens to failed views, the metadata keys, the sources and
their licences, and three reading recipes to copy (tf.data with a literal feature
spec, TFDS, and no TensorFlow at all). Generated from the folder's
stylized_metadata.json; tests run its code blocks against real datasets.
"""

from __future__ import annotations

from typing import Mapping

from tfrecords_schema import recipes
from tfrecords_schema.fields import (ANNOTATIONS_BOXES, ANNOTATIONS_IMAGE_LEVEL,
                                     ANNOTATIONS_NONE, SCHEMA_VERSION, VISIBLE_MIN,
                                     fields_markdown, types_markdown)

#: What changed in each schema version, newest first: SCHEMA.md's "Versioning".
CHANGES = {
    3: [
        "Labels describe the image in the record: `view_label_ids`, `view_label_names`, "
        "`view_primary_label_id`, `view_primary_label`, `view_supercategory` hold the "
        "categories visible in the view (after the resize policy's crop or padding).",
        "The photo-level labels are renamed to say so: `content_label_ids` -> "
        "`photo_label_ids`, `content_label_names` -> `photo_label_names`, "
        "`content_primary_label_id` -> `photo_primary_label_id`, "
        "`content_primary_label` -> `photo_primary_label`, `content_supercategory` -> "
        "`photo_supercategory`; their values are unchanged.",
        "`annotations_status` tells \"annotated, no objects\" (2 with empty lists) from "
        "\"no annotations available\" (0) and image-level labels only (1).",
        "COCO sources: every annotation's box in view pixels, clipped "
        "(`object_xmin`, `object_ymin`, `object_xmax`, `object_ymax`), the fraction of "
        "its box kept (`object_visible_fraction`), `object_category_ids`, "
        "`object_iscrowd`, `object_annotation_ids`; and the photo's size "
        "(`photo_width`, `photo_height`) to map them back. New field type: list of "
        "float32.",
        "Decoding contract: a JPEG `image` means the pixels libjpeg's accurate integer "
        "DCT gives (Pillow's default; `tf.io.decode_jpeg(..., "
        "dct_method=\"INTEGER_ACCURATE\")`). The tf.data recipe now decodes so; v2's "
        "recipe used `tf.io.decode_image`, whose default method differs by up to 20 "
        "levels per image. The image bytes are unchanged.",
        "The tf.data recipe groups a content's views by adjacency, not by key: a "
        "content short of a dead-lettered view comes out in place, not at the end.",
        "Integrity: each shard's sha256 is in stylized_metadata.json "
        "(`splits.SPLIT.shard_sha256`) and croissant.json (a FileObject per shard); "
        "SCHEMA.md describes the TFRecord framing and its masked CRC-32C; the validator "
        "checks the sums.",
        "Provenance: a style manifest's `url` and `source_id` columns (or the Art "
        "Institute of Chicago's `aic_image_url` and `aic_artwork_id`) fill "
        "`style_source_url` and `vocabularies.styles[].source_url` / `source_id`. "
        "`style_path` is relative to `sources.styles.root` even when the manifest lists "
        "absolute paths (such styles get new `style_id`s). The stylizer is named by its "
        "public identity (`stylizer.network`, `published`, `files` with sha256), and the "
        "TF Lite stylizer's `stylizer_version` no longer contains the model folder's "
        "name.",
    ],
    2: ["Content and style paths relative to a named source root, absolute URIs, "
        "licence and attribution fields; `is_original` declared int64 (0/1) "
        "everywhere."],
}
from tfrecords_schema.files import (CARD_FILENAME, CROISSANT_FILENAME,
                                    DATASET_INFO_FILENAME, DEAD_LETTER_FILENAME,
                                    FEATURES_FILENAME, INDEX_FILENAME, METADATA_FILENAME,
                                    SCHEMA_FILENAME, SHEET_FILENAME, shard_name_doc)
from tfrecords_schema.index import LOCATION_COLUMNS

#: stylized_metadata.json's top-level keys and what each holds (validate checks them).
METADATA_KEYS = {
    "schema_version": "Record schema version (as in every record).",
    "dataset_name": "Shard file prefix and TFDS name.",
    "description": "One sentence: what was rendered from what, by which model.",
    "created": "UTC time the dataset was finished (ISO 8601).",
    "created_by": "The program that wrote it.",
    "command": "Its command-line arguments.",
    "inputs": "`content` and `styles` as given on the command line (producer's paths), "
              "`contents_listed`, `styles_listed`.",
    "sources": "`content` and `styles`: `kind` (coco, tfds, folder; manifest, wikiart, "
               "folder), `location` as given, `root` (absolute: `content_path` and "
               "`style_path` are relative to it; for a manifest, its folder, or the "
               "deepest folder holding every file it lists when some lie outside it), "
               "`name`, `url`, `citation`, "
               "`annotations` (COCO file), `licenses` (per licence: `id`, `name`, "
               "`url` and the number of `contents` / `styles` (+ `credited`) written).",
    "stylizer": "`spec` (as given: the producer's path), `name` and exact `version` of "
                "the stylization model, and its public identity: `network`, "
                "`published` (handle), `license`, `format`, `files` [{`file`, `bytes`, "
                "`sha256`, `published_as`, `converter`}]; for a port, `converted_from` "
                "(the same for its source files) and `converter` (see Stylizer).",
    "plan": "`styles_per_content` (K), `include_original`, `seed`, `split_fractions` "
            "(train, val, test), `holdout_style_fraction`, `style_strength`.",
    "held_out_styles": "Styles used only by val and test: `style_id`, `name`, "
                       "`artist`, `title`, `path` (empty without held-out styles).",
    "image": "`size`, `format` (jpeg or png, as written), `jpeg_quality`, "
             "`resize_policy`.",
    "layout": "The layout rule in one sentence (see Layout).",
    "dead_letters": "Number of lines in dead_letter.jsonl.",
    "counters": "The job's counters (contents read, stylizer calls, ...).",
    "timings": "Seconds spent by the run that published the folder: `launch` (listing "
               "and planning) and `pipeline` (workers' start-up, style steps, shards); "
               "`shards_resumed` shards were rendered by an earlier run.",
    "vocabularies": "`content_labels` [{`id`, `name`, `supercategory`}], `styles` "
                    "[{`index`, `style_id`, `path`, `name`, `artist`, `genre`, `title`, "
                    "`credit`, `license`, `source_url` (public copy), `source_id` (the "
                    "work's id at its source)}] (dense `index` by style_id), "
                    "`style_names`, `artists`.",
    "index": f"`file` ({INDEX_FILENAME}), `rows`, `sha256`.",
    "citation": "BibTeX of the sources and the stylization model.",
    "license_notes": "What the licences found allow, in sentences.",
    "redistribution": "Licence summary (also dataset_info.json's redistribution info).",
    "splits": "Per split: `records`, `contents`, `shards`, `bytes`, `shard_lengths`, "
              "`shard_sha256` (each shard's sha256, in shard order; see Integrity).",
}


def _code(text: str, lang: str = "python") -> str:
  return f"```{lang}\n{text.rstrip()}\n```"


def _files(name: str) -> str:
  rows = [
      (f"`{shard_name_doc(name)}`", "The records of split `train`, `val` "
       "or `test`: uncompressed TFRecord files of serialized `tf.train.Example`."),
      (f"`{INDEX_FILENAME}`", "One row per record: every field but `image`, plus "
       + ", ".join(f"`{c[0]}`" for c in LOCATION_COLUMNS) + " (see Reading)."),
      (f"`{CROISSANT_FILENAME}`", "Croissant 1.0 metadata: the shards, the index as RecordSet "
       "`records`, sources, licences, citation."),
      (f"`{SCHEMA_FILENAME}`", "This page."),
      (f"`{DATASET_INFO_FILENAME}`, `{FEATURES_FILENAME}`", "TFDS metadata: "
       "`tfds.builder_from_directory` loads the folder."),
      (f"`{METADATA_FILENAME}`", "How the dataset was made (keys below)."),
      (f"`{DEAD_LETTER_FILENAME}`", "One JSON object per input that failed: `stage` "
       "(`content`, `style`, `stylize`), `uri`, `reason`, `message`; `content_id` for "
       "`content` and `stylize`; `view_index` and `style_uri` for `stylize`."),
      (f"`{CARD_FILENAME}`, `{SHEET_FILENAME}`", "Summary for people, with examples "
       "(the objects' boxes drawn on the views when records carry them)."),
  ]
  return "| file | what |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)


def _stylizer(meta: Mapping) -> list[str]:
  """The stylization network by its public identity, not the producer's paths."""
  st = meta.get("stylizer") or {}
  if "network" not in st:
    return []
  lines = ["## Stylizer", "",
           f"`{st.get('name', '')}`, version `{st.get('version', '')}`: "
           f"{st['network'] or 'no published network named'}"
           + (f", published as {st['published']}" if st.get("published") else "")
           + (f"; licence {st['license']}" if st.get("license") else "")
           + f". Format: {st.get('format', '')}. The files it ran (sha256 identifies "
           "the bytes; `published as` is the handle that file is distributed under):", ""]

  def files(entries, indent=""):
    for e in entries:
      conv = e.get("converter") or {}
      made = ", ".join(f"{k} {v}" for k, v in conv.items() if v != "")
      yield (f"{indent}- `{e['file']}`: {e['bytes']} bytes, sha256 `{e['sha256']}`"
             + (f", published as {e['published_as']}" if e.get("published_as") else "")
             + (f"; flatbuffer: {made}" if made else ""))
  lines += list(files(st.get("files", [])))
  if st.get("converted_from"):
    conv = st.get("converter") or {}
    lines += ["", f"Converted by `{conv.get('name', '?')}` (code sha256 "
              f"`{conv.get('code_sha256', '?')}`, TensorFlow "
              f"{conv.get('tensorflow', '?')}) from:", "", *files(st["converted_from"])]
  return lines + [""]


def _licences(meta: Mapping) -> str:
  lines = []
  for source, unit in (("content", "contents"), ("styles", "styles")):
    info = meta["sources"][source]
    lines.append(f"- {source}: {info['kind']} source, root `{info['root']}`"
                 + (f" ({info['name']}, {info['url']})" if info["name"] else ""))
    for lic in info.get("licenses", []):
      lines.append(f"  - {lic['name'] or 'licence not given'}"
                   f"{' <' + lic['url'] + '>' if lic['url'] else ''}: {lic[unit]} {unit}")
  return "\n".join(lines + [""] + [f"{n}" for n in meta.get("license_notes", [])])


def _objects(policy: str) -> str:
  """How boxes are placed in a view and how the view's labels follow from them."""
  return "\n".join([
      "## Objects and labels", "",
      "`annotations_status` says what a record's label fields know: "
      f"{ANNOTATIONS_NONE} = nothing (labels empty/-1 mean unknown); "
      f"{ANNOTATIONS_IMAGE_LEVEL} = image-level labels only (e.g. folder names: the "
      "`view_*` labels are the photo's, as nothing says where the object is); "
      f"{ANNOTATIONS_BOXES} = boxes (COCO): the `object_*` lists are parallel, one entry "
      "per annotation of the photo, cropped-out ones included, in annotation-id order; "
      "empty lists mean the photo was annotated and holds no objects.", "",
      f"This dataset's resize policy is `{policy}` (stylized_metadata.json "
      "`image.resize_policy`). For a photo of `photo_width` W x `photo_height` H and a "
      "view of S = `width` pixels, a photo point (x, y) (continuous pixel coordinates, "
      "0 at the top-left corner) lands in the view at:", "",
      "| policy | x in the view | y in the view |", "|---|---|---|",
      "| `center_crop` | (x - (W - m) / 2) * S / m, m = min(W, H) | "
      "(y - (H - m) / 2) * S / m |",
      "| `pad` | x * w' / W + (S - w') // 2, w' = round(W * S / max(W, H)) | "
      "y * h' / H + (S - h') // 2, h' = round(H * S / max(W, H)) |",
      "| `stretch` | x * S / W | y * S / H |", "",
      "Padding pixels (`pad`) are grey (128). A box is mapped corner by corner, then "
      "clipped to [0, S]; `object_visible_fraction` is its clipped area over its "
      "unclipped area (so 0 for a box wholly cropped out, whose clipped box has no "
      "area). Invert the formulas to get a box back in the photo's pixels; COCO "
      "annotations are in the frame of the annotation file's `width` x `height`, and "
      "a photo decoded at another size with the same aspect ratio is scaled to it "
      "(`annotations_status` 1 when the aspect differs, e.g. an EXIF rotation).", "",
      f"View labels: a category is in `view_label_ids` when at least one of its boxes "
      f"keeps {VISIBLE_MIN:g} or more of its area in the view (crowd regions count). "
      "`view_primary_label_id` is the view label with the largest visible area (the "
      "annotation's `area` x its visible fraction, summed over the category's boxes "
      "at or above the threshold; ties to the smaller id), or -1 when no box is "
      "visible enough. When every box is whole in the view the view labels equal the "
      "photo labels, primary included. The `photo_*` labels always describe the whole "
      "photo, cropped-out objects included: use them to join with the source, and the "
      "`view_*` labels to learn from the pixels.", "",
      "Segmentation masks, keypoints and captions are not carried (out of scope): join "
      "`object_annotation_ids` with the COCO annotation file to get them, and map "
      "their coordinates with the formulas above.", "",
  ])


def _versioning() -> str:
  lines = ["## Versioning", "",
           f"`schema_version` ({SCHEMA_VERSION}) is in every record and in "
           f"stylized_metadata.json; the TFDS version is `{SCHEMA_VERSION}.0.0`. "
           "Renaming, removing or changing the type or meaning of a field bumps it. "
           "Readers refuse a record of another version with a message naming both "
           "versions; regenerate an older dataset with the current job.", ""]
  for version, changes in CHANGES.items():
    lines += [f"What changed in version {version}:", ""]
    lines += [f"- {c}" for c in changes] + [""]
  return "\n".join(lines)


def _decoding(image: Mapping) -> list[str]:
  """The decoding contract: which pixels a record's image means."""
  fmt = image["format"]
  written = ("PNG (lossless)" if fmt == "png" else
             f"baseline JPEG, quality {image.get('jpeg_quality', '?')}")
  return [
      "## Decoding images", "",
      f"`image` holds the encoded view ({written} in this dataset; `image_format` says "
      "which, per record). Its pixels are what this decoding gives:", "",
      "- PNG: any decoder (lossless).",
      "- JPEG: libjpeg's accurate integer inverse DCT (`JDCT_ISLOW`) with its default "
      "(fancy) chroma upsampling: what Pillow's `Image.open(...).convert(\"RGB\")` "
      "gives, and TensorFlow's `tf.io.decode_jpeg(data, channels=3, "
      "dct_method=\"INTEGER_ACCURATE\")` (recipe 1). Do not use `tf.io.decode_image` "
      "or `decode_jpeg`'s default method: they use a faster, approximate DCT whose "
      "pixels differ from it (measured on 144 COCO views at 224 px: by up to 20 levels "
      "of 255 per image, median 11, every image affected). Readers that keep to this "
      "contract see identical pixels: the producer's tests decode every record with "
      "recipe 1 and with Pillow and find no difference.",
      "- For pixels that cannot depend on the decoder, the producer can write the "
      "dataset with `--image_format=png`: lossless, at 2.7x the bytes (same 144 "
      "views: 90 vs 34 KB per record; the JPEG's pixels are 1.8 levels from the "
      "lossless ones on average).",
      "- The producer's own trainer (`trainer/`) trades this for speed: it decodes "
      "random crops with `tf.io.decode_and_crop_jpeg`'s default (fast) method, a few "
      "levels off, well inside its colour augmentation.", ""]


def _integrity() -> list[str]:
  """The TFRecord framing and where each file's checksum is."""
  rows = [("8", "`length` of `data`: uint64, little-endian"),
          ("4", "masked CRC-32C of those 8 bytes: uint32, little-endian"),
          ("`length`", "`data`: one serialized `tf.train.Example`"),
          ("4", "masked CRC-32C of `data`: uint32, little-endian")]
  return [
      "## Integrity", "",
      "Shards are uncompressed TFRecord files: records back to back, each framed as",
      "", "| bytes | what |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows], "",
      "so a record at byte `offset` (the index's column) ends at `offset + length + "
      "16`. CRC-32C is the Castagnoli CRC (reflected polynomial `0x82F63B78`, initial "
      "and final XOR `0xFFFFFFFF`, as in iSCSI); masked, it is `((crc >> 15) | (crc << "
      "17)) + 0xA282EAD8`, modulo 2^32. Recipe 3's `read_records(path, "
      "check_crc=True)` verifies both, without TensorFlow.", "",
      "Each shard's sha256 is in stylized_metadata.json (`splits.SPLIT.shard_sha256`, "
      "in shard order) and in croissant.json (the shard's FileObject `sha256`); "
      f"croissant.json also gives {INDEX_FILENAME}'s and this page's. The producer's "
      "`python -m tfrecords_schema.validate DIR` checks them all; with the standard "
      "library only:", "",
      _code(recipes.checksums()), ""]


def schema_markdown(meta: Mapping) -> str:
  """SCHEMA.md for a dataset folder, from its stylized_metadata.json."""
  name, plan, image = meta["dataset_name"], meta["plan"], meta["image"]
  k, original = plan["styles_per_content"], plan["include_original"]
  views = k + int(original)
  held = meta.get("held_out_styles", [])
  split_rows = "\n".join(f"| {s} | {v['contents']} | {v['records']} | {v['shards']} |"
                         for s, v in sorted(meta["splits"].items()))
  return "\n".join([
      f"# {name}: record schema version {SCHEMA_VERSION}", "",
      "Each record is one image: a view of a content photo, either the photo itself "
      "(`is_original` = 1) or the photo rendered in the style of a painting. This page "
      "is enough to read, filter and cite the data without the producer's code.", "",
      "## Files", "", _files(name), "",
      "## This dataset", "",
      f"K = {k} styles per content{' plus the original view' if original else ''}: "
      f"up to {views} records per content. Images: {image['size']}x{image['size']} "
      f"{image['format'].upper()}. {len(held)} held-out styles (used only by val and "
      "test; listed in stylized_metadata.json `held_out_styles`).", "",
      "| split | contents | records | shards |", "|---|---|---|---|", split_rows, "",
      f"## Fields (schema version {SCHEMA_VERSION})", "",
      "Every record holds every field below; scalar fields hold exactly one value, "
      "lists zero or more. Each field has one type, declared alike in every file:", "",
      fields_markdown(), types_markdown(),
      *_decoding(image),
      "## Layout", "",
      "- A content is in exactly one split and one shard.",
      "- Each shard holds a contiguous block of its split's contents in `content_id` "
      "order; the records of one content are adjacent, in ascending `view_index` (0 = "
      "original when written, then 1..K). Read each shard front to back and "
      "neighbouring records with the same `content_id` are one content's views, e.g. "
      "positive pairs (same content, different styles).",
      "- A content's K styles are distinct; over a split, each style is used equally "
      "often (within one).", "",
      "## Failed views", "",
      "A view whose stylization fails is left out alone: it is a `stylize` line in "
      "dead_letter.jsonl (with `content_id`, `view_index`, `style_uri`) and the content "
      "keeps its other views, so it has fewer records and a gap in `view_index` (which "
      "is the planned slot, never renumbered). A content whose photo cannot be read, or "
      "for which no style works, is left out whole (one `content` line). A style whose "
      "image cannot be read or whose style step fails is left out before styles are "
      "dealt (one `style` line): contents get their K styles from the others, with no "
      "gap. Readers that need exactly K+1 views per content filter on the group size; "
      "every record written is complete and valid.", "",
      _objects(image.get("resize_policy", "center_crop")),
      "## Ids, splits and held-out styles", "",
      "- `content_id`: with a COCO source (`sources.content.kind` coco or tfds), the "
      "COCO image id of the file (matched by file name in the annotation file); "
      "otherwise, and for a file the annotation file does not list, "
      "`stable_id(content_path)` below.",
      "- `style_id`: `stable_id(style_path)`, `style_path` being relative to "
      "`sources.styles.root` for every kind of style source (a manifest's absolute paths "
      "included).",
      "- Split: `split_of(content_id)` with this dataset's seed and fractions.",
      "- Held-out styles: `held_out_styles(ids)` over the `style_id`s of "
      "`vocabularies.styles` whose style step worked (not a `style` line in "
      "dead_letter.jsonl); train uses the others, val and test only these.", "",
      _code(recipes.rules(plan["seed"], plan["split_fractions"],
                          plan["holdout_style_fraction"])), "",
      "## Sources, paths and licences", "",
      "`content_path` and `style_path` are relative to the source roots below (also "
      "`sources.*.root` in stylized_metadata.json); `content_uri` and `style_uri` are "
      "the full URIs the producer read; `content_source_url` / `style_source_url` are "
      "public copies when the source names one. Licence and credit fields are per "
      "record, as the sources give them; empty means the source does not say.", "",
      _licences(meta), "",
      *_stylizer(meta),
      *_integrity(),
      f"## {METADATA_FILENAME}", "",
      "| key | what |", "|---|---|",
      *[f"| `{key}` | {what} |" for key, what in METADATA_KEYS.items()], "",
      "## Reading", "",
      "### 1. tf.data with the feature spec (TensorFlow only)", "",
      _code(recipes.tf_data(name, views)), "",
      "### 2. TFDS, keeping a content's records adjacent", "",
      _code(recipes.tfds()), "",
      "### 3. Without TensorFlow (Python standard library)", "",
      _code(recipes.no_tensorflow()), "",
      "### Croissant", "",
      "`mlcroissant.Dataset(jsonld=\"croissant.json\").records(\"records\")` yields one "
      f"record per TFRecord record, from {INDEX_FILENAME} (strings as bytes); "
      "`mlcroissant` cannot read TFRecord bytes, so get an image with recipe 3's "
      "`read_record_at(shard, offset)`.", "",
      _versioning(),
  ])
