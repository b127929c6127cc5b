"""Weight-free stylizer: colour and multi-scale texture statistics transfer in TF ops.

It exists so the product runs offline with no model files, and because it is plain TF it
can be exported as a SavedModel with the Magenta TF-Hub call signature (see `export.py`).

Algorithm (a Heeger-Bergen / Portilla-Simoncelli-lite):

1. Colour: the content's RGB mean and covariance are mapped onto the style's with the
   Monge-Kantorovich linear map (the optimal-transport affine map between two Gaussians;
   unlike plain whitening-colouring it does not rotate hues arbitrarily). Both
   covariances get `COLOR_EPS` on the diagonal so greyscale images stay finite. The
   luma is then reset to the content's, affinely matched to the style's luma mean and
   std, so brightness order (and thus shape) survives.
2. Abstraction: a small soft Kuwahara filter flattens photographic micro-detail into
   patches that the brush texture of step 3 can fill, keeping edges sharp.
3. Texture: the result is split into an undecimated Laplacian pyramid (binomial blurs
   with dilation 1, 2, 4, 8, so any H, W >= 16 works and reconstruction is exact). Each
   band is rescaled to the style band's per-channel std (gain clamped so structure
   survives smooth styles), and on the fine bands part of that energy is replaced by the
   style's own band-pass texture: a 128x128 periodic mosaic of the style's most
   brushwork-dominated patches, repeated over the content. Coarse bands and the
   low-pass stay the content's, so its structure stays recognisable.
4. Strength: output = strength * stylized + (1 - strength) * content, clipped to [0, 1].

`style_step` runs the per-style half once and returns a small dict of numpy arrays;
`content_step` runs the per-content half batched. `stylize_tf` chains the same two
TF functions for the SavedModel export, so the algorithm exists exactly once.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from pipeline.stylizers.base import Stylizer, check_batch

#: Bump whenever the output for a given (content, style) changes.
VERSION = "classical-v1"

#: The style is resized so its shorter side is this long before any statistics: it fixes
#: the brush-stroke scale relative to the (typically 256 px) contents.
STYLE_SIDE = 256
#: The texture tile is cut from the style at this shorter side (or its native one, if
#: smaller but >= STYLE_SIDE): at STYLE_SIDE a painting's brushwork is sub-pixel and only
#: depicted detail (windows, leaves) would be left.
TEXTURE_SIDE = 512
#: Side of the style texture tile carried in the state.
TILE = 128
#: The tile is a mosaic of (TILE // CELL)**2 style patches of side PATCH, each owning a
#: CELL x CELL cell and cross-faded with its neighbours over PATCH - CELL pixels.
CELL = 32
PATCH = 48
#: Number of band-pass levels; level k uses a binomial blur with dilation 2**k.
LEVELS = 4
#: Per level (finest first), the fraction of the band's amplitude that comes from the
#: style's texture tile rather than the content: sin(theta) of an energy-preserving mix.
TEXTURE_MIX = (0.8, 0.6, 0.3, 0.0)
#: Cap on the content band gain so flat content regions don't turn into amplified noise.
MAX_GAIN = 3.0
#: Per level floor on the content band gain: a very smooth style would otherwise erase
#: the content's edges (e.g. a zebra's stripes under a glazed portrait).
MIN_GAIN = (0.0, 0.3, 0.5, 0.6)
#: Diagonal regulariser of the colour covariances ([0, 1] RGB units squared).
COLOR_EPS = 1e-3
#: Kuwahara window radius (pixels) of the abstraction pass; 0 disables it.
KUWAHARA_RADIUS = 2
#: Variance floor of those weights (std 0.01): flat regions just average the quadrants.
KUWAHARA_EPS = 1e-4

#: How much of the content's luma order to restore after the colour map (0 = pure MK).
LUMA_ORDER = 1.0

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
_STD_EPS = 1e-4


# ------------------------------------------------------------------ shared TF pieces


def _blur(x: tf.Tensor, dilation: int, wrap: bool = False) -> tf.Tensor:
  """Separable 5-tap binomial blur, padded symmetrically or periodically (`wrap`).

  Either padding needs H, W >= 2 * dilation.
  """
  pad = 2 * dilation
  if wrap:
    x = tf.concat([x[:, -pad:], x, x[:, :pad]], axis=1)
    x = tf.concat([x[:, :, -pad:], x, x[:, :, :pad]], axis=2)
  else:
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
  k = tf.constant(_BINOMIAL)
  kh = tf.tile(tf.reshape(k, [5, 1, 1, 1]), [1, 1, 3, 1])
  kw = tf.reshape(kh, [1, 5, 3, 1])
  strides = [1, 1, 1, 1]
  x = tf.nn.depthwise_conv2d(x, kh, strides, "VALID", dilations=[dilation, dilation])
  return tf.nn.depthwise_conv2d(x, kw, strides, "VALID", dilations=[dilation, dilation])


def _decompose(x: tf.Tensor, levels: int = LEVELS,
               wrap: bool = False) -> tuple[list[tf.Tensor], tf.Tensor]:
  """Undecimated Laplacian pyramid: sum(bands) + lowpass == x exactly, at any size."""
  bands = []
  low = x
  for k in range(levels):
    nxt = _blur(low, 2 ** k, wrap)
    bands.append(low - nxt)
    low = nxt
  return bands, low


def _color_moments(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Per-image RGB mean [N,3] and covariance [N,3,3]."""
  mean = tf.reduce_mean(x, axis=[1, 2])
  d = x - mean[:, None, None, :]
  n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
  cov = tf.einsum("nhwc,nhwd->ncd", d, d) / n
  return mean, cov


