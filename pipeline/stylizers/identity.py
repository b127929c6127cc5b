"""A stylizer's public identity: the published network and the exact files behind it.

A dataset's readers cannot see the producer's disk, so `tflite:/home/me/models` or
`hub:/tmp/sm` tells them nothing. The identity names the network as published (the
Magenta arbitrary-image-stylization-v1-256 model, Ghiasi et al. 2017), its public
handles, and each file's sha256 and size, whatever folder it was loaded from; for the
TF Lite files also what their flatbuffers say about their converter, and for our
TensorFlow port (`pipeline.stylizers.magenta_tf`) the TF Lite files it was made from,
the port's code digest and TensorFlow version, written beside the SavedModel at export
(`PROVENANCE_FILE`). It goes into stylized_metadata.json `stylizer` and SCHEMA.md.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable, IO

MAGENTA_NETWORK = ("Magenta arbitrary-image-stylization-v1-256 (Ghiasi et al. 2017, "
                   "BMVC)")
MAGENTA_HUB = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
_LITE = "https://tfhub.dev/google/lite-model/magenta/arbitrary-image-stylization-v1-256"
#: The TF-Hub lite-model handle each TF Lite file name was published under.
TFLITE_HANDLES = {"prediction_int8.tflite": f"{_LITE}/int8/prediction/1",
                  "transfer_int8.tflite": f"{_LITE}/int8/transfer/1",
                  "transfer_fp16.tflite": f"{_LITE}/fp16/transfer/1"}
#: Written into a SavedModel folder by the port's export; read by the hub stylizer.
PROVENANCE_FILE = "stylizer_provenance.json"
LICENSE = "Apache-2.0 (Google/Magenta)"

Opener = Callable[[str], IO[bytes]]


def file_entry(path: str, name: str, opener: Opener | None = None) -> dict:
  """{file, bytes, sha256, published_as} of one model file (read in 1 MB chunks)."""
  digest, size = hashlib.sha256(), 0
  with (opener or (lambda p: open(p, "rb")))(path) as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
      size += len(chunk)
  return {"file": name, "bytes": size, "sha256": digest.hexdigest(),
          "published_as": TFLITE_HANDLES.get(name, "")}


def tflite_converter(path: str) -> dict:
  """What a .tflite flatbuffer says about how it was made: its description (the
  converter, e.g. 'TOCO Converted.'), schema version, min_runtime_version; {} when the
  `tflite` package is absent or the file does not parse."""
  try:
    import tflite
    with open(path, "rb") as f:
      data = f.read()
    model = tflite.Model.GetRootAsModel(data, 0)
    out = {"description": (model.Description() or b"").decode("utf-8", "replace"),
           "schema_version": int(model.Version())}
    for i in range(model.MetadataLength()):
      entry = model.Metadata(i)
      if entry.Name() == b"min_runtime_version":
        raw = model.Buffers(entry.Buffer()).DataAsNumpy()
        out["min_runtime_version"] = bytes(raw).rstrip(b"\0").decode("ascii", "replace")
    return out
  except Exception:  # ImportError or a file that is not a flatbuffer: say nothing
    return {}


def magenta_tflite(folder: str, names: list[str]) -> dict:
  """The identity of the TF Lite pair `names` in a local `folder`."""
  files = []
  for name in names:
    path = os.path.join(folder, name)
    files.append(dict(file_entry(path, name), converter=tflite_converter(path)))
  return {"network": MAGENTA_NETWORK, "published": MAGENTA_HUB, "license": LICENSE,
          "format": "TF Lite pair (style prediction + style transfer), run by LiteRT",
          "files": files}


def classical(version: str) -> dict:
  return {"network": "none: classical colour and texture statistics transfer (no "
                     "learned weights)", "published": "", "license": "",
          "format": version,
          "files": []}
