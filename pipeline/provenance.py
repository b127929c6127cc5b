"""Where a dataset's images come from and under which terms: sources, licences, citations.

Pure functions of the launch plan and the shards' statistics, for the metadata, the
card, `dataset_info.json` and `croissant.json`. They summarise only what the sources
state (COCO's per-image licences, a style manifest's licence columns); a source that
says nothing is reported as "licence unknown", never assumed free.
"""

from __future__ import annotations

import collections
from typing import Iterable, Mapping, Sequence

from pipeline import coco, plan, sources, wikiart

MAGENTA_CITATION = """@inproceedings{ghiasi2017exploring,
  title = {Exploring the structure of a real-time, arbitrary neural artistic
           stylization network},
  author = {Ghiasi, Golnaz and Lee, Honglak and Kudlur, Manjunath and Dumoulin, Vincent
            and Shlens, Jonathon},
  booktitle = {British Machine Vision Conference (BMVC)},
  year = {2017}
}"""
#: Stylizers that run the Magenta arbitrary-stylization network.
MAGENTA_STYLIZERS = ("tflite", "hub")
_RESTRICTIVE = ("noncommercial", "noderivs", "/by-nc", "-nd/", "/by-nd")


def content_source(location: str, coco_annotations: str = "") -> dict:
  """The content source as the metadata names it: kind, root of `content_path`, ..."""
  if location.startswith("tfds:"):
    name = location[len("tfds:"):].rpartition(":")[0]
    is_coco = name.startswith("coco")
    return {"kind": "tfds", "location": location, "root": location,
            "name": coco.NAME if is_coco else name,
            "url": coco.URL if is_coco else "", "annotations": "",
            "citation": coco.CITATION if is_coco else ""}
  info = {"kind": "folder", "location": location, "root": sources.source_root(location),
          "name": "", "url": "", "annotations": "", "citation": ""}
  if coco_annotations:
    info.update(kind="coco", name=coco.NAME, url=coco.URL, citation=coco.CITATION,
                annotations=sources.absolute(coco_annotations))
  return info


def style_source(location: str, layout: str,
                 styles: Sequence[sources.StyleItem] = ()) -> dict:
  """The style source; a manifest's root is the one its styles' paths are relative to
  (its folder, or the folder holding every file it lists; wikiart.common_root)."""
  if location.lower().endswith(".csv"):
    kind, root = "manifest", (wikiart.root_of(styles[0].uri, styles[0].rel_path)
                              if styles else wikiart.manifest_root(location))
  else:
    kind, root = ("wikiart" if layout == "wikiart" else "folder",
                  sources.source_root(location))
  return {"kind": kind, "location": location, "root": root, "name": "", "url": "",
          "citation": ""}


def content_licenses(shard_stats: Iterable[Mapping]) -> list[dict]:
  """[{id, name, url, contents}] over the contents written, most common first."""
  total: collections.Counter = collections.Counter()
  for s in shard_stats:
    for lic in s.get("content_licenses", []):
      total[lic["id"], lic["name"], lic["url"]] += lic["contents"]
  return [{"id": i, "name": name, "url": url, "contents": n}
          for (i, name, url), n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]


def style_licenses(styles: Sequence[sources.StyleItem],
                   shard_stats: Iterable[Mapping]) -> list[dict]:
  """[{name, url, styles, credited}] over the style images used, most common first."""
  used = {int(sid) for s in shard_stats for sid in s.get("style_ids", {})}
  total: collections.Counter = collections.Counter()
  credited: collections.Counter = collections.Counter()
  for st in styles:
    if st.style_id in used:
      key = (st.license, st.license_url)
      total[key] += 1
      credited[key] += bool(st.credit)
  return [{"name": name, "url": url, "styles": n, "credited": credited[name, url]}
          for (name, url), n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]


def _restrictive(lic: Mapping) -> bool:
  text = f"{lic['name']} {lic['url']}".lower().replace(" ", "")
  return any(k.replace(" ", "") in text for k in _RESTRICTIVE)


def licence_notes(contents: Sequence[Mapping], styles: Sequence[Mapping]) -> list[str]:
  """Plain sentences about what the licences allow, from the licences actually found."""
  notes = []
  for what, rows, unit in (("content photos", contents, "contents"),
                           ("style images", styles, "styles")):
    unknown = sum(r[unit] for r in rows if not r["name"] and not r["url"])
    restricted = sum(r[unit] for r in rows if _restrictive(r))
    if restricted:
      notes.append(f"{restricted} {what} are under NonCommercial and/or NoDerivs "
                   "licences: research use only; do not publish stylized copies of them.")
    if unknown:
      notes.append(f"The source gives no licence for {unknown} {what}: check its terms "
                   "before sharing anything derived from them.")
  if not notes:
    notes.append("Every image's licence is known and none is NonCommercial or "
                 "NoDerivs; credit each as its record's licence fields require.")
  return notes


def redistribution_text(contents: Sequence[Mapping], styles: Sequence[Mapping]) -> str:
  """dataset_info.json's redistribution licence: per-record terms, summarised."""
  def listing(rows, unit):
    return "; ".join(f"{r['name'] or 'unknown'}"
                     f"{' <' + r['url'] + '>' if r['url'] else ''}: {r[unit]}"
                     for r in rows) or "none"
  return ("Every image derives from a content photo and (unless original) a style "
          "image, and carries their licences in its record (content_license*, "
          "style_license*, style_credit). Content photos: "
          f"{listing(contents, 'contents')}. Style images: {listing(styles, 'styles')}. "
          + " ".join(licence_notes(contents, styles)))


def citation(content: Mapping, styles: Mapping, stylizer_name: str) -> str:
  """BibTeX of the sources and the stylization network; empty when none is known."""
  parts = [content.get("citation", ""), styles.get("citation", "")]
  if stylizer_name in MAGENTA_STYLIZERS:
    parts.append(MAGENTA_CITATION)
  return "\n\n".join(p for p in parts if p)


def held_out_styles(styles: Sequence[sources.StyleItem], ok_style_ids: Iterable[int],
                    seed: int, fraction: float) -> list[dict]:
  """The styles only val/test use (plan.style_pools), with their names, by id."""
  pools = plan.style_pools(ok_style_ids, seed, fraction)
  held = set(pools["val"]) - set(pools["train"])
  return [{"style_id": s.style_id, "name": s.name, "artist": s.artist, "title": s.title,
           "path": s.rel_path}
          for s in sorted(styles, key=lambda s: s.style_id) if s.style_id in held]
