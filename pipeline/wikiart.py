"""WikiArt-style style sources: the `<Style>/<artist>_<title>.jpg` layout or a CSV manifest.

Both give StyleItems with metadata (style/movement, artist, genre, title; from a
manifest also credit line, licence, licence URL and public URL when it has such
columns, so every record can say whom to credit), then the same filters: by style, by artist, at most N per artist, at most N overall. Subsampling
is deterministic from a seed (a seeded hash order, not the listing order), so adding
files to a folder does not reshuffle which of the old ones are chosen.

Manifest fields are data only: read with the csv module, never evaluated.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import posixpath
from typing import Iterable, Sequence

from pipeline.sources import SourceError, StyleItem, list_files, stable_id
from pipeline.sources import absolute as sources_absolute

PATH_COLUMNS = ("path", "file", "filename", "image", "uri")
#: Columns looked for, in order, when ManifestColumns leaves one empty.
CREDIT_COLUMNS = ("credit", "credit_line", "attribution")
LICENSE_COLUMNS = ("license", "licence", "license_name", "licence_name")
LICENSE_URL_COLUMNS = ("license_url", "licence_url")
URL_COLUMNS = ("url", "image_url", "public_url", "source_url")


def _words(text: str) -> str:
  return " ".join(text.replace("_", " ").replace("-", " ").split())


def parse_wikiart_path(rel_path: str) -> tuple[str, str, str]:
  """'Impressionism/claude-monet_water-lilies-1916.jpg' -> (style, artist, title).

  Names keep WikiArt's spelling with separators turned into spaces
  ('Early_Renaissance' -> 'Early Renaissance', 'claude-monet' -> 'claude monet').
  """
  parts = rel_path.split("/")
  style = _words(parts[-2]) if len(parts) >= 2 else ""
  stem = posixpath.splitext(parts[-1])[0]
  artist, sep, title = stem.partition("_")
  if not sep:
    artist, title = "", stem
  return style, _words(artist), _words(title)


def wikiart_folder_styles(location: str) -> list[StyleItem]:
  """Every file below `location`, style and artist taken from its path."""
  items = []
  for uri, rel in list_files(location):
    style, artist, title = parse_wikiart_path(rel)
    items.append(StyleItem(stable_id(rel), uri, rel, name=style, artist=artist,
                           title=title))
  return items


@dataclasses.dataclass(frozen=True)
class ManifestColumns:
  """Which CSV column holds which field ('' = not present, or auto-detected)."""
  path: str = ""       # auto-detected from PATH_COLUMNS when empty
  style: str = "style"
  artist: str = "artist"
  genre: str = "genre"
  title: str = "title"
  credit: str = ""       # auto-detected from CREDIT_COLUMNS when empty
  license: str = ""      # ... from LICENSE_COLUMNS
  license_url: str = ""  # ... from LICENSE_URL_COLUMNS
  url: str = ""          # ... from URL_COLUMNS: a public URL of the image


def manifest_styles(manifest: str, columns: ManifestColumns = ManifestColumns(),
                    root: str | None = None) -> list[StyleItem]:
  """Styles listed in a CSV manifest; relative paths are relative to `root`, by default
  the manifest's folder. The id is stable_id of the path as written in the manifest."""
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(manifest) as f:
      text = f.read().decode("utf-8-sig")
  except Exception as e:
    raise SourceError(f"cannot read style manifest {manifest!r}: {e}") from e
  reader = csv.DictReader(io.StringIO(text))
  header = reader.fieldnames or []
  path_col = columns.path or next((c for c in PATH_COLUMNS if c in header), "")
  if path_col not in header:
    raise SourceError(f"style manifest {manifest!r} has no path column (looked for "
                      f"{columns.path or ', '.join(PATH_COLUMNS)}; found {header})")
  base = root if root is not None else manifest_root(manifest)

  def pick(given: str, candidates: Sequence[str]) -> str:
    return given or next((c for c in candidates if c in header), "")

  credit, lic = pick(columns.credit, CREDIT_COLUMNS), pick(columns.license, LICENSE_COLUMNS)
  lic_url, url = (pick(columns.license_url, LICENSE_URL_COLUMNS),
                  pick(columns.url, URL_COLUMNS))

  def get(row: dict, column: str) -> str:
    return (row.get(column) or "").strip() if column else ""

  items, seen = [], set()
  for n, row in enumerate(reader, start=2):
    rel = get(row, path_col)
    if not rel:
      raise SourceError(f"{manifest!r} line {n}: empty {path_col!r}")
    if rel in seen:
      raise SourceError(f"{manifest!r} line {n}: {rel!r} listed twice")
    seen.add(rel)
    uri = rel if ("://" in rel or rel.startswith("/")) else (
        FileSystems.join(base, rel) if base else rel)
    items.append(StyleItem(
        stable_id(rel), uri, rel, name=get(row, columns.style),
        artist=get(row, columns.artist), genre=get(row, columns.genre),
        title=get(row, columns.title), source_url=get(row, url),
        credit=get(row, credit), license=get(row, lic), license_url=get(row, lic_url)))
  if not items:
    raise SourceError(f"style manifest {manifest!r} lists no files")
  return items


def manifest_root(manifest: str) -> str:
  """The folder a manifest's relative paths (and so style ids) are relative to."""
  return posixpath.dirname(sources_absolute(manifest))


def _order(seed: int, item: StyleItem) -> bytes:
  return hashlib.sha256(f"{seed}:{item.style_id}".encode()).digest()


def filter_styles(items: Iterable[StyleItem], *, styles: Sequence[str] = (),
                  artists: Sequence[str] = (), max_per_artist: int = 0,
                  max_total: int = 0, seed: int = 0) -> list[StyleItem]:
  """Keeps the styles a user asked for; sorted by id. Matching is case-insensitive and
  ignores '_'/'-' vs space, so 'impressionism' or 'Early_Renaissance' both work."""
  want_styles = {_words(s).lower() for s in styles if s.strip()}
  want_artists = {_words(a).lower() for a in artists if a.strip()}
  kept = [s for s in items
          if (not want_styles or _words(s.name).lower() in want_styles)
          and (not want_artists or _words(s.artist).lower() in want_artists)]
  kept.sort(key=lambda s: _order(seed, s))
  if max_per_artist:
    per: dict[str, int] = {}
    capped = []
    for s in kept:
      key = _words(s.artist).lower()
      if per.get(key, 0) < max_per_artist:
        per[key] = per.get(key, 0) + 1
        capped.append(s)
    kept = capped
  if max_total:
    kept = kept[:max_total]
  return sorted(kept, key=lambda s: s.style_id)
