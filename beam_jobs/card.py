"""The dataset card (`DATASET_CARD.md`) and contact sheet (`contact_sheet.png`).

Written beside the shards so whoever receives the folder can see what it is, how it
was made and what it looks like, without running anything. Distributions come from the
per-shard statistics the writer emits; the contact sheet reads only the first records
of one shard (a content's views are adjacent, so a few contents are a short read).
"""

from __future__ import annotations

import collections
import json
import time

from apache_beam.io.filesystems import FileSystems

import tfrecords_schema as schema
from beam_jobs import sheet
from tfrecords_schema.files import CARD_FILENAME, SHEET_FILENAME


def _top(counter: dict, n: int = 15) -> str:
  items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
  rows = [f"| {name} | {count} |" for name, count in items[:n]]
  rest = sum(c for _, c in items[n:])
  if rest:
    rows.append(f"| ({len(items) - n} more) | {rest} |")
  return "\n".join(rows)


def _geometry(g: dict, policy: str) -> list[str]:
  """How the view labels differ from the photo labels (contents with boxes)."""
  if not g.get("contents"):
    return []
  return [f"Labels and the {policy} geometry ({g['contents']} contents with boxes, "
          f"{g.get('objects', 0)} objects, {g.get('objects_cropped_out', 0)} wholly "
          f"outside the view): {g.get('photo_labels_not_visible', 0)} of "
          f"{g.get('photo_labels', 0)} photo labels are not view labels; the primary "
          f"label differs for {g.get('primary_changed', 0)} contents, and for "
          f"{g.get('primary_not_visible', 0)} of them the photo's primary is not "
          "visible in the view (SCHEMA.md, Objects and labels).", ""]


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
  sheet_written = sheet.write_sheet(out_dir, meta=metadata) is not None

  per_split: dict[str, dict] = collections.defaultdict(
      lambda: {"labels": collections.Counter(), "styles": collections.Counter(),
               "style_names": collections.Counter(), "geometry": collections.Counter()})
  for s in shard_stats:
    d = per_split[s["split"]]
    d["labels"].update(s.get("labels", {}))
    d["styles"].update(s.get("style_ids", {}))
    d["style_names"].update(s.get("style_names", {}))
    d["geometry"].update(s.get("label_geometry", {}))
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
        "", f"## {split}: content labels (`view_primary_label`, per content)", "",
        "| label | contents |", "|---|---|", _top(d["labels"]), "",
        *_geometry(d["geometry"], m["image"]["resize_policy"]),
        f"## {split}: styles", "",
        f"{len(uses)} distinct style images, used {uses[0] if uses else 0} to "
        f"{uses[-1] if uses else 0} times each.", "",
        "| style / movement | stylized records |", "|---|---|", _top(d["style_names"]),
    ]
  if sheet_written:
    lines += ["", "## Contact sheet", "",
              "Rows: the first contents of the first shard; columns: their views, with "
              "the objects' boxes where the records carry them (coloured: visible "
              "enough to label the view; grey: mostly cropped out). Redraw it, or draw "
              "more, with `python -m beam_jobs.sheet DATASET_DIR`.", "",
              f"![contact sheet]({SHEET_FILENAME})"]
  lines += _held_out(m.get("held_out_styles", []))
  lines += _licences(m)
  with FileSystems.create(FileSystems.join(out_dir, CARD_FILENAME)) as f:
    f.write("\n".join(lines).encode("utf-8"))
