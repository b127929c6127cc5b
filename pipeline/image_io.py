"""Image bytes <-> uint8 RGB arrays, hardened for untrusted photo collections.

Every decode failure becomes an `ImageError` with a stable `reason` code, so the job can
count and route bad inputs (dead-letter output, dataset card stats) instead of crashing a
bundle. Only Pillow and numpy are needed here; Beam is imported lazily for remote reads.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.geometry import PAD_VALUE, RESIZE_POLICIES, SquareLayout, square_layout  # noqa: F401

EMPTY = "empty_file"
TRUNCATED = "truncated"
UNRECOGNIZED = "unrecognized_format"
BOMB = "decompression_bomb"
TOO_SMALL = "too_small"
TOO_LARGE_FILE = "file_too_large"
READ_FAILED = "read_failed"
DECODE_FAILED = "decode_failed"

DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_BYTES = 200 * 2**20

#: Formats we let Pillow try. Raster photo formats only: the long tail of Pillow plugins
#: (EPS runs Ghostscript, others are rarely fuzzed) is attack surface we do not need.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF")


# Greyscale modes whose samples are wider than 8 bits; Pillow's own convert() clips them.
_WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_RESAMPLE = Image.Resampling.LANCZOS
_REDUCING_GAP = 3.0  # Pillow's docs: >= 3 is indistinguishable from a plain resample.
_READ_CHUNK = 8 * 2**20


class ImageError(ValueError):
  """Typed failure with a machine-readable `reason` code and a human message."""

  def __init__(self, reason: str, message: str):
    super().__init__(message)
    self.reason = reason

  def __reduce__(self):
    # Beam pickles exceptions across workers; the default would lose `reason`.
    return (type(self), (self.reason, str(self)))


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 min_side: int = 2) -> np.ndarray:
  """bytes -> uint8 HxWx3 RGB, EXIF-upright, alpha composited over white.

  Size limits are checked on the header before any pixel is decoded, so a tiny file that
  claims billions of pixels costs nothing.
  """
  if not data:
    raise ImageError(EMPTY, "empty image data (0 bytes)")
  try:
    with _quiet_bomb_warning(max_pixels), \
         Image.open(io.BytesIO(data), formats=_open_formats()) as im:
      w, h = im.size
      if w * h > max_pixels:
        raise ImageError(BOMB, f"image is {w}x{h} = {w * h:,} pixels, over the limit of "
                         f"{max_pixels:,} (possible decompression bomb); not decoded")
      if min(w, h) < min_side:
        raise ImageError(TOO_SMALL, f"image is {w}x{h}; both sides must be >= {min_side}")
      im.load()
      rgb = _to_rgb(ImageOps.exif_transpose(im))
  except ImageError:
    raise
  except Image.DecompressionBombError as e:
    raise ImageError(BOMB, f"refused by Pillow's decompression-bomb limit: {e}") from e
  except UnidentifiedImageError as e:
    raise ImageError(UNRECOGNIZED, f"unrecognized image format (first bytes "
                     f"{bytes(data[:8])!r}); accepted: {', '.join(_open_formats())}") from e
  except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, struct.error...
    detail = _truncation_detail(e, data)
    if detail:
      raise ImageError(TRUNCATED, f"truncated image data: {detail}") from e
    raise ImageError(DECODE_FAILED, f"could not decode image: {type(e).__name__}: {e}") from e
  return np.ascontiguousarray(rgb, dtype=np.uint8)


#: Pauses between attempts to read an input whose read failed for a passing reason.
_READ_RETRY_PAUSES_S = (0.5, 2.0)


def _permanent(e: Exception) -> bool:
  """Read errors that retrying cannot fix: the path is not there or not a file."""
  text = str(e)
  return (isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError,
                         PermissionError))
          or any(s in text for s in ("No such file", "Is a directory", "Not a directory",
                                     "not found", "Not Found", "404")))


def read_image_bytes(uri: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
  """Reads a local path or any URI Beam's filesystems know (gs://...), bounded in size.

  Reads at most max_bytes + 1 bytes, so an oversized object is rejected without pulling
  all of it, and without a separate metadata round-trip.
  """
  from apache_beam.io.filesystem import CompressionTypes
  from apache_beam.io.filesystems import FileSystems

  for attempt, pause in enumerate(_READ_RETRY_PAUSES_S + (None,)):
    chunks: list[bytes] = []
    total = 0
    try:
      # UNCOMPRESSED: AUTO would gunzip "photo.jpg.gz" and hand back different bytes.
      with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while total <= max_bytes:
          chunk = f.read(min(_READ_CHUNK, max_bytes + 1 - total))
          if not chunk:
            break
          chunks.append(chunk)
          total += len(chunk)
      break
    except Exception as e:
      # A missing file stays missing; an object store's hiccup usually passes, and an
      # input dead-lettered for it would be lost for good.
      if pause is None or _permanent(e):
        raise ImageError(READ_FAILED, f"could not read {uri}: {type(e).__name__}: {e}"
                         + (f" (after {attempt + 1} attempts)" if attempt else "")) from e
      time.sleep(pause)
  if total > max_bytes:
    raise ImageError(TOO_LARGE_FILE, f"{uri} is larger than the limit of {max_bytes:,} bytes")
  if not total:
    raise ImageError(EMPTY, f"{uri} is empty (0 bytes)")
  return b"".join(chunks)


def load_image(uri: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
  """read_image_bytes + decode_image; decode errors are re-raised naming the URI."""
  data = read_image_bytes(uri, max_bytes=max_bytes)
  try:
    return decode_image(data, max_pixels=max_pixels)
  except ImageError as e:
    raise ImageError(e.reason, f"{uri}: {e}") from e


def resize_to_square(img: np.ndarray, size: int, policy: str = "center_crop") -> np.ndarray:
  """uint8 HxWx3 -> uint8 size x size x 3 via one deterministic LANCZOS resample.

  center_crop resamples the central square straight from the source (crop box in source
  coordinates), which equals scale-then-crop without a second interpolation. The
  geometry comes from `square_layout`, which annotations are mapped with too.
  """
  pil = _to_pil(img)
  size = _check_size(size)
  layout = square_layout(pil.size[0], pil.size[1], size, policy)
  if policy == "pad":
    out = Image.new("RGB", (size, size), (PAD_VALUE,) * 3)
    out.paste(_resize(pil, layout.placed), layout.offset)
  else:
    out = _resize(pil, layout.placed, layout.source_box)
  return np.array(out, dtype=np.uint8)


def resize_shorter_side(img: np.ndarray, size: int) -> np.ndarray:
  """Keeps the aspect ratio; the shorter side becomes exactly `size`."""
  pil = _to_pil(img)
  size = _check_size(size)
  w, h = pil.size
  if w <= h:
    new = (size, max(size, round(h * size / w)))
  else:
    new = (max(size, round(w * size / h)), size)
  return np.array(_resize(pil, new), dtype=np.uint8)


def encode_image(img: np.ndarray, fmt: str = "jpeg", quality: int = 95) -> bytes:
  """uint8 HxWx3 -> JPEG or PNG bytes; identical input gives identical bytes.

  No metadata is written and encoder options are pinned, so outputs are reproducible and
  content-hashable. JPEG keeps full chroma (4:4:4) at quality >= 90, where 4:2:0 would
  visibly smear the fine colour detail stylization produces.
  """
  pil = _to_pil(img)
  buf = io.BytesIO()
  if fmt == "jpeg":
    if not 1 <= int(quality) <= 100:
      raise ValueError(f"JPEG quality must be in [1, 100], got {quality}")
    pil.save(buf, "JPEG", quality=int(quality), subsampling=0 if quality >= 90 else 2,
             optimize=False, progressive=False)
  elif fmt == "png":
    pil.save(buf, "PNG", optimize=False, compress_level=6)
  else:
    raise ValueError(f"unsupported format {fmt!r}; expected 'jpeg' or 'png'")
  return buf.getvalue()


def to_float(img_uint8: np.ndarray) -> np.ndarray:
  """uint8 -> float32 in [0, 1]. Refuses other dtypes to catch double conversions."""
  a = np.asarray(img_uint8)
  if a.dtype != np.uint8:
    raise ValueError(f"to_float expects uint8, got {a.dtype}")
  return a.astype(np.float32) / np.float32(255)


def to_uint8(img_float: np.ndarray) -> np.ndarray:
  """float in [0, 1] -> uint8, clipped and rounded (NaN -> 0) so model overshoot is safe."""
  a = np.asarray(img_float)
  if not np.issubdtype(a.dtype, np.floating):
    raise ValueError(f"to_uint8 expects a float array in [0, 1], got {a.dtype}")
  a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
  return np.ascontiguousarray(np.rint(np.clip(a, 0.0, 1.0) * 255), dtype=np.uint8)


# --- internals ----------------------------------------------------------------------


def _open_formats() -> tuple[str, ...]:
  """ACCEPTED_FORMATS that this Pillow build can open (unknown names make open() raise)."""
  Image.init()
  return tuple(f for f in ACCEPTED_FORMATS if f in Image.OPEN)


@contextlib.contextmanager
def _quiet_bomb_warning(max_pixels: int) -> Iterator[None]:
  """Silences Pillow's bomb warning only when our own, looser limit governs.

  catch_warnings swaps process-global state, so it is skipped whenever Pillow's warning
  threshold is already above ours (the warning then cannot fire for an accepted image).
  """
  pillow_limit = Image.MAX_IMAGE_PIXELS
  if pillow_limit is None or max_pixels <= pillow_limit:
    yield
    return
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    yield


def _truncation_detail(e: Exception, data: bytes) -> str | None:
  """Why `e` means "the file ends early", or None if it means something else."""
  if "truncated" in str(e).lower():
    return str(e)
  if isinstance(e, EOFError):
    return str(e) or "unexpected end of data"
  # libwebp only says "could not create decoder object"; the RIFF header knows the size.
  if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
    want = int.from_bytes(data[4:8], "little") + 8
    if len(data) < want:
      return f"WebP header declares {want:,} bytes but only {len(data):,} are present"
  return None


def _to_rgb(im: Image.Image) -> np.ndarray:
  """Any Pillow mode -> uint8 HxWx3 with 16-bit scaled (not clipped), alpha over white."""
  if im.mode in _WIDE_GREY_MODES:
    # 16-bit range: 65535 -> 255. Exact .5 ties cannot occur (255/65535 = 1/257).
    grey = np.clip(np.asarray(im).astype(np.float64), 0, 65535)
    g8 = np.rint(grey * (255 / 65535)).astype(np.uint8)
    return np.repeat(g8[:, :, None], 3, axis=2)
  if im.mode == "La":
    im = im.convert("LA")  # Pillow has no La -> RGBA path.
  if im.mode in _ALPHA_MODES or "transparency" in im.info:
    rgba = np.asarray(im.convert("RGBA")).astype(np.uint32)
    rgb, a = rgba[:, :, :3], rgba[:, :, 3:]
    return ((rgb * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)
  return np.array(im.convert("RGB"))  # np.array: writable copy (asarray is read-only)


def _to_pil(img: np.ndarray) -> Image.Image:
  a = np.asarray(img)
  if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
    raise ValueError(f"expected uint8 HxWx3, got {a.dtype} {a.shape}")
  if a.shape[0] < 1 or a.shape[1] < 1:
    raise ValueError(f"empty image {a.shape}")
  return Image.fromarray(np.ascontiguousarray(a))


def _check_size(size: int) -> int:
  if int(size) != size or size < 1:
    raise ValueError(f"size must be a positive integer, got {size!r}")
  return int(size)


def _resize(pil: Image.Image, new: tuple[int, int],
            box: tuple[float, float, float, float] | None = None) -> Image.Image:
  if new == pil.size and box in (None, (0, 0) + pil.size):
    return pil.copy()
  return pil.resize(new, _RESAMPLE, box=box, reducing_gap=_REDUCING_GAP)
