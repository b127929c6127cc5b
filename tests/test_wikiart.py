"""WikiArt layout and CSV manifest sources, and the filters users select styles with."""

import csv

import pytest

from pipeline import wikiart
from pipeline.sources import SourceError

FILES = [
    "Impressionism/claude-monet_water-lilies-1916.jpg",
    "Impressionism/claude-monet_haystacks.jpg",
    "Impressionism/claude-monet_rouen-cathedral.jpg",
    "Impressionism/pierre-auguste-renoir_bal-du-moulin.jpg",
    "Early_Renaissance/sandro-botticelli_primavera.jpg",
    "Cubism/pablo-picasso_guernica.jpg",
]


@pytest.fixture
def wikiart_dir(tmp_path):
  for rel in FILES:
    p = tmp_path / "wikiart" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
  return tmp_path / "wikiart"


def test_path_gives_style_artist_and_title():
  assert wikiart.parse_wikiart_path(FILES[0]) == (
      "Impressionism", "claude monet", "water lilies 1916")
  assert wikiart.parse_wikiart_path("Early_Renaissance/x_y.jpg")[0] == "Early Renaissance"
  assert wikiart.parse_wikiart_path("loose.jpg") == ("", "", "loose")


def test_folder_layout_with_filters_selects_exactly_the_expected_files(wikiart_dir):
  items = wikiart.wikiart_folder_styles(str(wikiart_dir))
  assert sorted(s.rel_path for s in items) == sorted(FILES)
  impressionism = wikiart.filter_styles(items, styles=["impressionism"])
  assert sorted(s.rel_path for s in impressionism) == sorted(FILES[:4])
  capped = wikiart.filter_styles(items, styles=["Impressionism"], max_per_artist=1)
  assert sorted(s.artist for s in capped) == ["claude monet", "pierre auguste renoir"]
  monet = [s.rel_path for s in wikiart.filter_styles(items, artists=["claude-monet"])]
  assert sorted(monet) == sorted(FILES[:3])
  renaissance = wikiart.filter_styles(items, styles=["Early_Renaissance", "cubism"])
  assert sorted(s.rel_path for s in renaissance) == sorted(FILES[4:])


def test_subsampling_is_deterministic_and_stable_under_additions(wikiart_dir):
  items = wikiart.wikiart_folder_styles(str(wikiart_dir))
  a = wikiart.filter_styles(items, max_per_artist=2, seed=5)
  assert a == wikiart.filter_styles(list(reversed(items)), max_per_artist=2, seed=5)
  monet = {s.rel_path for s in a if s.artist == "claude monet"}
  assert len(monet) == 2
  seeds = {frozenset(s.rel_path for s in wikiart.filter_styles(items, max_total=3,
                                                               seed=k))
           for k in range(8)}
  assert len(seeds) > 1  # the seed matters
  extra = wikiart_dir / "Cubism" / "georges-braque_violin.jpg"
  extra.write_bytes(b"x")
  again = wikiart.filter_styles(wikiart.wikiart_folder_styles(str(wikiart_dir)),
                                artists=["claude monet"], max_per_artist=2, seed=5)
  assert {s.rel_path for s in again} == monet  # an unrelated new file changes nothing


def test_csv_manifest_with_filters(tmp_path):
  (tmp_path / "images").mkdir()
  rows = [("images/1.jpg", "Monet", "Impressionism", "landscape"),
          ("images/2.jpg", "Monet", "Impressionism", "portrait"),
          ("images/3.jpg", "Hals", "Baroque", "portrait"),
          ("images/4.jpg", "Cassatt", "", "=cmd|' /C calc'!A0")]  # data, never evaluated
  manifest = tmp_path / "labels.csv"
  manifest.write_text("file,artist,style,genre\n"
                      + "".join(",".join(f'"{x}"' for x in r) + "\n" for r in rows))
  items = wikiart.manifest_styles(str(manifest))
  assert [s.uri for s in items] == [str(tmp_path / r[0]) for r in rows]
  assert items[3].genre == "=cmd|' /C calc'!A0" and items[3].name == ""
  chosen = wikiart.filter_styles(items, styles=["impressionism"], max_per_artist=1)
  assert len(chosen) == 1 and chosen[0].artist == "Monet"
  by_artist = wikiart.filter_styles(items, artists=["Hals", "Cassatt"])
  assert sorted(s.rel_path for s in by_artist) == ["images/3.jpg", "images/4.jpg"]


def test_manifest_errors_are_clear(tmp_path):
  bad = tmp_path / "bad.csv"
  bad.write_text("name,artist\nx,y\n")
  with pytest.raises(SourceError, match="no path column"):
    wikiart.manifest_styles(str(bad))
  dup = tmp_path / "dup.csv"
  dup.write_text("path\na.jpg\na.jpg\n")
  with pytest.raises(SourceError, match="listed twice"):
    wikiart.manifest_styles(str(dup))


def test_shared_paintings_manifest(paintings_dir):
  manifest = paintings_dir.parent / "labels.csv"
  items = wikiart.manifest_styles(str(manifest))
  assert len(items) == 191 and all(s.artist for s in items)
  with_style = [s for s in items if s.name]
  assert len(with_style) == 73  # the README: movement filled for 73 of 191
  impressionist = wikiart.filter_styles(items, styles=["Impressionism"])
  assert impressionist and all(s.name == "Impressionism" for s in impressionist)
  by_period = wikiart.manifest_styles(str(manifest), wikiart.ManifestColumns(
      style="label"))
  assert len({s.name for s in by_period}) == 8


