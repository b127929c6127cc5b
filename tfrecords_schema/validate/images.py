"""Each record's image: its bytes are the format it claims, decode, and have the size
and channels its fields say.

An image that does not decode fails a reader mid-epoch, and one whose format or size
differs from its fields misleads every reader that trusts them. Skipped with
`--no-decode-images`.
"""

from __future__ import annotations

import io
import re
from typing import Callable

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _tf_message(e: Exception) -> str:
  # TF wraps the useful part in '{{function_node ...}} ... [Op:IteratorGetNext] name: '.
  msg = getattr(e, "message", str(e))
  msg = re.sub(r"^\{\{[^}]*\}\}\s*", "", msg)
  return re.sub(r"\s*\[Op:[^\]]*\].*$", "", msg, flags=re.S).strip()


def _decode_image(data: bytes) -> tuple[int, int, int]:
  """(height, width, channels). PIL is faster and stricter on truncated JPEGs; TF is
  the fallback so the package still needs only TensorFlow."""
  try:
    from PIL import Image
  except ImportError:
    import tensorflow as tf
    h, w, c = tf.io.decode_image(data, expand_animations=False).shape
    return int(h), int(w), int(c)
  with Image.open(io.BytesIO(data)) as im:
    im.load()
    return im.height, im.width, len(im.getbands())


def check_image(rec: dict, where: str, add: Callable[[str, str], None]) -> None:
  data = rec["image"]
  fmt = ("jpeg" if data[:3] == b"\xff\xd8\xff" else "png" if data[:8] == _PNG_MAGIC
         else None)
  if fmt is None:
    add("undecodable_image", f"{where}: image bytes are neither JPEG nor PNG "
        f"(start {data[:8]!r}, {len(data)} bytes)")
    return
  if fmt != rec["image_format"]:
    add("image_mismatch", f"{where}: image is {fmt}, image_format says "
        f"{rec['image_format']!r}")
  try:
    h, w, c = _decode_image(data)
  except Exception as e:  # PIL's OSError/SyntaxError, TF's InvalidArgumentError
    add("undecodable_image", f"{where}: {fmt} image does not decode: "
        f"{type(e).__name__}: {_tf_message(e)[:200]}")
    return
  if (h, w) != (rec["height"], rec["width"]):
    add("image_mismatch", f"{where}: image is {h}x{w}, height/width say "
        f"{rec['height']}x{rec['width']}")
  if c != 3:
    add("image_mismatch", f"{where}: image has {c} channel(s), the contract says RGB")
