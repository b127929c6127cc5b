"""pipeline.sample_images: the offline demo data is deterministic and actually learnable.

The probe downstream must classify shapes from stylized views, so beyond layout and
determinism these tests check the properties that make the sample fit for that: colour
varies within a class, a crude shape feature separates the classes, and style families
differ in palette and texture.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from PIL import Image

from pipeline import sample_images as si
from pipeline.sample_images import CONTENT_CLASSES, STYLE_FAMILIES

N_PER_CLASS = 10  # first half trains the probe, second half tests it
N_PER_FAMILY = 3
SIZE = 128
STYLE_SIZE = 128


def _files(root: pathlib.Path) -> dict[str, bytes]:
  return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _load(path) -> np.ndarray:
  with Image.open(path) as im:
    return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
  out = tmp_path_factory.mktemp("sample")
  info = si.write_sample(out, contents_per_class=N_PER_CLASS, styles_per_family=N_PER_FAMILY,
                         seed=0, size=SIZE, style_size=STYLE_SIZE)
  return out, info


# ----------------------------------------------------------------------------- layout

def test_layout_counts_and_sizes(sample):
  out, info = sample
  assert info["classes"] == list(CONTENT_CLASSES)
  assert info["n_contents"] == N_PER_CLASS * len(CONTENT_CLASSES)
  assert info["n_styles"] == N_PER_FAMILY * len(STYLE_FAMILIES)
  assert pathlib.Path(info["content_dir"]) == out / "content"
  assert pathlib.Path(info["styles_dir"]) == out / "styles"
  assert sorted(p.name for p in (out / "content").iterdir()) == sorted(CONTENT_CLASSES)
  for cls in CONTENT_CLASSES:
    names = sorted(p.name for p in (out / "content" / cls).iterdir())
    assert names == sorted(f"{cls}_{i}.jpg" for i in range(N_PER_CLASS))
  styles = sorted(p.name for p in (out / "styles").iterdir())
  assert styles == sorted(f"{f}_{j}.png" for f in STYLE_FAMILIES for j in range(N_PER_FAMILY))

  with Image.open(out / "content" / "star" / "star_0.jpg") as im:
    assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (SIZE, SIZE))
  with Image.open(out / "styles" / "cells_0.png") as im:
    assert (im.format, im.mode, im.size) == ("PNG", "RGB", (STYLE_SIZE, STYLE_SIZE))


def test_make_functions_shape_dtype_and_unknown_names():
  rng = np.random.default_rng(0)
  for cls in CONTENT_CLASSES:
    a = si.make_content_image(cls, rng, size=48)
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8
  for fam in STYLE_FAMILIES:
    a = si.make_style_image(fam, rng, size=40)
    assert a.shape == (40, 40, 3) and a.dtype == np.uint8
    assert a.std() > 5, f"{fam} is flat"
  with pytest.raises(ValueError, match="hexagon"):
    si.make_content_image("hexagon", rng)
  with pytest.raises(ValueError, match="cubism"):
    si.make_style_image("cubism", rng)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
  for name, seed in (("a", 7), ("b", 7), ("c", 8)):
    si.write_sample(tmp_path / name, contents_per_class=1, styles_per_family=1, seed=seed,
                    size=48, style_size=48)
  a, b, c = (_files(tmp_path / n) for n in "abc")
  assert len(a) == len(CONTENT_CLASSES) + len(STYLE_FAMILIES)
  assert a == b
  assert a.keys() == c.keys()
  assert all(a[k] != c[k] for k in a), "every image should change with the seed"


def test_more_images_keep_the_first_ones(tmp_path):
  """Per-image generators: growing the sample never reshuffles what was there."""
  kw = dict(size=48, style_size=48)
  si.write_sample(tmp_path / "s", contents_per_class=1, styles_per_family=1, **kw)
  si.write_sample(tmp_path / "b", contents_per_class=2, styles_per_family=2, **kw)
  small, big = _files(tmp_path / "s"), _files(tmp_path / "b")
  assert len(big) > len(small)
  assert all(big[k] == v for k, v in small.items())


def test_cli_writes_and_prints(tmp_path, capsys):
  info = si.main([str(tmp_path), "--contents_per_class", "1", "--styles_per_family", "1",
                  "--seed", "3", "--size", "40", "--style_size", "40"])
  assert info["n_contents"] == len(CONTENT_CLASSES)
  assert _load(tmp_path / "content" / "ring" / "ring_0.jpg").shape == (40, 40, 3)
  assert '"n_styles": %d' % len(STYLE_FAMILIES) in capsys.readouterr().out
  assert (tmp_path / "styles" / "dots_0.png").is_file()


# ----------------------------------------------------------------------------- contents

def test_colour_varies_within_each_class(sample):
  out, _ = sample
  for cls in CONTENT_CLASSES:
    means = np.array([_load(p).reshape(-1, 3).mean(0)
                      for p in sorted((out / "content" / cls).glob("*.jpg"))])
    # Std over images of the per-image mean colour, averaged over R, G, B (0-255 scale).
    assert means.std(0).mean() > 15, f"{cls}: colours too uniform; colour would give it away"


def _grow(a: np.ndarray) -> np.ndarray:
  """4-neighbour binary dilation."""
  b = a.copy()
  b[1:] |= a[:-1]
  b[:-1] |= a[1:]
  b[:, 1:] |= a[:, :-1]
  b[:, :-1] |= a[:, 1:]
  return b


def _object_mask(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The largest region enclosed by strong edges (distractors are thin or small).

  Strong colour edges -> flood the background in from the border -> what is not reached
  is enclosed -> keep its largest 4-connected component (min-label propagation).
  """
  g = img.astype(np.float32) / 255.0
  mag = np.zeros(g.shape[:2], np.float32)
  mag[1:-1, 1:-1] = np.hypot(np.linalg.norm(g[1:-1, 2:] - g[1:-1, :-2], axis=-1),
                             np.linalg.norm(g[2:, 1:-1] - g[:-2, 1:-1], axis=-1))
  edge = _grow(mag > 0.2)
  reach = np.zeros_like(edge)
  reach[[0, -1]] = reach[:, [0, -1]] = True
  reach &= ~edge
  while (new := _grow(reach) & ~edge).sum() != reach.sum():
    reach = new
  inside = ~reach
  big = inside.size
  lab = np.where(inside, np.arange(big).reshape(inside.shape), big)
  while True:
    m = lab.copy()
    m[1:] = np.minimum(m[1:], lab[:-1])
    m[:-1] = np.minimum(m[:-1], lab[1:])
    m[:, 1:] = np.minimum(m[:, 1:], lab[:, :-1])
    m[:, :-1] = np.minimum(m[:, :-1], lab[:, 1:])
    m = np.where(inside, m, big)
    if (m == lab).all():
      break
    lab = m
  return lab == np.argmax(np.bincount(lab[inside])), edge


