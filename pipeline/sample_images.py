"""A tiny self-made dataset, so the README demo runs offline with no external data.

Contents are "photos" of one shape per image (the class) in a varied scene: a smooth
gradient or low-frequency noise background, a few distractors (streaks, squiggles, long
ellipses: never a class shape), random position, scale (25-60% of the side), rotation,
colour or gradient fill, an optional soft shadow and a lighting gradient. A linear probe
later classifies the class from embeddings of *stylized* versions, and stylization
rewrites colours, so colour is random within a class and only the shape carries it.

Styles are procedural "paintings": each family has its own texture and texture scale
and its own palette scheme (jittered per image), so families differ in both.

Every image gets its own generator seeded by (seed, kind, class, index): the same seed
gives byte-identical files, and asking for more images never changes the first ones.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CONTENT_CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")
STYLE_FAMILIES = ("stripes", "dots", "waves", "cells", "strokes", "checks", "concentric")

JPEG_QUALITY = 92
_SS = 4  # supersampling factor for antialiased shape masks
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_MARGIN = 0.22  # min luminance gap between the object and the background next to it


# ----------------------------------------------------------------------------- helpers

def _hsv(h: float, s: float, v: float) -> np.ndarray:
  rgb = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
  return np.array(rgb, np.float32)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
  """Pixel-centre coordinates in [0, 1)."""
  c = (np.arange(size, dtype=np.float32) + 0.5) / size
  return np.meshgrid(c, c, indexing="xy")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
  """Low-frequency noise in [0, 1]: a random coarse grid upsampled bicubically."""
  coarse = (rng.random((cells, cells, channels)) * 255).astype(np.uint8)
  mode = "L" if channels == 1 else "RGB"
  im = Image.fromarray(coarse[..., 0] if channels == 1 else coarse, mode)
  out = np.asarray(im.resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255.0
  return out if channels > 1 else out[..., None]


def _mask(size: int, polys=(), holes=(), lines=()) -> Image.Image:
  """Antialiased coverage as an "L" image; coordinates are in output pixels."""
  im = Image.new("L", (size * _SS, size * _SS), 0)
  draw = ImageDraw.Draw(im)
  for p in polys:
    draw.polygon([(x * _SS, y * _SS) for x, y in p], fill=255)
  for p in holes:
    draw.polygon([(x * _SS, y * _SS) for x, y in p], fill=0)
  for pts, width in lines:
    draw.line([(x * _SS, y * _SS) for x, y in pts], fill=255, width=max(1, round(width * _SS)),
              joint="curve")
  return im.reduce(_SS)


def _blend(img: np.ndarray, mask: Image.Image, colour, alpha: float = 1.0) -> np.ndarray:
  """img <- img * (1 - a m) + colour * a m, in place, touching only the mask's bbox.

  `colour` is an RGB triple or an image-sized array. Cropping to the bbox keeps the
  many small distractors cheap.
  """
  box = mask.getbbox()
  if box is None:
    return img
  x0, y0, x1, y1 = box
  m = np.asarray(mask.crop(box), np.float32)[..., None] * np.float32(alpha / 255.0)
  c = colour[y0:y1, x0:x1] if np.ndim(colour) == 3 else np.asarray(colour, np.float32)
  region = img[y0:y1, x0:x1]
  region += m * (c - region)
  return img


def _place(unit: np.ndarray, cx: float, cy: float, r: float, angle: float) -> list[tuple]:
  """Unit-circle polygon -> rotated, scaled, translated pixel coordinates."""
  c, s = math.cos(angle), math.sin(angle)
  x, y = unit[:, 0], unit[:, 1]
  return list(zip(cx + r * (c * x - s * y), cy + r * (s * x + c * y)))


def _regular(n: int, phase: float = -math.pi / 2) -> np.ndarray:
  t = phase + 2 * math.pi * np.arange(n) / n
  return np.stack([np.cos(t), np.sin(t)], 1)


# ----------------------------------------------------------------------------- contents

def _shape_polys(cls: str, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
  """Unit-circumradius outline(s) of a class, with small within-class proportion jitter."""
  if cls == "circle":
    return [_regular(96)], []
  if cls == "square":
    return [_regular(4, math.pi / 4)], []
  if cls == "triangle":
    return [_regular(3) + rng.normal(0, 0.03, (3, 2))], []
  if cls == "star":
    inner = rng.uniform(0.38, 0.5)
    pts = _regular(10) * np.where(np.arange(10) % 2 == 0, 1.0, inner)[:, None]
    return [pts], []
  if cls == "cross":
    w = rng.uniform(0.28, 0.36)  # half arm width, in circumradius units
    l = math.sqrt(1 - w * w)
    pts = np.array([(w, l), (w, w), (l, w), (l, -w), (w, -w), (w, -l), (-w, -l), (-w, -w),
                    (-l, -w), (-l, w), (-w, w), (-w, l)])
    return [pts], []
  if cls == "ring":
    return [_regular(96)], [_regular(96) * rng.uniform(0.5, 0.62)]
  raise ValueError(f"unknown content class {cls!r}; expected one of {CONTENT_CLASSES}")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
  """A smooth gradient (linear or radial) or low-frequency colour noise."""
  h = rng.random()
  # A dark, mid or light key: leaves the object room for saturated colours of any hue.
  vals = ((0.12, 0.45), (0.35, 0.75), (0.6, 0.95))[rng.integers(3)]
  c1 = _hsv(h, rng.uniform(0.1, 0.7), rng.uniform(*vals))
  c2 = _hsv(h + rng.uniform(-0.25, 0.25), rng.uniform(0.1, 0.7), rng.uniform(*vals))
  xx, yy = _grid(size)
  kind = rng.integers(3)
  if kind == 0:  # linear gradient
    a = rng.uniform(0, 2 * math.pi)
    t = (xx - 0.5) * math.cos(a) + (yy - 0.5) * math.sin(a)
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
  elif kind == 1:  # radial gradient
    cx, cy = rng.uniform(0, 1, 2)
    t = np.clip(np.hypot(xx - cx, yy - cy) / rng.uniform(0.6, 1.2), 0, 1)
  else:  # low-frequency noise
    t = _smooth_noise(rng, size, int(rng.integers(3, 6)))[..., 0]
  bg = (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.float32)
  # Mottling: a second, weaker colour-noise layer so no background is perfectly flat.
  bg += (_smooth_noise(rng, size, int(rng.integers(4, 9)), 3) - 0.5) * rng.uniform(0.05, 0.2)
  return bg


def _clutter(rng: np.random.Generator, img: np.ndarray, size: int) -> np.ndarray:
  """Distractors that are not class shapes: long ellipses, squiggles, straight streaks."""
  for _ in range(int(rng.integers(2, 6))):
    colour = _hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.95))
    kind = rng.integers(3)
    if kind == 0:  # elongated ellipse (aspect >= 2.5, so never circle-like)
      t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
      aspect = rng.uniform(2.5, 5.0)
      unit = np.stack([np.cos(t), np.sin(t) / aspect], 1)
      poly = _place(unit, *rng.uniform(0, size, 2), rng.uniform(0.04, 0.12) * size,
                    rng.uniform(0, math.pi))
      m = _mask(size, polys=[poly])
    elif kind == 1:  # squiggle: a smooth random polyline
      n = int(rng.integers(3, 7))
      pts = np.cumsum(rng.normal(0, 0.08 * size, (n, 2)), 0) + rng.uniform(0, size, 2)
      m = _mask(size, lines=[(list(map(tuple, pts)), rng.uniform(1, 3.5))])
    else:  # straight streak
      p0 = rng.uniform(0, size, 2)
      a = rng.uniform(0, 2 * math.pi)
      p1 = p0 + rng.uniform(0.15, 0.5) * size * np.array([math.cos(a), math.sin(a)])
      m = _mask(size, lines=[([tuple(p0), tuple(p1)], rng.uniform(1, 3))])
    if rng.random() < 0.5:
      m = m.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    img = _blend(img, m, colour, rng.uniform(0.35, 0.75))
  return img


def _contrasting_colour(rng: np.random.Generator, lo: float, hi: float, dark: bool) -> np.ndarray:
  """A random hue whose luminance clears the background's range [lo, hi] by a margin.

  Contrast is taken against the background *along the object's outline*, not its
  mean, so the whole silhouette stays visible on gradients and next to the shadow.
  """
  target = (0.02, max(lo - _MARGIN, 0.02)) if dark else (min(hi + _MARGIN, 0.97), 0.97)
  for _ in range(32):
    c = _hsv(rng.random(), rng.uniform(0.35, 1.0), 1.0)
    l1 = float(c @ _LUMA)  # luminance at full value; it scales linearly with value
    t = rng.uniform(*target)
    if t <= l1:
      return c * np.float32(t / l1)
  return np.full(3, target[0] if dark else target[1], np.float32)  # grey: always reachable


def make_content_image(cls: str, rng: np.random.Generator, size: int = 160) -> np.ndarray:
  """One scene with a single `cls` object; uint8 (size, size, 3)."""
  outer, holes = _shape_polys(cls, rng)
  img = _clutter(rng, _background(rng, size), size)

  r = rng.uniform(0.25, 0.6) * size / 2  # circumradius: object spans 25-60% of the side
  cx, cy = rng.uniform(r + 1, size - r - 1, 2)
  angle = rng.uniform(0, 2 * math.pi)
  m = _mask(size, polys=[_place(p, cx, cy, r, angle) for p in outer],
            holes=[_place(p, cx, cy, r, angle) for p in holes])

  light = rng.uniform(0, 2 * math.pi)  # direction the light comes from
  if rng.random() < 0.6:  # soft drop shadow, cast away from the light
    off = rng.uniform(0.02, 0.06) * size
    dx, dy = -off * math.cos(light), -off * math.sin(light)
    sh = m.transform(m.size, Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy),
                     Image.Resampling.BILINEAR)
    sh = sh.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 4.0)))
    img = _blend(img, sh, (0, 0, 0), rng.uniform(0.3, 0.55))

  # Background luminance just outside the outline (after clutter and shadow).
  band = np.asarray(m.filter(ImageFilter.MaxFilter(7)), np.uint8) > np.asarray(m, np.uint8)
  lum = img[band] @ _LUMA if band.any() else np.array([0.5])
  lo, hi = np.percentile(lum, [5, 95])
  # Dark object if there is clearly more room below the background than above; else either.
  dark = lo > 1 - hi if abs(lo - (1 - hi)) > 0.2 else rng.random() < 0.5
  c1 = _contrasting_colour(rng, lo, hi, dark)
  if rng.random() < 0.5:
    fill = c1
  else:  # two-colour gradient fill, both ends on the same side of the background
    c2 = _contrasting_colour(rng, lo, hi, dark)
    xx, yy = _grid(size)
    a = rng.uniform(0, 2 * math.pi)
    t = ((xx * size - cx) * math.cos(a) + (yy * size - cy) * math.sin(a)) / (2 * r) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    fill = c1 * (1 - t) + c2 * t
  img = _blend(img, m, fill)

  if rng.random() < 0.7:  # lighting gradient over the whole scene, brighter towards the light
    xx, yy = _grid(size)
    t = (xx - 0.5) * math.cos(light) + (yy - 0.5) * math.sin(light)
    img = img * (1 + rng.uniform(0.1, 0.4) * t)[..., None]

  img += rng.standard_normal(img.shape, np.float32) * np.float32(0.012)  # sensor noise
  return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- styles

# Family palette schemes: (hue offsets from a base hue, base hue range, saturation range,
# value range). Each image jitters the base hue and draws 3-5 colours from the offsets.
_SCHEMES = {
    # warm reds / oranges / yellows
    "stripes": ((0.0, 0.04, 0.09, -0.03, 0.12), (0.98, 1.03), (0.65, 1.0), (0.55, 1.0)),
    # pastel pink + mint (complementary, desaturated, light)
    "dots": ((0.0, 0.5, 0.05, 0.45), (0.88, 0.95), (0.2, 0.45), (0.85, 1.0)),
    # ocean blues / teals
    "waves": ((0.0, 0.04, -0.05, 0.08), (0.55, 0.62), (0.45, 0.95), (0.25, 0.9)),
    # earthy browns / olives, muted
    "cells": ((0.0, 0.06, 0.15, 0.2), (0.07, 0.12), (0.35, 0.7), (0.3, 0.7)),
    # yellow + violet (complementary, vivid)
    "strokes": ((0.0, 0.6, 0.05, 0.55, 0.1), (0.12, 0.16), (0.6, 0.95), (0.6, 1.0)),
    # greys from near-black to near-white, plus a red accent (see _palette)
    "checks": ((0.0, 0.0, 0.0, 0.0), (0.0, 1.0), (0.0, 0.08), (0.05, 0.95)),
    # purples / magentas
    "concentric": ((0.0, 0.06, -0.06, 0.1), (0.78, 0.84), (0.6, 1.0), (0.2, 0.95)),
}


def _palette(family: str, rng: np.random.Generator) -> np.ndarray:
  """3-5 colours around the family's hue scheme; per-image jitter keeps styles distinct."""
  offsets, hue, sat, val = _SCHEMES[family]
  base = rng.uniform(*hue)
  n = int(rng.integers(3, min(5, len(offsets)) + 1))
  cols = [_hsv(base + o + rng.normal(0, 0.015), rng.uniform(*sat), rng.uniform(*val))
          for o in offsets[:n]]
  if family == "checks":  # monochrome: spread the greys from dark to light, then one accent
    vals = np.linspace(rng.uniform(0.05, 0.2), rng.uniform(0.85, 0.97), n)
    cols = [_hsv(base, rng.uniform(*sat), v) for v in vals]
    cols.append(_hsv(rng.uniform(-0.02, 0.03), rng.uniform(0.8, 1.0), rng.uniform(0.7, 0.9)))
  return np.array(cols)