def test_manifest_credit_and_licence_columns_are_kept(tmp_path):
  (tmp_path / "manifest.csv").write_text(
      "path,artist,licence,licence_url,credit_line,image_url\n"
      "a.jpg,Monet,CC0 1.0,https://creativecommons.org/publicdomain/zero/1.0/,"
      "\"Claude Monet, Water Lilies, 1906. Art Institute of Chicago\",https://x/a.jpg\n"
      "b.jpg,Hals,,,,\n")
  a, b = sorted(wikiart.manifest_styles(str(tmp_path / "manifest.csv")),
                key=lambda s: s.rel_path)
  assert (a.license, a.license_url, a.credit, a.source_url) == (
      "CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/",
      "Claude Monet, Water Lilies, 1906. Art Institute of Chicago", "https://x/a.jpg")
  assert (b.license, b.credit, b.source_url) == ("", "", "")
  assert wikiart.manifest_root(str(tmp_path / "manifest.csv")) == str(tmp_path)


def test_manifest_url_and_source_id_columns_fill_the_style(tmp_path):
  (tmp_path / "manifest.csv").write_text(
      "path,artist,url,source_id\n"
      "a.jpg,Monet,https://example.org/a.jpg,AIC-16568\n"
      "b.jpg,Hals,,\n")
  a, b = sorted(wikiart.manifest_styles(str(tmp_path / "manifest.csv")),
                key=lambda s: s.rel_path)
  assert (a.source_url, a.source_id) == ("https://example.org/a.jpg", "AIC-16568")
  assert (b.source_url, b.source_id) == ("", "")
  with pytest.raises(SourceError, match="no column 'link'"):
    wikiart.manifest_styles(str(tmp_path / "manifest.csv"),
                            wikiart.ManifestColumns(url="link"))


def test_the_shared_aic_labels_give_public_urls_and_artwork_ids(paintings_dir):
  """../shared's labels.csv as it is: aic_image_url and aic_artwork_id are read as the
  public URL and the source id, without naming them."""
  manifest = paintings_dir.parent / "labels.csv"
  with open(manifest, newline="") as f:
    rows = {r["file"]: r for r in csv.DictReader(f)}
  items = wikiart.manifest_styles(str(manifest))
  assert len(items) == len(rows) == 191
  for s in items:
    row = rows[s.rel_path]
    assert s.source_url == row["aic_image_url"].strip() and s.source_url.startswith(
        "https://www.artic.edu/")
    assert s.source_id == row["aic_artwork_id"] and s.source_id


def test_style_paths_are_relative_to_the_root_even_when_the_manifest_is_absolute(tmp_path):
  """style_path (rel_path) is relative to the source root the metadata names, and the
  ids do not depend on how the manifest spells the path."""
  (tmp_path / "m" / "images").mkdir(parents=True)
  (tmp_path / "elsewhere").mkdir()
  relative = tmp_path / "m" / "relative.csv"
  relative.write_text("path\nimages/a.jpg\nimages/b.jpg\n")
  absolute = tmp_path / "m" / "absolute.csv"
  absolute.write_text(f"path\n{tmp_path}/m/images/a.jpg\n{tmp_path}/m/images/b.jpg\n")
  rel_items = wikiart.manifest_styles(str(relative))
  abs_items = wikiart.manifest_styles(str(absolute))
  assert [s.rel_path for s in abs_items] == ["images/a.jpg", "images/b.jpg"]
  assert [(s.style_id, s.uri) for s in abs_items] == [(s.style_id, s.uri)
                                                      for s in rel_items]
  for s in abs_items:
    assert wikiart.root_of(s.uri, s.rel_path) == str(tmp_path / "m")
  # A file outside the manifest's folder: paths become relative to the folder that
  # holds them all, never absolute.
  mixed = tmp_path / "m" / "mixed.csv"
  mixed.write_text(f"path\nimages/a.jpg\n{tmp_path}/elsewhere/c.jpg\n")
  items = wikiart.manifest_styles(str(mixed))
  assert [s.rel_path for s in items] == ["m/images/a.jpg", "elsewhere/c.jpg"]
  assert {wikiart.root_of(s.uri, s.rel_path) for s in items} == {str(tmp_path)}
  # Two buckets have no common folder: the paths stay whole URIs, the root empty.
  assert wikiart.common_root("/data", ["gs://a/x.jpg", "gs://b/y.jpg"]) == ""
  assert wikiart.common_root("/data", ["gs://a/s/x.jpg", "gs://a/s/t/y.jpg"]) == "gs://a/s"


def test_the_job_flags_name_other_url_and_source_id_columns(tmp_path):
  from beam_jobs import flags, launch
  (tmp_path / "m.csv").write_text("path,link,museum_no\na.jpg,https://x/a.jpg,A-1\n")
  argv = [f"--styles={tmp_path / 'm.csv'}", "--content=x", "--output=y"]
  args = flags.build_parser().parse_known_args(argv)[0]
  assert [(s.source_url, s.source_id) for s in launch.list_styles(args)] == [("", "")]
  args = flags.build_parser().parse_known_args(argv + [
      "--manifest_url_column=link", "--manifest_source_id_column=museum_no"])[0]
  assert [(s.source_url, s.source_id) for s in launch.list_styles(args)] == [
      ("https://x/a.jpg", "A-1")]
