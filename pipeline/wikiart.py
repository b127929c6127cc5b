"""WikiArt-style style sources: the `<Style>/<artist>_<title>.jpg` layout or a CSV manifest.

Both give StyleItems with metadata (style/movement, artist, genre, title; from a
manifest also credit line, licence, licence URL, public URL and the work's id at its
source when it has such columns, so every record can say whom to credit and where the
painting is), then the same filters: by style, by artist, at most N per artist, at
most N overall. Subsampling
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
#: A public URL of the image; `aic_image_url` as in the Art Institute of Chicago's
#: open-access exports (../shared/data/paintings_aic/labels.csv).
URL_COLUMNS = ("url", "image_url", "public_url", "source_url", "aic_image_url")
#: The work's id at its source (museum object id, WikiArt id, ...), for the metadata.
SOURCE_ID_COLUMNS = ("source_id", "object_id", "artwork_id", "aic_artwork_id")


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
  source_id: str = ""    # ... from SOURCE_ID_COLUMNS: the work's id at its source


def manifest_styles(manifest: str, columns: ManifestColumns = ManifestColumns(),
                    root: str | None = None) -> list[StyleItem]:
  """Styles listed in a CSV manifest; relative paths are relative to `root`, by default
  the manifest's folder. Every item's `rel_path` (the records' `style_path`) is relative
  to `common_root`, the id is its stable_id: absolute paths under the manifest's folder
  get the ids relative paths would, and keep them when the data moves."""
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
  source_id = pick(columns.source_id, SOURCE_ID_COLUMNS)
  for given in (columns.url, columns.source_id):
    if given and given not in header:
      raise SourceError(f"style manifest {manifest!r} has no column {given!r} "
                        f"(found {header})")

  def get(row: dict, column: str) -> str:
    return (row.get(column) or "").strip() if column else ""

  rows, seen = [], set()
  for n, row in enumerate(reader, start=2):
    given = get(row, path_col)
    if not given:
      raise SourceError(f"{manifest!r} line {n}: empty {path_col!r}")
    if given in seen:
      raise SourceError(f"{manifest!r} line {n}: {given!r} listed twice")
    seen.add(given)
    uri = given if ("://" in given or given.startswith("/")) else (
        FileSystems.join(base, given) if base else given)
    rows.append((uri, row))
  if not rows:
    raise SourceError(f"style manifest {manifest!r} lists no files")
  top = common_root(base, [uri for uri, _ in rows])
  items = []
  for uri, row in rows:
    rel = uri[len(top):].lstrip("/") if top else uri
    items.append(StyleItem(
        stable_id(rel), uri, rel, name=get(row, columns.style),
        artist=get(row, columns.artist), genre=get(row, columns.genre),
        title=get(row, columns.title), source_url=get(row, url),
        source_id=get(row, source_id), credit=get(row, credit), license=get(row, lic),
        license_url=get(row, lic_url)))
  if len({s.style_id for s in items}) != len(items):
    raise SourceError(f"style manifest {manifest!r} names one file twice")
  return items


def common_root(base: str, uris: Sequence[str]) -> str:
  """The folder style paths are relative to: `base` (the manifest's folder) when every
  file is below it, else the deepest folder holding them all ('' when none does, e.g.
  two buckets: the paths stay whole URIs)."""
  def under(uri: str, folder: str) -> bool:
    return bool(folder) and uri.startswith(folder.rstrip("/") + "/")
  if all(under(u, base) for u in uris):
    return base
  parts = [u.split("/")[:-1] for u in uris]  # each file's folders
  shared = []
  for names in zip(*parts):
    if len(set(names)) > 1:
      break
    shared.append(names[0])
  if shared == [""]:
    return "/"
  top = "/".join(shared)
  return "" if not top or top.endswith((":", ":/")) else top  # only a scheme: none


def root_of(uri: str, rel_path: str) -> str:
  """The root an item's rel_path is relative to (its uri without rel_path)."""
  if rel_path == uri or not uri.endswith(rel_path):
    return ""
  return uri[:-len(rel_path)].rstrip("/") or "/"


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