def _stripes(rng, size, pal):
  """Wavy diagonal bands, 14-22 px: a medium, strongly oriented texture."""
  xx, yy = _grid(size)
  a = rng.uniform(0, math.pi)
  u = (xx * math.cos(a) + yy * math.sin(a)) * size
  u = u + 4 * np.sin(2 * math.pi * (-xx * math.sin(a) + yy * math.cos(a)) * rng.uniform(1, 3))
  period = rng.uniform(14, 22)
  idx = np.floor(u / period).astype(int)
  order = rng.permutation(1000) % len(pal)
  return pal[order[idx % 1000]]


def _dots(rng, size, pal):
  """Polka dots on a hex grid, 16-22 px pitch: isotropic, medium-fine."""
  img = np.ones((size, size, 3)) * pal[0]
  im = Image.fromarray((img * 255).astype(np.uint8))
  draw = ImageDraw.Draw(im)
  step = rng.uniform(16, 22)
  rad = step * rng.uniform(0.22, 0.32)
  n = int(size / step) + 2
  for i in range(n):
    for j in range(n):
      x = (j + 0.5 * (i % 2)) * step + rng.normal(0, 1.0)
      y = i * step * 0.87 + rng.normal(0, 1.0)
      c = tuple(int(v * 255) for v in pal[1 + rng.integers(len(pal) - 1)])
      rr = rad * rng.uniform(0.85, 1.15)
      draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=c)
  return np.asarray(im, np.float32) / 255.0


