"""Contact sheets: a dataset's views side by side, with their objects' boxes drawn.

The job writes `contact_sheet.png` beside the shards (the first contents of the first
shard). With COCO sources the records carry every annotation's box in view pixels, so
the sheet draws them over the stylized pixels: whoever receives the folder sees at a
glance that boxes and labels match what each image shows. Coloured boxes keep at least
`VISIBLE_MIN` of their area (their category is a view label), grey ones less; the
caption under the first view names the view's primary label, and the photo's when the
crop lost it.

    python -m beam_jobs.sheet DATASET_DIR [--split=val] [--contents=12] [--changed]
                              [--out=PNG]

redraws a sheet from any dataset folder (local or gs://), e.g. for more contents, or
with --changed for the contents whose view labels differ from their photo's (what the
crop cut out), read from every shard.
Records are read with Beam's TFRecord framing, not tf.data, so the launcher never
imports TensorFlow to draw it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys

from apache_beam.io.filesystems import FileSystems
from PIL import Image, ImageDraw, ImageFont

import tfrecords_schema as schema
from tfrecords_schema import tfrecord
from tfrecords_schema.fields import VISIBLE_MIN
from tfrecords_schema.files import SHEET_FILENAME
_COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4",
            "#46f0f0", "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff")


def first_contents(shard_path: str, n: int, keep=None) -> list[list[dict]]:
  """The views of the first n contents of a shard (those whose first view passes
  `keep`, if given), each in view order."""
  with FileSystems.open(shard_path) as f:
    views = (schema.decode_example(raw) for _, raw in tfrecord.iter_records(f, shard_path))
    groups = (list(g) for _, g in itertools.groupby(views, lambda r: r["content_id"]))
    return list(itertools.islice(
        (g for g in groups if keep is None or keep(g[0])), n))


def labels_changed(rec: dict) -> bool:
  """The view's labels differ from the photo's (the crop cut a category out)."""
  return (rec["view_label_ids"] != rec["photo_label_ids"]
          or rec["view_primary_label_id"] != rec["photo_primary_label_id"])


def _caption(rec: dict) -> str:
  if rec["is_original"]:
    return "original"
  name = rec["style_name"] or rec["style_artist"] or rec["style_title"]
  if not name:
    name = rec["style_path"].rsplit("/", 1)[-1]
  return name


def _label_caption(rec: dict) -> str:
  view, photo = rec["view_primary_label"], rec["photo_primary_label"]
  if view == photo:
    return f"[{view}]" if view else ""
  return f"[{view or 'nothing visible'}; photo: {photo}]"


def draw_boxes(img: Image.Image, rec: dict, names: dict[int, str]) -> None:
  """Draws the record's object boxes, scaled from the view's size to img's."""
  if not rec["object_category_ids"]:
    return
  draw, font = ImageDraw.Draw(img), ImageFont.load_default()
  sx, sy = img.width / rec["width"], img.height / rec["height"]
  for i, cat in enumerate(rec["object_category_ids"]):
    kept = rec["object_visible_fraction"][i]
    if kept <= 0:
      continue
    box = (rec["object_xmin"][i] * sx, rec["object_ymin"][i] * sy,
           rec["object_xmax"][i] * sx, rec["object_ymax"][i] * sy)
    visible = kept >= VISIBLE_MIN
    colour = _COLOURS[cat % len(_COLOURS)] if visible else "#a0a0a0"
    draw.rectangle(box, outline=colour, width=2 if visible else 1)
    if visible:
      text = names.get(cat, str(cat))[:12]
      x, y = box[0] + 1, max(0, box[1] - 11) if box[1] >= 11 else box[1] + 1
      draw.rectangle((x - 1, y, x + 6 * len(text) + 1, y + 10), fill=colour)
      draw.text((x, y - 1), text, fill="black", font=font)


def _names(groups: list[list[dict]]) -> dict[int, str]:
  """Category names from the records themselves (photo labels name every object)."""
  out: dict[int, str] = {}
  for views in groups:
    for rec in views:
      out.update(zip(rec["photo_label_ids"], rec["photo_label_names"]))
  return out