def _sym_pow(m: tf.Tensor, p: float) -> tf.Tensor:
  """m**p for batched symmetric PSD matrices (eigenvalues floored to stay finite)."""
  e, v = tf.linalg.eigh(m)
  e = tf.pow(tf.maximum(e, 1e-8), p)
  return tf.matmul(v * e[:, None, :], v, transpose_b=True)


def _mk_map(cov_c: tf.Tensor, cov_s: tf.Tensor) -> tf.Tensor:
  """Monge-Kantorovich map T with T cov_c T = cov_s (both regularised by COLOR_EPS)."""
  eye = tf.eye(3, dtype=tf.float32)[None]
  cov_c = cov_c + COLOR_EPS * eye
  cov_s = cov_s + COLOR_EPS * eye
  c_half = _sym_pow(cov_c, 0.5)
  c_ihalf = _sym_pow(cov_c, -0.5)
  mid = _sym_pow(tf.matmul(tf.matmul(c_half, cov_s), c_half), 0.5)
  return tf.matmul(tf.matmul(c_ihalf, mid), c_ihalf)


def _luma(x: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(x * tf.constant(_LUMA), axis=-1, keepdims=True)


def _keep_luma_order(content: tf.Tensor, x: tf.Tensor, mean_s: tf.Tensor,
                     cov_s: tf.Tensor) -> tf.Tensor:
  """Replaces x's luma by the content's, affinely matched to the style's luma mean/std.

  The 3-D map may trade luma for chroma, so regions of the content that differ mostly in
  hue can swap brightness; keeping the content's luma order keeps its shapes readable,
  while the chroma, and the luma mean and contrast, still come from the style.
  """
  w = tf.constant(_LUMA)
  mu_s = tf.reduce_sum(mean_s * w, axis=-1)[:, None, None, None]
  sd_s = tf.sqrt(tf.einsum("c,ncd,d->n", w, cov_s, w))[:, None, None, None]
  y = _luma(content)
  mu_c = tf.reduce_mean(y, axis=[1, 2], keepdims=True)
  sd_c = tf.math.reduce_std(y, axis=[1, 2], keepdims=True)
  target = (y - mu_c) * (sd_s / (sd_c + _STD_EPS)) + mu_s
  return x + LUMA_ORDER * (target - _luma(x))


def _box_mean(x: tf.Tensor, r: int) -> tf.Tensor:
  """Mean over a (r+1)x(r+1) window anchored at each pixel's top-left (VALID, padded)."""
  return tf.nn.avg_pool2d(x, ksize=r + 1, strides=1, padding="VALID")


def _kuwahara(x: tf.Tensor, r: int) -> tf.Tensor:
  """Soft Kuwahara filter: quadrant-window means weighted by (min variance / variance)**4.

  It keeps edges sharp while flattening texture into painted-looking patches. The soft
  weights (not a hard argmin) keep the output continuous in the input, so float
  round-off (e.g. batch size 1 vs 8) cannot flip a pixel to another quadrant.
  """
  if r <= 0:
    return x
  h, w = tf.shape(x)[1], tf.shape(x)[2]
  xp = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="SYMMETRIC")
  lum = tf.reduce_mean(xp, axis=-1, keepdims=True)
  lum = lum - tf.reduce_mean(lum, axis=[1, 2], keepdims=True)  # less cancellation below
  mean = _box_mean(xp, r)              # [N, H+r, W+r, 3]
  var = tf.maximum(_box_mean(lum * lum, r) - tf.square(_box_mean(lum, r)), 0.0)
  var = var + KUWAHARA_EPS
  offsets = [(dy, dx) for dy in (0, r) for dx in (0, r)]  # quadrant window origins
  variances = [var[:, dy:dy + h, dx:dx + w, :] for dy, dx in offsets]
  vmin = tf.reduce_min(tf.concat(variances, axis=-1), axis=-1, keepdims=True)
  num, den = 0.0, 0.0
  for (dy, dx), v in zip(offsets, variances):
    weight = tf.square(tf.square(vmin / v))  # in (0, 1]; the least-varied quadrant is 1
    num += weight * mean[:, dy:dy + h, dx:dx + w, :]
    den += weight
  return num / den