def _waves(rng, size, pal):
  """Broad horizontal sine bands: the coarsest, smoothest family."""
  xx, yy = _grid(size)
  f = rng.uniform(1.5, 2.5)
  amp, kx, phase = rng.uniform(0.08, 0.15), rng.uniform(1, 2), rng.random()
  v = yy * f + amp * np.sin(2 * math.pi * (xx * kx + phase))
  v = v + 0.04 * np.sin(2 * math.pi * xx * rng.uniform(3, 5))
  t = (v * len(pal) * 2) % len(pal)  # smooth ramps between palette bands
  i0 = np.floor(t).astype(int) % len(pal)
  frac = (t - np.floor(t))[..., None]
  frac = np.clip((frac - 0.6) / 0.4, 0, 1)  # mostly flat bands with a soft edge
  return pal[i0] * (1 - frac) + pal[(i0 + 1) % len(pal)] * frac


def _cells(rng, size, pal):
  """Stained-glass Voronoi panes (~30 px) with dark leading: flat regions, sharp lines."""
  n = int(rng.integers(25, 40))
  pts = rng.uniform(0, size, (n, 2)).astype(np.float32)
  xx, yy = np.meshgrid(np.arange(size, dtype=np.float32) + 0.5,
                       np.arange(size, dtype=np.float32) + 0.5, indexing="xy")
  d2 = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
  two = np.argpartition(d2, 1, axis=-1)[..., :2]
  near = np.take_along_axis(d2, two, -1)
  first = np.where(near[..., 0] <= near[..., 1], two[..., 0], two[..., 1])
  second = np.where(near[..., 0] <= near[..., 1], two[..., 1], two[..., 0])
  # Distance to the bisector of the two nearest seeds = distance to the cell border.
  sep = np.linalg.norm(pts[first] - pts[second], axis=-1)
  gap = np.abs(near[..., 0] - near[..., 1]) / (2 * sep + 1e-6)
  cols = pal[rng.integers(len(pal), size=n)] * rng.uniform(0.8, 1.15, (n, 1)).astype(np.float32)
  # Each pane shades towards one side, like uneven glass.
  shade = rng.uniform(-0.004, 0.004, (n, 2)).astype(np.float32)
  tilt = shade[first, 0] * (xx - pts[first, 0]) + shade[first, 1] * (yy - pts[first, 1])
  img = cols[first] * (1 + tilt)[..., None]
  border = np.clip(gap / 1.5 - 0.3, 0, 1)[..., None]  # dark leading between panes
  return img * border + 0.08 * (1 - border)


