"""Licence summaries say what the sources state, and nothing they do not."""

from pipeline import plan, provenance
from pipeline.sources import StyleItem

BY_NC_ND = {"id": 3, "name": "Attribution-NonCommercial-NoDerivs License",
            "url": "http://creativecommons.org/licenses/by-nc-nd/2.0/"}
BY = {"id": 4, "name": "Attribution License",
      "url": "http://creativecommons.org/licenses/by/2.0/"}
CC0 = {"name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}


def _stats(*licences):
  return [{"content_licenses": [dict(lic, contents=n) for lic, n in licences],
           "style_ids": {"1": 2, "2": 1}}]


def test_licences_are_counted_over_shards_and_notes_follow_them():
  stats = _stats((BY_NC_ND, 3), (BY, 1)) + _stats((BY_NC_ND, 2))
  contents = provenance.content_licenses(stats)
  assert [(c["name"], c["contents"]) for c in contents] == [
      (BY_NC_ND["name"], 5), (BY["name"], 1)]
  styles = provenance.style_licenses(
      [StyleItem(1, "1.jpg", "1.jpg", credit="Monet, 1906", license=CC0["name"],
                 license_url=CC0["url"]),
       StyleItem(2, "2.jpg", "2.jpg", credit=""),
       StyleItem(3, "3.jpg", "3.jpg", license="unused")], stats)
  assert styles == [{"name": "", "url": "", "styles": 1, "credited": 0},
                    {"name": "CC0 1.0", "url": CC0["url"], "styles": 1, "credited": 1}]
  notes = provenance.licence_notes(contents, styles)
  assert notes == [
      "5 content photos are under NonCommercial and/or NoDerivs licences: research use "
      "only; do not publish stylized copies of them.",
      "The source gives no licence for 1 style images: check its terms before sharing "
      "anything derived from them."]
  text = provenance.redistribution_text(contents, styles)
  assert BY_NC_ND["url"] in text and "CC0 1.0" in text and notes[0] in text


def test_free_licences_get_no_warning_and_nothing_is_assumed():
  free = provenance.content_licenses(_stats((BY, 2)))
  assert provenance.licence_notes(free, []) == [
      "Every image's licence is known and none is NonCommercial or NoDerivs; credit "
      "each as its record's licence fields require."]
  unknown = provenance.content_licenses(_stats(({"id": -1, "name": "", "url": ""}, 4)))
  assert "no licence for 4 content photos" in provenance.licence_notes(unknown, [])[0]


def test_citations_follow_the_sources_and_the_model():
  coco = provenance.content_source("photos/", "ann.json")
  folder = provenance.style_source("paintings/", "folder")
  assert coco["kind"] == "coco" and coco["annotations"].endswith("/ann.json")
  assert "lin2014coco" in provenance.citation(coco, folder, "classical")
  assert "ghiasi2017" not in provenance.citation(coco, folder, "classical")
  assert "ghiasi2017" in provenance.citation(coco, folder, "tflite")
  plain = provenance.content_source("photos/")
  assert plain["kind"] == "folder" and provenance.citation(plain, folder, "classical") == ""
  assert provenance.content_source("tfds:coco/2017:train")["root"] == "tfds:coco/2017:train"


def test_held_out_styles_are_the_plans():
  styles = [StyleItem(i, f"/s/{i}.jpg", f"{i}.jpg", name=f"s{i}") for i in range(10)]
  held = provenance.held_out_styles(styles, range(10), seed=3, fraction=0.3)
  pools = plan.style_pools(range(10), 3, 0.3)
  assert {h["style_id"] for h in held} == set(pools["test"]) == (
      set(range(10)) - set(pools["train"]))
  assert len(held) == 3 and held[0]["path"] == f"{held[0]['style_id']}.jpg"
  assert provenance.held_out_styles(styles, range(10), seed=3, fraction=0.0) == []
