"""A corpus of the awkward files real photo folders hold, generated (never committed).

`write_corpus(folder)` writes them and returns {file name: expected outcome}, where the
outcome is "written" or the dead-letter reason code from `pipeline.image_io`. The same
corpus serves as contents and as styles, so both roles are held to one contract.
"""

from __future__ import annotations

import io
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

from pipeline import image_io

WRITTEN = "written"
RED, BLUE = (255, 0, 0), (0, 0, 255)

#: The EXIF-rotated file: stored sideways (red left, blue right) with Orientation=6, so
#: only a decoder that honours EXIF shows red on top and blue at the bottom.
EXIF_NAME = "exif_rotated.jpg"
#: Spaces and non-ASCII letters: the name must survive listing, records and dead letters.
UNICODE_NAME = "été photo ü.jpg"


def _photo(h: int, w: int, seed: int) -> np.ndarray:
  """Gradient plus a block of colour: enough structure for the stylizer to work on."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[:h, :w]
  img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], -1)
  img = img * rng.uniform(0.5, 1.0, 3)
  img[h // 4:h // 2, w // 4:w // 2] = rng.uniform(0, 255, 3)
  return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def _chunk(tag: bytes, body: bytes) -> bytes:
  return struct.pack(">I", len(body)) + tag + body + struct.pack(">I",
                                                                  zlib.crc32(tag + body))


def bomb_png(w: int = 20000, h: int = 20000) -> bytes:
  """A 60-byte PNG whose header claims w x h pixels (1-bit grey, empty IDAT).

  Nothing here allocates the pixels; only a decoder that ignores the header would.
  """
  ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b""))
          + _chunk(b"IEND", b""))


def rgb48_png(img: np.ndarray) -> bytes:
  """16 bits per RGB sample (Pillow cannot write these, so the PNG is built by hand)."""
  h, w, _ = img.shape
  wide = img.astype(">u2") * 257
  rows = b"".join(b"\x00" + wide[r].tobytes() for r in range(h))
  ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows))
          + _chunk(b"IEND", b""))


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
  buf = io.BytesIO()
  im.save(buf, fmt, **kw)
  return buf.getvalue()


def write_corpus(folder: pathlib.Path) -> dict[str, str]:
  """Writes the corpus into `folder`; returns {file name: "written" or reason code}."""
  folder.mkdir(parents=True, exist_ok=True)
  files: dict[str, tuple[bytes, str]] = {}
  jpeg = _save(Image.fromarray(_photo(96, 128, 1)), "JPEG", quality=90)
  files["empty.jpg"] = b"", image_io.EMPTY
  files["truncated.jpg"] = jpeg[:len(jpeg) // 2], image_io.TRUNCATED
  files["random.jpg"] = np.random.default_rng(0).bytes(2048), image_io.UNRECOGNIZED
  files["notes.txt"] = "shopping list: eggs, milk\n".encode(), image_io.UNRECOGNIZED
  files["tiny_1x1.png"] = _save(Image.new("RGB", (1, 1), RED), "PNG"), image_io.TOO_SMALL
  files["bomb_20000x20000.png"] = bomb_png(), image_io.BOMB

  rgba = np.dstack([_photo(64, 80, 2), np.linspace(0, 255, 80, dtype=np.uint8)[None]
                    .repeat(64, 0)])
  files["alpha.png"] = _save(Image.fromarray(rgba, "RGBA"), "PNG"), WRITTEN
  grey16 = (_photo(64, 80, 3)[..., 0].astype(np.uint16) * 257)
  files["grey16.png"] = _save(Image.fromarray(grey16), "PNG"), WRITTEN
  files["rgb48.png"] = rgb48_png(_photo(64, 80, 4)), WRITTEN
  files["grey.jpg"] = _save(Image.fromarray(_photo(72, 72, 5)[..., 1]), "JPEG"), WRITTEN
  cmyk = Image.fromarray(_photo(64, 96, 6)).convert("CMYK")
  files["cmyk.jpg"] = _save(cmyk, "JPEG", quality=92), WRITTEN
  frames = [Image.fromarray(_photo(60, 60, 7 + i)).convert("P") for i in range(3)]
  files["animated.gif"] = _save(frames[0], "GIF", save_all=True,
                                append_images=frames[1:], duration=80, loop=0), WRITTEN
  sideways = np.zeros((64, 96, 3), np.uint8)  # displayed: 64 wide, 96 tall
  sideways[:, :48], sideways[:, 48:] = RED, BLUE
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 deg clockwise for display: left (red) goes on top
  files[EXIF_NAME] = _save(Image.fromarray(sideways), "JPEG", quality=95,
                           exif=exif), WRITTEN
  files[UNICODE_NAME] = _save(Image.fromarray(_photo(80, 100, 8)), "JPEG"), WRITTEN
  for name, (data, _) in files.items():
    (folder / name).write_bytes(data)
  return {name: outcome for name, (_, outcome) in files.items()}


#: Folders from which no record can come: the job must refuse them before publishing.
NOTHING_USABLE = ("text_files", "empty_files")


def write_unusable_folder(folder: pathlib.Path, kind: str, n: int = 5) -> list[pathlib.Path]:
  """n files that look like images by name but hold text ("text_files", what a user's
  notes folder holds) or nothing ("empty_files", an interrupted copy)."""
  folder.mkdir(parents=True, exist_ok=True)
  paths = []
  for i in range(n):
    path = folder / (f"notes_{i}.txt" if kind == "text_files" else f"photo_{i}.jpg")
    path.write_bytes(f"note {i}: buy paint\n".encode() if kind == "text_files" else b"")
    paths.append(path)
  return paths