def _strokes(rng, size, pal):
  """Hundreds of short brush dabs following a flow field: the finest, busiest texture."""
  ss = 2  # draw at 2x and downsample so strokes have soft, antialiased edges
  base = pal[0] * 0.9
  im = Image.fromarray((np.ones((size * ss, size * ss, 3)) * base * 255).astype(np.uint8))
  draw = ImageDraw.Draw(im)
  flow = rng.uniform(0, math.pi)
  wob = rng.uniform(3, 8)
  for _ in range(int(size * size / 30)):
    x, y = rng.uniform(-5, size + 5, 2)
    a = flow + 0.7 * math.sin(x / size * wob) + rng.normal(0, 0.2)
    ln = rng.uniform(5, 11)
    c = pal[rng.integers(len(pal))] * rng.uniform(0.8, 1.15)
    draw.line([(x * ss, y * ss), ((x + ln * math.cos(a)) * ss, (y + ln * math.sin(a)) * ss)],
              fill=tuple(int(min(v, 1) * 255) for v in c), width=int(rng.integers(2, 4)) * ss)
  im = im.reduce(ss)
  return np.asarray(im, np.float32) / 255.0


def _checks(rng, size, pal):
  """Rotated large checkerboard, 28-40 px: few edges but maximal contrast."""
  xx, yy = _grid(size)
  a = rng.uniform(0, math.pi / 2)
  cell = rng.uniform(28, 40) / size
  u = (xx * math.cos(a) + yy * math.sin(a)) / cell
  v = (-xx * math.sin(a) + yy * math.cos(a)) / cell
  iu, iv = np.floor(u).astype(int), np.floor(v).astype(int)
  dark, light = pal[0], pal[-2]
  img = np.where(((iu + iv) % 2 == 0)[..., None], dark, light)
  accent = ((iu * 7 + iv * 13) % 5 == 0) & ((iu + iv) % 2 == 1)  # a few accent squares
  return np.where(accent[..., None], pal[-1], img)


