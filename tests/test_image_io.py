"""pipeline.image_io: every fixture is generated here (Pillow + seeded numpy), none committed."""

from __future__ import annotations

import io
import pickle
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from pipeline import image_io
from pipeline.image_io import (BOMB, DECODE_FAILED, EMPTY, READ_FAILED, TOO_LARGE_FILE,
                               TOO_SMALL, TRUNCATED, UNRECOGNIZED, ImageError, decode_image,
                               encode_image, load_image, read_image_bytes, resize_shorter_side,
                               resize_to_square, to_float, to_uint8)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
  buf = io.BytesIO()
  im.save(buf, fmt, **kw)
  return buf.getvalue()


def _smooth(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
  """A gradient plus mild noise: realistic enough that lossy codecs stay close."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:h, 0:w]
  img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], axis=-1)
  return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def _png_header_only(w: int, h: int) -> bytes:
  """A valid PNG signature + IHDR claiming w x h (1-bit grey) with an empty IDAT."""
  def chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
          + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _reason(data: bytes, **kw) -> ImageError:
  with pytest.raises(ImageError) as info:
    decode_image(data, **kw)
  return info.value


def _check_rgb(out: np.ndarray, h: int, w: int) -> None:
  assert out.shape == (h, w, 3)
  assert out.dtype == np.uint8
  assert out.flags.c_contiguous and out.flags.writeable


# --- formats and modes ----------------------------------------------------------------


def test_jpeg_decodes_close_to_source():
  src = _smooth()
  out = decode_image(_save(Image.fromarray(src), "JPEG", quality=95))
  _check_rgb(out, 48, 64)
  assert np.abs(out.astype(int) - src).mean() < 3


def test_png_rgb_is_exact():
  src = _smooth(seed=1)
  out = decode_image(_save(Image.fromarray(src), "PNG"))
  _check_rgb(out, 48, 64)
  np.testing.assert_array_equal(out, src)


def test_rgba_png_composited_over_white():
  rgba = np.zeros((2, 3, 4), np.uint8)
  rgba[0, 0] = (255, 0, 0, 0)      # invisible red -> white
  rgba[0, 1] = (0, 0, 255, 255)    # opaque blue stays blue
  rgba[0, 2] = (0, 0, 0, 128)      # half black -> mid grey
  rgba[1] = (10, 20, 30, 255)
  out = decode_image(_save(Image.fromarray(rgba), "PNG"))
  _check_rgb(out, 2, 3)
  assert out[0, 0].tolist() == [255, 255, 255]
  assert out[0, 1].tolist() == [0, 0, 255]
  assert out[0, 2].tolist() == [127, 127, 127]  # 255 * 127/255
  assert out[1, 0].tolist() == [10, 20, 30]


def test_la_png_composited_over_white():
  la = Image.new("LA", (2, 2), (0, 0))
  la.putpixel((1, 0), (50, 255))
  out = decode_image(_save(la, "PNG"))
  _check_rgb(out, 2, 2)
  assert out[0, 0].tolist() == [255, 255, 255]
  assert out[0, 1].tolist() == [50, 50, 50]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_composited_over_white(fmt):
  im = Image.new("P", (4, 2), 0)
  im.putpalette([0, 0, 0] + list(RED) + list(GREEN) + [0] * (253 * 3))
  im.putpixel((1, 0), 1)
  im.putpixel((2, 0), 2)
  data = _save(im, fmt, transparency=0)
  out = decode_image(data)
  _check_rgb(out, 2, 4)
  assert out[1, 0].tolist() == [255, 255, 255]  # index 0 (black) is transparent
  assert out[0, 1].tolist() == list(RED)
  assert out[0, 2].tolist() == list(GREEN)


@pytest.mark.parametrize("mode,key,pixel", [("L", 7, 200), ("RGB", (1, 2, 3), (9, 8, 7))])
def test_trns_chunk_on_opaque_modes_is_honoured(mode, key, pixel):
  im = Image.new(mode, (2, 2), key)
  im.putpixel((1, 0), pixel)
  out = decode_image(_save(im, "PNG", transparency=key))
  assert out[0, 0].tolist() == [255, 255, 255]
  expected = [pixel] * 3 if mode == "L" else list(pixel)
  assert out[0, 1].tolist() == expected


def test_16bit_png_scaled_not_clipped():
  grey = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
  data = _save(Image.fromarray(grey), "PNG")
  assert Image.open(io.BytesIO(data)).mode.startswith("I")
  out = decode_image(data, min_side=1)
  _check_rgb(out, 1, 4)
  assert out[0, :, 0].tolist() == [0, 1, 128, 255]
  assert (out == out[:, :, :1]).all()


def test_16bit_big_endian_tiff():
  grey = np.array([[0, 32768], [65535, 65280]], dtype=">u2")
  im = Image.fromarray(grey)
  assert im.mode == "I;16B"
  data = _save(im, "TIFF")
  assert Image.open(io.BytesIO(data)).mode == "I;16B"
  out = decode_image(data)
  assert out[:, :, 0].tolist() == [[0, 128], [255, 254]]


def test_32bit_int_tiff_treated_as_16bit_range_and_clipped():
  im = Image.fromarray(np.array([[-5, 32768], [65535, 10**6]], dtype=np.int32))
  assert im.mode == "I"
  out = decode_image(_save(im, "TIFF"))
  assert out[:, :, 0].tolist() == [[0, 128], [255, 255]]


def test_greyscale_gives_three_equal_channels():
  grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
  out = decode_image(_save(Image.fromarray(grey), "PNG"))
  _check_rgb(out, 8, 8)
  for c in range(3):
    np.testing.assert_array_equal(out[:, :, c], grey)


def test_cmyk_jpeg_pure_cyan():
  data = _save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=95)
  assert Image.open(io.BytesIO(data)).mode == "CMYK"
  out = decode_image(data)
  _check_rgb(out, 16, 16)
  r, g, b = out.reshape(-1, 3).mean(axis=0)
  assert r < 20 and g > 235 and b > 235


def test_animated_gif_gives_first_frame():
  frames = [Image.new("RGB", (8, 6), c) for c in (RED, GREEN, BLUE)]
  buf = io.BytesIO()
  frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
  assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 3
  out = decode_image(buf.getvalue())
  _check_rgb(out, 6, 8)
  assert (out == RED).all()


def test_webp_lossless_exact_and_lossy_close():
  src = _smooth(seed=2)
  np.testing.assert_array_equal(
      decode_image(_save(Image.fromarray(src), "WEBP", lossless=True)), src)
  lossy = decode_image(_save(Image.fromarray(src), "WEBP", quality=90))
  _check_rgb(lossy, 48, 64)
  assert np.abs(lossy.astype(int) - src).mean() < 6


def test_animated_webp_gives_first_frame():
  frames = [Image.new("RGB", (8, 8), c) for c in (BLUE, RED)]
  buf = io.BytesIO()
  frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
  assert (decode_image(buf.getvalue()) == BLUE).all()


def test_palette_image_without_transparency():
  im = Image.new("P", (3, 2), 0)
  im.putpalette(list(RED) + list(GREEN) + list(BLUE) + [0] * (253 * 3))
  for x in range(3):
    im.putpixel((x, 1), x)
  out = decode_image(_save(im, "PNG"))
  assert out[1].tolist() == [list(RED), list(GREEN), list(BLUE)]
  assert (out[0] == RED).all()


def test_bilevel_image():
  im = Image.new("1", (4, 2), 0)
  im.putpixel((1, 0), 1)
  out = decode_image(_save(im, "PNG"))
  _check_rgb(out, 2, 4)
  assert set(np.unique(out).tolist()) == {0, 255}
  assert out[0, 1].tolist() == [255, 255, 255] and out[0, 0].tolist() == [0, 0, 0]


def test_pa_tiff_composited_over_white():
  im = Image.new("P", (2, 2), 1)
  im.putpalette([0, 0, 0] + list(BLUE) + [0] * (254 * 3))
  pa = im.convert("PA")
  pa.putpixel((0, 0), (1, 0))
  data = _save(pa, "TIFF")
  assert Image.open(io.BytesIO(data)).mode == "PA"
  out = decode_image(data)
  assert out[0, 0].tolist() == [255, 255, 255]
  assert out[1, 1].tolist() == list(BLUE)


def test_premultiplied_alpha_tiff():
  data = _save(Image.new("RGBA", (4, 4), (100, 50, 0, 128)), "TIFF")
  unassoc, assoc = struct.pack("<HHIHH", 338, 3, 1, 2, 0), struct.pack("<HHIHH", 338, 3, 1, 1, 0)
  assert data.count(unassoc) == 1  # ExtraSamples=2 (unassociated) -> 1 (premultiplied)
  out = decode_image(data.replace(unassoc, assoc))
  # Premultiplied over white is c + 255 * (1 - a): 100 + 127, 50 + 127, 0 + 127.
  np.testing.assert_allclose(out[0, 0], [227, 177, 127], atol=1)


@pytest.mark.parametrize("mode,value,expected", [
    ("RGBa", (100, 50, 0, 128), [227, 177, 127]),
    ("La", (100, 128), [227, 227, 227]),
    ("I;16L", 65535, [255, 255, 255]),
    ("I;16N", 32768, [128, 128, 128]),
    ("F", 65535.0, [255, 255, 255]),
    ("YCbCr", (255, 128, 128), [255, 255, 255]),
])
def test_exotic_in_memory_modes(mode, value, expected):
  # No codec writes these modes, so exercise the conversion step directly.
  out = image_io._to_rgb(Image.new(mode, (2, 2), value))
  assert out.shape == (2, 2, 3) and out.dtype == np.uint8
  np.testing.assert_allclose(out[0, 0], expected, atol=1)


def test_exif_orientation_6_is_applied():
  img = np.zeros((20, 40, 3), np.uint8)
  img[:, :20] = RED
  img[:, 20:] = BLUE
  exif = Image.Exif()
  exif[0x0112] = 6
  out = decode_image(_save(Image.fromarray(img), "JPEG", quality=95, exif=exif))
  _check_rgb(out, 40, 20)
  # Orientation 6 = rotate 90 deg clockwise for display: the left (red) half goes on top.
  top, bottom = out[2:18].reshape(-1, 3).mean(0), out[22:38].reshape(-1, 3).mean(0)
  assert top[0] > 200 and top[2] < 50
  assert bottom[2] > 200 and bottom[0] < 50


# --- refusals -------------------------------------------------------------------------


def test_bomb_refused_fast_without_decoding():
  data = _png_header_only(20000, 20000)
  assert len(data) < 100
  t0 = time.perf_counter()
  err = _reason(data)
  assert time.perf_counter() - t0 < 2
  assert err.reason == BOMB
  assert "decompression" in str(err)


def test_own_pixel_limit_checked_before_load(monkeypatch):
  def boom(self):
    raise AssertionError("pixels must not be decoded")
  monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
  err = _reason(_png_header_only(3000, 3000), max_pixels=1_000_000)
  assert err.reason == BOMB
  assert "3000x3000" in str(err) and "1,000,000" in str(err)


def test_pillow_bomb_warning_silenced_and_global_limit_untouched():
  before = Image.MAX_IMAGE_PIXELS
  side = int((before * 1.05) ** 0.5)  # between Pillow's warning and error thresholds
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    err = _reason(_png_header_only(side, side), max_pixels=before + 1)
  assert err.reason == BOMB
  assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
  assert Image.MAX_IMAGE_PIXELS == before


def test_image_within_limit_decodes():
  out = decode_image(_save(Image.new("RGB", (100, 100), GREEN), "PNG"), max_pixels=10_000)
  assert (out == GREEN).all()


def test_empty_bytes():
  err = _reason(b"")
  assert err.reason == EMPTY and isinstance(err, ValueError)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF"])
def test_truncated(fmt):
  rng = np.random.default_rng(3)
  noisy = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible: big payload
  im = Image.fromarray(noisy)
  data = _save(im.convert("P") if fmt == "GIF" else im, fmt)
  err = _reason(data[:len(data) // 2])
  assert err.reason == TRUNCATED, str(err)
  assert str(err).startswith("truncated image data: ")


def test_truncated_jpeg_message_is_human_readable():
  data = _save(Image.fromarray(_smooth(256, 256)), "JPEG")
  err = _reason(data[:len(data) // 2])
  assert err.reason == TRUNCATED
  assert "image file is truncated" in str(err)


def test_random_bytes_unrecognized():
  data = np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes()
  err = _reason(data)
  assert err.reason == UNRECOGNIZED
  assert "unrecognized image format" in str(err)


def test_text_file_unrecognized(tmp_path):
  path = tmp_path / "notes.jpg"
  path.write_text("this is not an image\n" * 20)
  assert _reason(path.read_bytes()).reason == UNRECOGNIZED


def test_format_outside_allow_list_unrecognized():
  data = _save(Image.new("RGB", (8, 8), RED), "PPM")
  assert Image.open(io.BytesIO(data)).format == "PPM"  # Pillow could, we choose not to
  assert _reason(data).reason == UNRECOGNIZED


def test_corrupt_pixel_data_decode_failed():
  data = bytearray(_save(Image.fromarray(_smooth(32, 32)), "PNG"))
  at = data.find(b"IDAT") + 10
  data[at:at + 20] = bytes(b ^ 0xFF for b in data[at:at + 20])
  err = _reason(bytes(data))
  assert err.reason == DECODE_FAILED
  assert str(err).startswith("could not decode image: OSError: ")


@pytest.mark.parametrize("size", [(1, 1), (1, 50), (50, 1)])
def test_too_small(size):
  data = _save(Image.new("RGB", size, RED), "PNG")
  err = _reason(data, min_side=2)
  assert err.reason == TOO_SMALL and f"{size[0]}x{size[1]}" in str(err)
  assert decode_image(data, min_side=1).shape == (size[1], size[0], 3)


def test_image_error_contract_and_pickling():
  err = ImageError(TRUNCATED, "truncated image data: x")
  assert isinstance(err, ValueError) and err.reason == TRUNCATED
  assert str(err) == "truncated image data: x"
  back = pickle.loads(pickle.dumps(err))
  assert back.reason == TRUNCATED and str(back) == str(err)


# --- resizing -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["center_crop", "pad", "stretch"])
@pytest.mark.parametrize("hw", [(30, 50), (50, 30), (7, 7), (300, 200)])
def test_resize_to_square_shapes(policy, hw):
  out = resize_to_square(_smooth(*hw), 16, policy)
  _check_rgb(out, 16, 16)


def test_center_crop_keeps_centre():
  img = np.zeros((100, 400, 3), np.uint8)
  img[:, :100] = RED
  img[:, 100:300] = GREEN
  img[:, 300:] = BLUE
  out = resize_to_square(img, 32, "center_crop")
  assert np.abs(out.astype(int) - GREEN).max() <= 2


def test_pad_uses_mid_grey_centred():
  out = resize_to_square(np.full((20, 40, 3), 255, np.uint8), 16, "pad")
  assert (out[:4] == 128).all() and (out[12:] == 128).all()
  assert (out[4:12] == 255).all()
  tall = resize_to_square(np.full((40, 20, 3), 255, np.uint8), 16, "pad")
  assert (tall[:, :4] == 128).all() and (tall[:, 12:] == 128).all()


def test_stretch_keeps_whole_content():
  img = np.zeros((10, 40, 3), np.uint8)
  img[:, :20] = RED
  img[:, 20:] = BLUE
  out = resize_to_square(img, 20, "stretch")
  # Away from the edge LANCZOS ringing is gone; the halves keep their proportions.
  assert (out[:, :5] == RED).all() and (out[:, 15:] == BLUE).all()


def test_resize_is_deterministic_and_identity_at_same_size():
  img = _smooth(64, 64, seed=5)
  np.testing.assert_array_equal(resize_to_square(img, 64), img)
  a, b = resize_to_square(_smooth(90, 70), 32), resize_to_square(_smooth(90, 70), 32)
  np.testing.assert_array_equal(a, b)


def test_big_downscale_preserves_mean():
  img = _smooth(900, 1200, seed=6)
  out = resize_to_square(img, 64, "stretch")
  _check_rgb(out, 64, 64)
  np.testing.assert_allclose(out.reshape(-1, 3).mean(0), img.reshape(-1, 3).mean(0), atol=2)


def test_resize_rejects_bad_input():
  with pytest.raises(ValueError, match="policy"):
    resize_to_square(_smooth(), 16, "zoom")
  with pytest.raises(ValueError, match="uint8"):
    resize_to_square(_smooth().astype(np.float32), 16)
  with pytest.raises(ValueError, match="HxWx3"):
    resize_to_square(_smooth()[:, :, 0], 16)
  with pytest.raises(ValueError, match="size"):
    resize_to_square(_smooth(), 0)


@pytest.mark.parametrize("hw,expected", [((30, 50), (15, 25)), ((50, 30), (25, 15)),
                                         ((20, 20), (15, 15)), ((33, 100), (15, 45))])
def test_resize_shorter_side(hw, expected):
  out = resize_shorter_side(_smooth(*hw), 15)
  _check_rgb(out, *expected)


# --- encoding and conversions ---------------------------------------------------------


def test_jpeg_encode_deterministic_and_close():
  img = _smooth(seed=7)
  a, b = encode_image(img, "jpeg", 95), encode_image(img.copy(), "jpeg", 95)
  assert a == b and a[:2] == b"\xff\xd8"
  back = decode_image(a)
  assert np.abs(back.astype(int) - img).mean() < 3


def test_jpeg_chroma_subsampling_pinned():
  img = _smooth()
  hi = Image.open(io.BytesIO(encode_image(img, "jpeg", 95)))
  lo = Image.open(io.BytesIO(encode_image(img, "jpeg", 75)))
  assert JpegImagePlugin.get_sampling(hi) == 0  # 4:4:4
  assert JpegImagePlugin.get_sampling(lo) == 2  # 4:2:0
  assert "exif" not in hi.info


def test_png_encode_roundtrip_exact_and_deterministic():
  img = _smooth(seed=8)
  data = encode_image(img, "png")
  assert data == encode_image(img, "png") and data[:4] == b"\x89PNG"
  np.testing.assert_array_equal(decode_image(data), img)


def test_encode_rejects_unknown_format_and_bad_quality():
  with pytest.raises(ValueError, match="unsupported format"):
    encode_image(_smooth(), "gif")
  with pytest.raises(ValueError, match="quality"):
    encode_image(_smooth(), "jpeg", 0)


def test_float_conversions():
  img = np.array([[[0, 1, 128], [254, 255, 77]]], np.uint8)
  f = to_float(img)
  assert f.dtype == np.float32 and f.min() == 0.0 and f.max() == 1.0
  np.testing.assert_array_equal(to_uint8(f), img)
  odd = np.array([[[-0.5, 1.7, np.nan], [0.5, 0.499 / 255, 1.501 / 255]]], np.float64)
  out = to_uint8(odd)
  assert out.dtype == np.uint8 and out.flags.c_contiguous
  assert out.tolist() == [[[0, 255, 0], [128, 0, 2]]]
  with pytest.raises(ValueError):
    to_float(f)
  with pytest.raises(ValueError):
    to_uint8(img)


# --- reading --------------------------------------------------------------------------


def test_read_image_bytes_unicode_path_with_spaces(tmp_path):
  data = _save(Image.new("RGB", (6, 4), RED), "JPEG")
  path = tmp_path / "dossier à part" / "été photo ü.jpg"
  path.parent.mkdir()
  path.write_bytes(data)
  assert read_image_bytes(str(path)) == data
  out = load_image(str(path))
  _check_rgb(out, 4, 6)


def test_read_image_bytes_missing_and_directory(tmp_path):
  for uri in (str(tmp_path / "nope.jpg"), str(tmp_path)):
    with pytest.raises(ImageError) as info:
      read_image_bytes(uri)
    assert info.value.reason == READ_FAILED and uri in str(info.value)


def test_read_image_bytes_size_limit(tmp_path):
  path = tmp_path / "big.bin"
  path.write_bytes(b"x" * 1000)
  assert len(read_image_bytes(str(path), max_bytes=1000)) == 1000
  with pytest.raises(ImageError) as info:
    read_image_bytes(str(path), max_bytes=999)
  assert info.value.reason == TOO_LARGE_FILE


def test_read_image_bytes_empty_file(tmp_path):
  path = tmp_path / "empty.png"
  path.write_bytes(b"")
  with pytest.raises(ImageError) as info:
    read_image_bytes(str(path))
  assert info.value.reason == EMPTY


def test_read_image_bytes_does_not_decompress_by_extension(tmp_path):
  path = tmp_path / "photo.jpg.gz"
  path.write_bytes(b"not really gzip")
  assert read_image_bytes(str(path)) == b"not really gzip"


def test_load_image_errors_name_the_uri(tmp_path):
  path = tmp_path / "broken.jpg"
  path.write_bytes(b"garbage" * 10)
  with pytest.raises(ImageError) as info:
    load_image(str(path))
  assert info.value.reason == UNRECOGNIZED and str(path) in str(info.value)


def test_read_image_bytes_retries_a_passing_error_but_not_a_missing_file(
    tmp_path, monkeypatch):
  from apache_beam.io.filesystems import FileSystems
  from pipeline import image_io
  path = tmp_path / "photo.jpg"
  path.write_bytes(b"some bytes")
  real_open, calls = FileSystems.open, []

  def flaky_open(uri, *args, **kwargs):
    calls.append(uri)
    if len(calls) == 1:
      raise OSError("Connection reset by peer")  # an object store's hiccup
    return real_open(uri, *args, **kwargs)

  monkeypatch.setattr(image_io, "_READ_RETRY_PAUSES_S", (0.01, 0.01))
  monkeypatch.setattr(FileSystems, "open", staticmethod(flaky_open))
  assert read_image_bytes(str(path)) == b"some bytes" and len(calls) == 2
  calls.clear()
  with pytest.raises(ImageError) as info:
    read_image_bytes(str(tmp_path / "missing.jpg"))
  assert info.value.reason == READ_FAILED and len(calls) == 2  # the flake, then final
  calls.clear()
  monkeypatch.setattr(FileSystems, "open", staticmethod(
      lambda uri, *a, **k: calls.append(uri) or (_ for _ in ()).throw(OSError("reset"))))
  with pytest.raises(ImageError, match=r"after 3 attempts"):
    read_image_bytes(str(path))
  assert len(calls) == 3