def render_contact_sheet(groups: list[list[dict]], cell: int = 0) -> Image.Image:
  """Rows: contents (with their labels); columns: original + stylized views."""
  has_boxes = any(r["object_category_ids"] for g in groups for r in g)
  cell = cell or (192 if has_boxes else 128)
  names = _names(groups)
  cols = max(len(g) for g in groups)
  pad, text_h = 4, 14
  font = ImageFont.load_default()
  sheet = Image.new("RGB", (cols * (cell + pad) + pad,
                            len(groups) * (cell + text_h + pad) + pad), "white")
  draw = ImageDraw.Draw(sheet)
  for r, views in enumerate(groups):
    y = pad + r * (cell + text_h + pad)
    for c, rec in enumerate(views):
      x = pad + c * (cell + pad)
      img = Image.open(io.BytesIO(rec["image"])).convert("RGB").resize((cell, cell))
      draw_boxes(img, rec, names)
      sheet.paste(img, (x, y))
      caption = _caption(rec)
      if c == 0 and _label_caption(rec):
        caption = f"{caption} {_label_caption(rec)}"
      draw.text((x + 1, y + cell + 1), caption[:(cell + pad) * 2 // 6], fill="black",
                font=font)
  return sheet


def write_sheet(dataset_dir: str, split: str = "", contents: int = 6,
                out: str = "", meta: dict | None = None,
                changed: bool = False) -> str | None:
  """Draws the first `contents` contents of `split`'s first shard (default: the first
  split with records) into `out` (default: the folder's contact_sheet.png); returns
  the path, or None without records. meta: the folder's stylized_metadata.json.
  changed: the first contents, over every shard of the split(s), whose view labels
  differ from their photo's."""
  if meta is None:
    import json
    with FileSystems.open(FileSystems.join(dataset_dir, schema.METADATA_FILENAME)) as f:
      meta = json.load(f)
  splits, groups = meta["splits"], []
  for name in ([split] if split else ["train", "val", "test"]):
    for i in range(splits.get(name, {}).get("shards", 0) if changed else
                   int(bool(splits.get(name, {}).get("records")))):
      if len(groups) < contents:
        shard = FileSystems.join(dataset_dir, schema.shard_filename(
            meta["dataset_name"], name, i, splits[name]["shards"]))
        groups += first_contents(shard, contents - len(groups),
                                 labels_changed if changed else None)
    if groups and not changed:
      break  # the plain sheet shows one split
  if not groups:
    return None
  buf = io.BytesIO()
  render_contact_sheet(groups).save(buf, "PNG")
  path = out or FileSystems.join(dataset_dir, SHEET_FILENAME)
  with FileSystems.create(path) as f:
    f.write(buf.getvalue())
  return path


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m beam_jobs.sheet", description=__doc__
                              .split("\n\n")[0])
  p.add_argument("dataset_dir", help="a dataset folder written by beam_jobs.stylize")
  p.add_argument("--split", default="", help="train, val or test (default: the first "
                 "with records)")
  p.add_argument("--contents", type=int, default=6, help="rows: contents to draw")
  p.add_argument("--changed", action="store_true", help="draw the contents whose view "
                 "labels differ from their photo's labels (read from every shard)")
  p.add_argument("--out", default="", help=f"PNG to write (default: DATASET_DIR/"
                 f"{SHEET_FILENAME})")
  a = p.parse_args(argv)
  try:
    path = write_sheet(a.dataset_dir, a.split, a.contents, a.out, changed=a.changed)
  except (OSError, KeyError, ValueError) as e:
    print(f"sheet: cannot draw {a.dataset_dir}: {type(e).__name__}: {e}", file=sys.stderr)
    return 1
  if path is None:
    what = ("no content whose view labels differ from its photo's" if a.changed
            else "no records")
    print(f"sheet: {a.dataset_dir} has {what} in split {a.split or 'any'}",
          file=sys.stderr)
    return 1
  print(f"sheet: wrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