def _concentric(rng, size, pal):
  """Wobbly concentric rings, 7-11 px wide: curved, medium-fine."""
  xx, yy = _grid(size)
  cx, cy = rng.uniform(0.2, 0.8, 2)
  r = np.hypot(xx - cx, yy - cy) * size
  r = r + 2.5 * np.sin(np.arctan2(yy - cy, xx - cx) * rng.integers(3, 7))
  width = rng.uniform(7, 11)
  idx = np.floor(r / width).astype(int)
  return pal[idx % len(pal)]


_TEXTURES = {"stripes": _stripes, "dots": _dots, "waves": _waves, "cells": _cells,
             "strokes": _strokes, "checks": _checks, "concentric": _concentric}


def make_style_image(family: str, rng: np.random.Generator, size: int = 192) -> np.ndarray:
  """One procedural "painting" of `family`; uint8 (size, size, 3)."""
  if family not in _TEXTURES:
    raise ValueError(f"unknown style family {family!r}; expected one of {STYLE_FAMILIES}")
  pal = _palette(family, rng)
  img = _TEXTURES[family](rng, size, pal)
  # Painted, not printed: uneven pigment (low-frequency) and canvas grain (fine).
  img = img * (1 + (_smooth_noise(rng, size, 6) - 0.5) * 0.15)
  img = img + rng.standard_normal((size, size, 1), np.float32) * np.float32(0.008)
  return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- writing

