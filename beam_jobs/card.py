"""The dataset card (`DATASET_CARD.md`) and contact sheet (`contact_sheet.png`).

Written beside the shards so whoever receives the folder can see what it is, how it
was made and what it looks like, without running anything. Distributions come from the
per-shard statistics the writer emits; the contact sheet reads only the first records
of one shard (a content's views are adjacent, so a few contents are a short read).
"""

from __future__ import annotations

import collections
import io
import json
import time

import numpy as np
from apache_beam.io.filesystems import FileSystems
from PIL import Image, ImageDraw, ImageFont

import tfrecords_schema as schema

CARD_FILENAME = "DATASET_CARD.md"
SHEET_FILENAME = "contact_sheet.png"


def _first_contents(shard_path: str, n: int) -> list[list[dict]]:
  """The views of the first n contents of a shard, each in view order.

  Read with Beam's own TFRecord framing, not tf.data: the launcher then never imports
  TensorFlow just to draw the contact sheet (~4.5 s of every job)."""
  from apache_beam.io.tfrecordio import _TFRecordUtil
  groups: list[list[dict]] = []
  with FileSystems.open(shard_path) as f:
    for raw in iter(lambda: _TFRecordUtil.read_record(f), None):
      rec = schema.decode_example(raw)
      if not groups or groups[-1][0]["content_id"] != rec["content_id"]:
        if len(groups) == n:
          break
        groups.append([])
      groups[-1].append(rec)
  return groups


def _caption(rec: dict) -> str:
  if rec["is_original"]:
    return "original"
  name = rec["style_name"] or rec["style_artist"] or rec["style_title"]
  if not name:
    name = rec["style_path"].rsplit("/", 1)[-1]
  return name


