"""Any SavedModel with the Magenta TF-Hub call convention, `model(content, style)[0]`.

That covers the published arbitrary-image-stylization-v1-256 handle, the port of the
Magenta TF Lite pair (`python -m pipeline.stylizers.magenta_tf export`) and the exported
classical stylizer the offline tests use.

When the model also has the two halves as signatures (the port does), the stylizer uses
them, which is what makes batching pay:

* style step: the predictor, once per style -> a 100-float bottleneck (the style state);
* content step: ONE transfer call per batch, every example with its own bottleneck, at
  the contents' own resolution;
* strength: Magenta's bottleneck interpolation, as the TF Lite stylizer does.

With only the combined call (the published model), a style state is the 256x256 style
image, the content step is one call per batch with the paired style batch, and strength
is a pixel blend (that model has no bottleneck input). Either way the call counters
`content_model_calls` / `style_model_calls` say how many model calls were made.

Device: TensorFlow places the calls on the first GPU when there is one, else the CPU.
XLA (`jit_compile`) is off by default: on CPU it made the transfer slower (see
benchmarks/README.md); `$STYLIZE_HUB_JIT=1` or `jit_compile=True` turns it on, e.g. on a
GPU where `benchmarks/stylizer_speed.py --gpu_sweep` shows it helps.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
from typing import Any, Sequence

import numpy as np

from pipeline.stylizers import identity
from pipeline.stylizers.base import Stylizer, StylizerConfigError, check_batch
from pipeline.stylizers.magenta_tf import (BOTTLENECK_DIM, PREDICT_SIGNATURE,
                                           TRANSFER_SIGNATURE)
from pipeline.stylizers.preprocess import STYLE_SIZE, predictor_input, resize, unit_rgb

JIT_ENV = "STYLIZE_HUB_JIT"
#: Seconds allowed for the offline check of a remote handle (DNS + TCP connect).
REACH_TIMEOUT_S = 3.0


def _is_remote(handle: str) -> bool:
  return "://" in handle or handle.startswith("https")


def hub_cache_dir() -> str:
  """Where tensorflow_hub keeps downloaded models (its own default)."""
  return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                           "tfhub_modules")


def _cached(handle: str) -> bool:
  """tensorflow_hub caches a handle under sha1(handle); a complete copy has the pb."""
  folder = os.path.join(hub_cache_dir(), hashlib.sha1(handle.encode("utf8")).hexdigest())
  return os.path.isfile(os.path.join(folder, "saved_model.pb"))


def _unreachable(url: str, timeout: float) -> str | None:
  """None if a TCP connection to the URL's host (or its HTTPS proxy) opens in time,
  else why not. Runs in a thread so a hanging DNS lookup cannot exceed the timeout."""
  parsed = urllib.parse.urlparse(url)
  proxy = urllib.request.getproxies().get(parsed.scheme)
  target = urllib.parse.urlparse(proxy if "://" in (proxy or "") else f"http://{proxy}") \
      if proxy else parsed
  host = target.hostname or ""
  port = target.port or (443 if target.scheme == "https" else 80)
  result: list[str | None] = ["timed out"]

  def connect():
    try:
      socket.create_connection((host, port), timeout=timeout).close()
      result[0] = None
    except OSError as e:
      result[0] = f"{type(e).__name__}: {e}"

  thread = threading.Thread(target=connect, daemon=True)
  thread.start()
  thread.join(timeout)
  return None if result[0] is None else f"{host}:{port} {result[0]}"


def offline_message(handle: str, reason: str) -> str:
  return (f"hub: cannot download {handle} ({reason}) and it is not in the TF-Hub cache "
          f"({hub_cache_dir()}). Use a local model instead: --stylizer=hub:<SavedModel "
          "dir> (the Magenta port: python -m pipeline.stylizers.magenta_tf export "
          "--tflite_dir=<TF Lite dir> --output=<dir>), --stylizer=tflite:<dir with "
          "prediction_int8.tflite and transfer_fp16.tflite>, or --stylizer=classical")


class HubStylizer(Stylizer):
  """Wraps `tensorflow_hub.load(handle)`; see the module docstring for the two modes."""

  name = "hub"

  def __init__(self, handle: str, jit_compile: bool | None = None):
    """jit_compile=None reads $STYLIZE_HUB_JIT (1/0), default off."""
    self.handle = str(handle)
    if jit_compile is None:
      raw = os.environ.get(JIT_ENV, "").strip().lower()
      if raw not in ("", "0", "1", "false", "true"):
        raise StylizerConfigError(f"${JIT_ENV}={raw!r}: expected 1 or 0")
      jit_compile = raw in ("1", "true")
    self.jit_compile = bool(jit_compile)
    self.has_halves: bool | None = None  # known once loaded
    self.device: str | None = None  # "/GPU:0" or "/CPU:0", once loaded
    self.content_model_calls = 0  # transfer (or combined) calls made by content_step
    self.style_model_calls = 0  # predictor calls (style_step; content bottlenecks)
    self._model = None
    self._fns: dict[str, Any] = {}
    self._version: str | None = None

  # ---------------------------------------------------------------- config

  @property
  def version(self) -> str:
    """The handle; for a local dir, its name and a digest of graph + weight index."""
    if self._version is None:
      if self.handle.startswith(("http://", "https://")):
        self._version = self.handle  # published handles name a fixed version
      else:  # a folder, local or gs://: its name and what is in it
        from apache_beam.io.filesystems import FileSystems
        path = self.handle if _is_remote(self.handle) else os.path.abspath(self.handle)
        digest = hashlib.sha256()
        found = False
        for part in ("saved_model.pb", "variables/variables.index"):
          try:
            with FileSystems.open(FileSystems.join(path, part)) as f:
              digest.update(f.read())
            found = True
          except Exception:  # absent: validate() says so for a local folder
            continue
        tag = digest.hexdigest()[:12] if found else "missing"
        self._version = f"{path.rstrip('/').rsplit('/', 1)[-1]}@{tag}"
    return self._version

  def identity(self) -> dict:
    """A published handle names itself; a folder is identified by its files' sums and,
    for our port of the TF Lite pair, by the provenance its export wrote beside them."""
    if self.handle.startswith(("http://", "https://")):
      magenta = "arbitrary-image-stylization" in self.handle
      return {"network": identity.MAGENTA_NETWORK if magenta else "",
              "published": self.handle, "license": identity.LICENSE if magenta else "",
              "format": "TF-Hub SavedModel", "files": []}
    from apache_beam.io.filesystems import FileSystems
    path = self.handle if _is_remote(self.handle) else os.path.abspath(self.handle)
    files = []
    for part in ("saved_model.pb", "variables/variables.index"):
      try:
        files.append(identity.file_entry(FileSystems.join(path, part), part,
                                         FileSystems.open))
      except Exception:  # absent: validate() says so for a local folder
        continue
    try:
      with FileSystems.open(FileSystems.join(path, identity.PROVENANCE_FILE)) as f:
        found = json.loads(f.read().decode("utf-8"))
    except Exception:  # a SavedModel made elsewhere: only its sums identify it
      found = {"network": "", "published": "", "license": "",
               "format": f"TensorFlow SavedModel (no {identity.PROVENANCE_FILE}: "
                         "origin not stated)"}
    return dict(found, files=files)

  def validate(self) -> None:
    """Local dir: has a saved_model.pb. HTTP(S) handle: cached, or its host answers
    within REACH_TIMEOUT_S; otherwise one error naming the local alternatives."""
    if _is_remote(self.handle):
      # gs:// folders are read by TensorFlow's file system at load time (credentials
      # and all); only a download from an HTTP(S) hub can be checked cheaply here.
      if self.handle.startswith(("http://", "https://")) and not _cached(self.handle):
        reason = _unreachable(self.handle, REACH_TIMEOUT_S)
        if reason:
          raise StylizerConfigError(offline_message(self.handle, reason))
      return
    path = os.path.abspath(self.handle)
    if not os.path.isdir(path):
      raise StylizerConfigError(f"hub: SavedModel directory {path} does not exist")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
      raise StylizerConfigError(
          f"hub: {path} has no saved_model.pb; expected a TF SavedModel directory")

  def load(self) -> None:
    if self._model is not None:
      return
    import tensorflow_hub as hub  # Deferred: importing TF costs seconds.
    try:
      model = hub.load(self.handle)
    except Exception as e:  # hub/TF raise many types (OSError, ValueError, NotFound...).
      raise StylizerConfigError(f"hub: cannot load {self.handle!r}: {e}") from e
    self.attach(model)

  def attach(self, model) -> None:
    """Uses an already loaded model (what `load` does after `hub.load`)."""
    import tensorflow as tf
    self.device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
    signatures = getattr(model, "signatures", {})
    self.has_halves = PREDICT_SIGNATURE in signatures and TRANSFER_SIGNATURE in signatures
    if self.has_halves:
      predict, transfer = signatures[PREDICT_SIGNATURE], signatures[TRANSFER_SIGNATURE]
      fns = {"predict": lambda s: predict(style_image=s)["bottleneck"],
             "transfer": lambda c, b: transfer(content_image=c,
                                               bottleneck=b)["stylized_image"]}
    else:
      fns = {"combined": lambda c, s: model(c, s)[0]}
    if self.jit_compile:
      fns = {k: tf.function(f, jit_compile=True) for k, f in fns.items()}
    self._fns, self._model = fns, model

  def _call(self, which: str, *arrays: np.ndarray) -> np.ndarray:
    import tensorflow as tf
    with tf.device(self.device):
      return np.asarray(self._fns[which](*[tf.constant(a) for a in arrays]), np.float32)

  def _predict(self, squares: np.ndarray) -> np.ndarray:
    self.style_model_calls += 1
    return self._call("predict", squares).reshape(len(squares), BOTTLENECK_DIM)

  # ---------------------------------------------------------------- the two halves

  def style_step(self, style_rgb: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> bottleneck float32 [100] (model with halves), else the style as
    float32 [256,256,3] in [0,1]. Centre crop + antialiased resize, as the TF Lite
    stylizer does, so a painting gives the same input on every Magenta path."""
    self.load()
    square = predictor_input(unit_rgb(style_rgb))
    if self.has_halves:
      return self._predict(square[None])[0]
    return square

  def content_step(self, contents: np.ndarray, states: Sequence[Any],
                   strengths: Sequence[float]) -> np.ndarray:
    """One model call for the whole batch, each content with its own state."""
    contents, s = check_batch(contents, states, strengths)
    n, h, w = contents.shape[:3]
    if n == 0:
      return contents.copy()
    self.load()
    expected = (BOTTLENECK_DIM,) if self.has_halves else (STYLE_SIZE, STYLE_SIZE, 3)
    shapes = {np.shape(state) for state in states}
    if shapes != {expected}:
      raise ValueError(f"hub: style states of shape {sorted(shapes)}; this model takes "
                       f"{expected} (states from another model's style_step?)")
    styles = np.stack([np.asarray(state, np.float32) for state in states])
    if self.has_halves:
      mix = np.flatnonzero(s != 1.0)
      if mix.size:  # Magenta's strength: towards the content's own bottleneck
        own = self._predict(np.stack([predictor_input(contents[i]) for i in mix]))
        styles[mix] = s[mix, None] * styles[mix] + (1.0 - s[mix, None]) * own
      out = self._call("transfer", contents, styles)
    else:
      out = self._call("combined", contents, styles)
    self.content_model_calls += 1
    if out.shape[1:3] != (h, w):  # sizes not divisible by 4 come back rounded
      out = np.stack([resize(o, h, w) for o in out])
    if not self.has_halves:
      out = s[:, None, None, None] * out + (1.0 - s[:, None, None, None]) * contents
    return np.clip(out, 0.0, 1.0)