def _rng(seed: int, kind: int, group: int, index: int) -> np.random.Generator:
  return np.random.default_rng([seed, kind, group, index])


def write_sample(out_dir, *, contents_per_class: int = 8, styles_per_family: int = 2,
                 seed: int = 0, size: int = 160, style_size: int = 192) -> dict:
  """Writes out_dir/content/<class>/<class>_<i>.jpg and out_dir/styles/<family>_<j>.png.

  Contents are JPEG (quality 92, like real photos), styles PNG. Same seed -> byte-identical
  files. Returns {"content_dir", "styles_dir", "classes", "families", "n_contents",
  "n_styles"}.
  """
  out = pathlib.Path(out_dir)
  content_dir, styles_dir = out / "content", out / "styles"
  n_contents = n_styles = 0
  for k, cls in enumerate(CONTENT_CLASSES):
    (content_dir / cls).mkdir(parents=True, exist_ok=True)
    for i in range(contents_per_class):
      arr = make_content_image(cls, _rng(seed, 0, k, i), size)
      Image.fromarray(arr).save(content_dir / cls / f"{cls}_{i}.jpg", "JPEG",
                                quality=JPEG_QUALITY)
      n_contents += 1
  styles_dir.mkdir(parents=True, exist_ok=True)
  for k, family in enumerate(STYLE_FAMILIES):
    for j in range(styles_per_family):
      arr = make_style_image(family, _rng(seed, 1, k, j), style_size)
      Image.fromarray(arr).save(styles_dir / f"{family}_{j}.png", "PNG", compress_level=1)
      n_styles += 1
  return {"content_dir": str(content_dir), "styles_dir": str(styles_dir),
          "classes": list(CONTENT_CLASSES), "families": list(STYLE_FAMILIES),
          "n_contents": n_contents, "n_styles": n_styles}


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("out_dir")
  p.add_argument("--contents_per_class", type=int, default=8)
  p.add_argument("--styles_per_family", type=int, default=2)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--size", type=int, default=160, help="content side, pixels")
  p.add_argument("--style_size", type=int, default=192, help="style side, pixels")
  a = p.parse_args(argv)
  info = write_sample(a.out_dir, contents_per_class=a.contents_per_class,
                      styles_per_family=a.styles_per_family, seed=a.seed, size=a.size,
                      style_size=a.style_size)
  print(json.dumps(info, indent=2))
  return info


if __name__ == "__main__":
  main()