def render_contact_sheet(groups: list[list[dict]], cell: int = 128) -> Image.Image:
  """Rows: contents (with their primary label); columns: original + stylized views."""
  cols = max(len(g) for g in groups)
  pad, text_h, label_w = 4, 14, 0
  font = ImageFont.load_default()
  sheet = Image.new("RGB", (label_w + cols * (cell + pad) + pad,
                            len(groups) * (cell + text_h + pad) + pad), "white")
  draw = ImageDraw.Draw(sheet)
  for r, views in enumerate(groups):
    y = pad + r * (cell + text_h + pad)
    for c, rec in enumerate(views):
      x = label_w + pad + c * (cell + pad)
      img = Image.open(io.BytesIO(rec["image"])).convert("RGB").resize((cell, cell))
      sheet.paste(img, (x, y))
      caption = _caption(rec)
      if c == 0 and rec["content_primary_label"]:
        caption = f"{caption} [{rec['content_primary_label']}]"
      draw.text((x + 1, y + cell + 1), caption[:cell // 6], fill="black", font=font)
  return sheet


def _top(counter: dict, n: int = 15) -> str:
  items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
  rows = [f"| {name} | {count} |" for name, count in items[:n]]
  rest = sum(c for _, c in items[n:])
  if rest:
    rows.append(f"| ({len(items) - n} more) | {rest} |")
  return "\n".join(rows)


def _source(src: dict) -> str:
  named = f"{src['name']} ({src['url']}), " if src["name"] else ""
  return f"{named}{src['kind']} source at `{src['root']}`"


def _held_out(held: list[dict]) -> list[str]:
  if not held:
    return []
  rows = [f"| {h['style_id']} | {h['name']} | {h['artist']} | {h['title']} | "
          f"{h['path']} |" for h in held]
  return ["", "## Held-out styles", "",
          f"{len(held)} styles are used only by val and test (train never sees them):",
          "", "| style_id | style | artist | title | path |", "|---|---|---|---|---|",
          *rows]


def _licences(m: dict) -> list[str]:
  """The licences the sources actually give, with counts, and what they allow."""
  lines = ["", "## Licences", "",
           "Every image derives from a content photo and (unless original) a style "
           "image; each record carries their licence fields as the sources give them."]
  for key, unit in (("content", "contents"), ("styles", "styles")):
    licences = m["sources"][key]["licenses"]
    lines += ["", f"| {key} licence | {unit} |", "|---|---|"]
    lines += [f"| {lic['name'] or '(not given by the source)'}"
              f"{' <' + lic['url'] + '>' if lic['url'] else ''} | {lic[unit]} |"
              for lic in licences] or ["| (none written) | 0 |"]
  lines += [""] + [f"- {note}" for note in m.get("license_notes", [])]
  if m.get("citation"):
    lines += ["", "Cite:", "", "```bibtex", m["citation"], "```"]
  return lines + [""]


def write_card(out_dir: str, metadata: dict, shard_stats: list[dict],
               dead_letters: list[str]) -> None:
  """Writes DATASET_CARD.md and contact_sheet.png into out_dir (the staging folder)."""
  name = metadata["dataset_name"]
  splits = metadata["splits"]
  sheet_written = False
  for split in ("train", "val", "test"):
    if split in splits and splits[split]["records"]:
      shard = FileSystems.join(out_dir, schema.shard_filename(
          name, split, 0, splits[split]["shards"]))
      groups = _first_contents(shard, 6)
      if groups:
        buf = io.BytesIO()
        render_contact_sheet(groups).save(buf, "PNG")
        with FileSystems.create(FileSystems.join(out_dir, SHEET_FILENAME)) as f:
          f.write(buf.getvalue())
        sheet_written = True
        break

  per_split: dict[str, dict] = collections.defaultdict(
      lambda: {"labels": collections.Counter(), "styles": collections.Counter(),
               "style_names": collections.Counter()})
  for s in shard_stats:
    d = per_split[s["split"]]
    d["labels"].update(s.get("labels", {}))
    d["styles"].update(s.get("style_ids", {}))
    d["style_names"].update(s.get("style_names", {}))
  reasons = collections.Counter(json.loads(line)["reason"] for line in dead_letters)

  m = metadata
  lines = [
      f"# Dataset card: {name}", "",
      f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
      f"`python -m beam_jobs.stylize`, record schema version {m['schema_version']} "
      f"(fields, rules and reading recipes: `{schema.SCHEMA_FILENAME}` in this folder; "
      f"per-record index: `{schema.INDEX_FILENAME}`; Croissant metadata: "
      f"`{schema.CROISSANT_FILENAME}`).", "",
      "```", f"python -m beam_jobs.stylize {m['command']}", "```", "",
      "## Inputs and method", "",
      f"- Contents: {_source(m['sources']['content'])} "
      f"({m['inputs']['contents_listed']} files)",
      f"- Styles: {_source(m['sources']['styles'])} ({m['inputs']['styles_listed']} "
      "files)",
      f"- Stylizer: {m['stylizer'].get('network') or 'no published network'}: "
      f"`{m['stylizer']['spec']}`, version `{m['stylizer']['version']}` (files and "
      "sha256 in SCHEMA.md)",
      f"- {m['plan']['styles_per_content']} styles per content, strength "
      f"{m['plan']['style_strength']}, original view "
      f"{'included' if m['plan']['include_original'] else 'not included'}, seed "
      f"{m['plan']['seed']}, split fractions {m['plan']['split_fractions']}, held-out "
      f"style fraction {m['plan']['holdout_style_fraction']}",
      f"- Images: {m['image']['size']}x{m['image']['size']} {m['image']['format']} "
      f"({m['image']['resize_policy']})",
      f"- Inputs that failed (in `{schema.DEAD_LETTER_FILENAME}`): {m['dead_letters']}"
      + (" (" + ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) + ")"
         if reasons else ""),
      "", "## Splits", "", "| split | contents | records | shards | bytes |",
      "|---|---|---|---|---|",
  ]
  for split, v in sorted(splits.items()):
    lines.append(f"| {split} | {v['contents']} | {v['records']} | {v['shards']} | "
                 f"{v['bytes']:,} |")
  for split, d in sorted(per_split.items()):
    uses = sorted(d["styles"].values())
    lines += [
        "", f"## {split}: content labels (primary label, per content)", "",
        "| label | contents |", "|---|---|", _top(d["labels"]), "",
        f"## {split}: styles", "",
        f"{len(uses)} distinct style images, used {uses[0] if uses else 0} to "
        f"{uses[-1] if uses else 0} times each.", "",
        "| style / movement | stylized records |", "|---|---|", _top(d["style_names"]),
    ]
  if sheet_written:
    lines += ["", "## Contact sheet", "",
              "Rows: the first contents of the first shard; columns: their views.", "",
              f"![contact sheet]({SHEET_FILENAME})"]
  lines += _held_out(m.get("held_out_styles", []))
  lines += _licences(m)
  with FileSystems.create(FileSystems.join(out_dir, CARD_FILENAME)) as f:
    f.write("\n".join(lines).encode("utf-8"))