def _resize_style(style: tf.Tensor, side) -> tf.Tensor:
  """Shorter side -> `side` (antialiased), longer side centre-cropped to 4 * side."""
  h = tf.cast(tf.shape(style)[1], tf.float32)
  w = tf.cast(tf.shape(style)[2], tf.float32)
  side = tf.cast(side, tf.int32)
  scale = tf.cast(side, tf.float32) / tf.minimum(h, w)
  nh = tf.maximum(tf.cast(tf.round(h * scale), tf.int32), side)
  nw = tf.maximum(tf.cast(tf.round(w * scale), tf.int32), side)
  style = tf.image.resize(style, tf.stack([nh, nw]), method="bilinear", antialias=True)
  ch, cw = tf.minimum(nh, 4 * side), tf.minimum(nw, 4 * side)
  oy, ox = (nh - ch) // 2, (nw - cw) // 2
  return style[:, oy:oy + ch, ox:ox + cw, :]


def _pick_tile(bands: list[tf.Tensor]) -> tf.Tensor:
  """Deterministically quilts a periodic TILE x TILE texture from the style's brushwork.

  The style is cut into non-overlapping PATCH-sized windows, scored by mid-scale (object
  edge) over fine-scale (brushwork) energy among those at least as busy as the 40th
  percentile; the best `(TILE // CELL)**2` are cross-faded into a wrapping mosaic. Small
  patches from many places keep faces and buildings from ghosting into the output as a
  single contiguous crop would, and skip blank areas that have no texture to give.
  """
  grid = TILE // CELL
  n_patches = grid * grid

  def window_energy(parts):
    e = tf.reduce_mean(tf.square(tf.add_n(parts)), axis=-1, keepdims=True)
    return tf.nn.avg_pool2d(e, ksize=PATCH, strides=PATCH, padding="VALID")

  fine = window_energy(bands[:2])
  mid = window_energy(bands[2:])
  gw = tf.shape(fine)[2]
  fine = tf.reshape(fine, [tf.shape(fine)[0], -1])
  mid = tf.reshape(mid, tf.shape(fine))
  floor = tf.sort(fine, axis=1)[:, (tf.shape(fine)[1] * 2) // 5][:, None]
  score = mid / (fine + 1e-8) + tf.cast(fine < floor, tf.float32) * 1e3
  _, idx = tf.math.top_k(-score, k=n_patches, sorted=True)      # [M, n], best first
  ys = (idx // gw) * PATCH
  xs = (idx % gw) * PATCH
  ry = ys[..., None] + tf.range(PATCH)                             # [M, n, PATCH]
  rx = xs[..., None] + tf.range(PATCH)
  detail = tf.add_n(bands)                                         # [M, H, W, 3]
  rows = tf.gather(detail, ry, axis=1, batch_dims=1)               # [M, n, P, W, 3]
  patches = tf.gather(rows, rx, axis=3, batch_dims=2)              # [M, n, P, P, 3]

  # 1-D fade: sin up over the overlap, flat, cos down; neighbours' squares sum to 1, so
  # the mosaic keeps the texture's energy with no normalisation.
  o = PATCH - CELL
  ramp = (np.arange(o) + 0.5) / o * (np.pi / 2)
  fade = np.concatenate([np.sin(ramp), np.ones(PATCH - 2 * o), np.cos(ramp)])
  weight = tf.constant((fade[:, None] * fade[None, :]).astype(np.float32))
  patches = patches * weight[None, None, :, :, None]
  m = tf.shape(patches)[0]
  # Overlap-add the grid x grid patches along x, then y; fold the overrun onto the
  # start so the tile wraps.
  x = tf.reshape(patches, [m, grid, grid, PATCH, PATCH, 3])
  x = tf.transpose(x, [0, 1, 3, 5, 2, 4])          # [M, gy, py, 3, gx, px]
  x = tf.signal.overlap_and_add(x, CELL)           # [M, gy, py, 3, TILE + o]
  x = tf.concat([x[..., :o] + x[..., TILE:], x[..., o:TILE]], axis=-1)
  x = tf.transpose(x, [0, 4, 3, 1, 2])             # [M, TILE, 3, gy, py]
  x = tf.signal.overlap_and_add(x, CELL)           # [M, TILE, 3, TILE + o]
  x = tf.concat([x[..., :o] + x[..., TILE:], x[..., o:TILE]], axis=-1)
  return tf.transpose(x, [0, 3, 1, 2])             # [M, TILE(y), TILE(x), 3]


def _tile_over(tile: tf.Tensor, h: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
  """Repeats a periodic [N,T,T,3] tile over an H x W canvas."""
  th, tw = tf.shape(tile)[1], tf.shape(tile)[2]
  reps = tf.stack([1, (h + th - 1) // th, (w + tw - 1) // tw, 1])
  return tf.tile(tile, reps)[:, :h, :w, :]


# ------------------------------------------------------------------ the two halves


@tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
def style_stats_tf(style: tf.Tensor) -> dict[str, tf.Tensor]:
  """[M,h,w,3] float in [0,1] -> per-style statistics (the state, as tensors)."""
  small = _resize_style(style, STYLE_SIDE)
  mean, cov = _color_moments(small)
  bands, _ = _decompose(small)
  band_std = tf.stack([tf.math.reduce_std(b, axis=[1, 2]) for b in bands], axis=1)
  # Never upsample for the tile: interpolated texture is only blur.
  native = tf.minimum(tf.shape(style)[1], tf.shape(style)[2])
  large = _resize_style(style, tf.clip_by_value(native, STYLE_SIDE, TEXTURE_SIDE))
  tile = _pick_tile(_decompose(large)[0])
  # The state ships the tile as float16; round here so every path sees the same bits.
  tile = tf.cast(tf.cast(tile, tf.float16), tf.float32)
  return {"mean": mean, "cov": cov, "band_std": band_std, "tile": tile}


@tf.function(input_signature=[
    tf.TensorSpec([None, None, None, 3], tf.float32),   # content
    tf.TensorSpec([None, 3], tf.float32),               # mean
    tf.TensorSpec([None, 3, 3], tf.float32),            # cov
    tf.TensorSpec([None, LEVELS, 3], tf.float32),       # band_std
    tf.TensorSpec([None, None, None, 3], tf.float32),   # tile
    tf.TensorSpec([None], tf.float32),                  # strength
])
def render_tf(content, mean, cov, band_std, tile, strength) -> tf.Tensor:
  """Batched per-content half: element i uses row i of every statistic."""
  h, w = tf.shape(content)[1], tf.shape(content)[2]
  mean_c, cov_c = _color_moments(content)
  t = _mk_map(cov_c, cov)
  x = tf.einsum("nhwc,ncd->nhwd", content - mean_c[:, None, None, :], t)
  x = x + mean[:, None, None, :]
  x = _keep_luma_order(content, x, mean, cov)
  x = _kuwahara(x, KUWAHARA_RADIUS)

  bands, out = _decompose(x)
  # The tile is periodic, so its bands are too: decompose the small tile with wrap
  # padding and repeat the bands, instead of decomposing the whole tiled canvas.
  tex_levels = max([k + 1 for k, b in enumerate(TEXTURE_MIX) if b > 0], default=0)
  tex_bands, _ = _decompose(tile, tex_levels, wrap=True)
  for k in range(LEVELS):
    target = band_std[:, k, :][:, None, None, :]
    sc = tf.math.reduce_std(bands[k], axis=[1, 2], keepdims=True)
    gain = tf.clip_by_value(target / (sc + _STD_EPS), MIN_GAIN[k], MAX_GAIN)
    b = TEXTURE_MIX[k]
    a = float(np.sqrt(1.0 - b * b))
    out = out + a * gain * bands[k]
    if b > 0:
      st = tf.math.reduce_std(tex_bands[k], axis=[1, 2], keepdims=True)
      tex = _tile_over(tex_bands[k] * (b * target / (st + _STD_EPS)), h, w)
      out = out + tex

  s = strength[:, None, None, None]
  return tf.clip_by_value(s * out + (1.0 - s) * content, 0.0, 1.0)


def stylize_tf(content: tf.Tensor, style: tf.Tensor, strength=1.0) -> tf.Tensor:
  """Pure-TF content [N,H,W,3] + style [M,h,w,3] (M == 1 or N) -> [N,H,W,3] in [0,1].

  The same two functions `style_step`/`content_step` use, chained, for SavedModel export.
  """
  content = tf.convert_to_tensor(content, tf.float32)
  n = tf.shape(content)[0]
  stats = style_stats_tf(tf.convert_to_tensor(style, tf.float32))
  m = tf.shape(stats["mean"])[0]
  pick = tf.range(n) % m
  stats = {k: tf.gather(v, pick) for k, v in stats.items()}
  strength = tf.broadcast_to(tf.cast(strength, tf.float32), [n])
  return render_tf(content, stats["mean"], stats["cov"], stats["band_std"],
                   stats["tile"], strength)


# ------------------------------------------------------------------ the Stylizer


def _as_rgb_float(style_rgb: np.ndarray) -> np.ndarray:
  """uint8 HxW, HxWx1, HxWx3 or HxWx4 -> float32 HxWx3 in [0, 1]."""
  a = np.asarray(style_rgb)
  if a.ndim == 2:
    a = a[..., None]
  if a.shape[-1] == 1:
    a = np.repeat(a, 3, axis=-1)
  a = a[..., :3]
  if a.dtype == np.uint8:
    return a.astype(np.float32) / 255.0
  return np.clip(a.astype(np.float32), 0.0, 1.0)


class ClassicalStylizer(Stylizer):
  """Colour + texture statistics transfer; no weights, deterministic, CPU-friendly."""

  name = "classical"

  @property
  def version(self) -> str:
    return VERSION

  def identity(self) -> dict:
    from pipeline.stylizers import identity
    return identity.classical(VERSION)

  def style_step(self, style_rgb: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 style -> {mean [3], cov [3,3], band_std [LEVELS,3], tile [T,T,3] f16}."""
    style = _as_rgb_float(style_rgb)
    if min(style.shape[:2]) < 1:
      raise ValueError(f"empty style image {style.shape}")
    stats = style_stats_tf(tf.constant(style[None]))
    state = {k: v.numpy()[0] for k, v in stats.items()}
    state["tile"] = state["tile"].astype(np.float16)
    return state

  def content_step(self, contents: np.ndarray, states: Sequence[Any],
                   strengths: Sequence[float]) -> np.ndarray:
    contents, _ = check_batch(contents, states, strengths)
    if contents.shape[0] == 0:
      return contents.copy()
    if min(contents.shape[1:3]) < 16:
      raise ValueError(f"contents must be at least 16x16, got {contents.shape}")

    def one(state, key):
      return tf.constant(np.asarray(state[key], np.float32)[None])

    # One image per call: batched covariance/eigh results depend on the batch's other
    # members (~5e-7, enough to flip 8-bit rounding), and Beam's batches vary from run
    # to run. Per image, a view's pixels depend only on that view: reruns are
    # byte-identical.
    return np.concatenate([
        render_tf(tf.constant(contents[i:i + 1]), one(st, "mean"), one(st, "cov"),
                  one(st, "band_std"), one(st, "tile"),
                  tf.constant([float(strength)], tf.float32)).numpy()
        for i, (st, strength) in enumerate(zip(states, strengths))])

  def stylize_tf(self, content: tf.Tensor, style: tf.Tensor, strength=1.0) -> tf.Tensor:
    """Pure-TF path for `export.export_hub_savedmodel`."""
    return stylize_tf(content, style, strength)