def _shape_feature(img: np.ndarray) -> np.ndarray:
  """Translation/scale/rotation-invariant: |FFT| of the outline's radius over angle
  (3-, 4-, 5-fold symmetry), radial histogram of edges inside (the ring's hole), fill ratio.
  """
  mask, edge = _object_mask(img)
  yy, xx = np.indices(mask.shape)
  cy, cx = yy[mask].mean(), xx[mask].mean()
  r = np.hypot(yy - cy, xx - cx) / np.sqrt(mask.sum())
  b = ((np.arctan2(yy - cy, xx - cx) + np.pi) / (2 * np.pi) * 36).astype(int) % 36
  outline = np.zeros(36)
  np.maximum.at(outline, b[mask], r[mask])
  spec = np.abs(np.fft.rfft(outline))
  inner = mask & edge
  edges_hist = np.histogram(r[inner], bins=8, range=(0, 1.2))[0] / max(inner.sum(), 1)
  fill = 1 / (np.pi * outline.max() ** 2)  # area / area of the enclosing circle
  return np.concatenate([spec[1:8] / spec[0], edges_hist, [fill]])


def _nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> float:
  mu, sd = x[train].mean(0), x[train].std(0) + 0.02
  z = (x - mu) / sd
  cent = np.stack([z[train & (y == k)].mean(0) for k in range(y.max() + 1)])
  pred = np.argmin(((z[~train][:, None] - cent) ** 2).sum(-1), 1)
  return float((pred == y[~train]).mean())


def test_classes_are_learnable_from_shape_not_colour(sample):
  out, _ = sample
  imgs, y, idx = [], [], []
  for k, cls in enumerate(CONTENT_CLASSES):
    for i in range(N_PER_CLASS):
      imgs.append(_load(out / "content" / cls / f"{cls}_{i}.jpg"))
      y.append(k)
      idx.append(i)
  y, train = np.array(y), np.array(idx) < N_PER_CLASS // 2
  chance = 1 / len(CONTENT_CLASSES)

  shape_acc = _nearest_centroid_accuracy(np.array([_shape_feature(a) for a in imgs]), y, train)
  colour = np.array([np.concatenate([a.reshape(-1, 3).mean(0), a.reshape(-1, 3).std(0)])
                     for a in imgs])
  colour_acc = _nearest_centroid_accuracy(colour, y, train)
  assert shape_acc >= 0.6, f"shape feature accuracy {shape_acc:.2f} (chance {chance:.2f})"
  assert colour_acc <= 0.45, f"colour statistics alone give the class away ({colour_acc:.2f})"


# ----------------------------------------------------------------------------- styles

def _laplacian_energy(a: np.ndarray) -> float:
  g = a.astype(np.float32).mean(-1)
  return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1]
                      - g[1:-1, :-2] - g[1:-1, 2:]).mean())


def test_style_families_differ_in_palette_and_texture(sample):
  out, _ = sample
  imgs = [[_load(out / "styles" / f"{f}_{j}.png") for j in range(N_PER_FAMILY)]
          for f in STYLE_FAMILIES]
  pal = np.array([[a.reshape(-1, 3).mean(0) for a in fam] for fam in imgs])  # (F, J, 3)
  tex = np.log([[_laplacian_energy(a) for a in fam] for fam in imgs])  # (F, J)
  nf = len(STYLE_FAMILIES)

  fam_pal = pal.mean(1)
  between = np.mean([np.linalg.norm(fam_pal[a] - fam_pal[b])
                     for a in range(nf) for b in range(a + 1, nf)])
  within = np.mean([np.linalg.norm(p[i] - p[j])
                    for p in pal for i in range(N_PER_FAMILY) for j in range(i + 1, N_PER_FAMILY)])
  assert between > 2 * within, (between, within)

  assert tex.mean(1).std() > 2 * tex.std(1).mean(), tex
