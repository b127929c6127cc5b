"""Magenta arbitrary-image-stylization (Ghiasi et al. 2017) as a TF Lite pair, run by LiteRT.

The network comes in two halves, which map onto the `Stylizer` split:

* `prediction_int8.tflite`: style image [1,256,256,3] -> style bottleneck [1,1,1,100].
  This is `style_step`; the 100 floats are the whole style state shipped to workers.
* `transfer_{fp16,int8}.tflite`: content [1,384,384,3] + bottleneck -> stylized [1,384,384,3].
  This is `content_step`.

Style strength is Magenta's own recipe: interpolate between the style's bottleneck and the
content's own bottleneck, `s * style + (1 - s) * content`, so strength 0 asks the network to
re-render the content in its own style (a near-reconstruction, not an identity).

Thread safety: a LiteRT interpreter must not be invoked from two threads at once. The job
keeps one stylizer per worker process; a lock still serialises calls in case Beam shares it
between DoFn threads, which costs nothing when there is only one caller.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from typing import Any, Sequence

import numpy as np

from pipeline.stylizers import identity
from pipeline.stylizers.base import Stylizer, StylizerConfigError, check_batch
from pipeline.stylizers.preprocess import as_rgb, predictor_input, resize

#: The version's prefix: the published network, whatever the model folder is called.
NETWORK_TAG = "magenta_v1_256"
PREDICTION_FILE = "prediction_int8.tflite"
TRANSFER_FILES = {"fp16": "transfer_fp16.tflite", "int8": "transfer_int8.tflite"}
CONTENT_SIZE = 384  # fixed input of the transfer network
BOTTLENECK_DIM = 100
#: Threads per interpreter when the caller does not say. The local Beam job sets it to
#: cores // worker processes, since W processes each using every core oversubscribe the
#: CPU (measured: 0.73-0.77 of the bare model's images/s with all cores per worker,
#: 0.79-0.83 with one thread per worker on 2 cores).
THREADS_ENV = "STYLIZE_TFLITE_THREADS"


def default_threads() -> int:
  """$STYLIZE_TFLITE_THREADS when set, else every core."""
  raw = os.environ.get(THREADS_ENV, "").strip()
  if raw:
    try:
      value = int(raw)
    except ValueError:
      value = 0
    if value < 1:
      raise StylizerConfigError(f"${THREADS_ENV}={raw!r}: expected a positive integer")
    return value
  return os.cpu_count() or 1


def _is_gcs(path: str) -> bool:
  return path.startswith("gs://")


def _join(base: str, name: str) -> str:
  return base.rstrip("/") + "/" + name if _is_gcs(base) else os.path.join(base, name)


def _exists(path: str) -> bool:
  if _is_gcs(path):
    from apache_beam.io.filesystems import FileSystems  # only remote paths need Beam
    return FileSystems.exists(path)
  return os.path.isfile(path)


class TFLiteStylizer(Stylizer):
  """Magenta v1-256 TF Lite prediction + transfer networks."""

  name = "tflite"

  def __init__(self, model_dir: str | os.PathLike, transfer: str = "fp16",
               num_threads: int | None = None):
    """transfer="fp16" (default, better quality and faster on CPU) falls back to int8
    when the fp16 file is absent; transfer="int8" forces int8.

    num_threads=None means `default_threads()` ($STYLIZE_TFLITE_THREADS, else every
    core): LiteRT's own default ran single-threaded and took 1.9x as long per image on
    2 cores. Use 1 when the runner already starts one worker process per core, so the
    processes do not oversubscribe the CPUs (spec: `tflite:<dir>?threads=1`).
    """
    if num_threads is not None and num_threads < 1:
      raise StylizerConfigError(f"num_threads={num_threads}: expected a positive integer")
    if transfer not in TRANSFER_FILES:
      raise StylizerConfigError(
          f"transfer={transfer!r}: expected one of {sorted(TRANSFER_FILES)}")
    self.model_dir = str(model_dir)
    self.transfer = transfer
    self.num_threads = num_threads
    self.threads_in_use: int | None = None  # known once loaded
    self._transfer_file: str | None = None
    self._local_dir: str | None = None
    self._version: str | None = None
    self._prediction = None
    self._transfer = None
    self._lock = threading.Lock()

  # -- configuration ------------------------------------------------------------------

  def _resolve_transfer_file(self) -> str:
    """Picks the transfer file name; raises StylizerConfigError naming what is missing."""
    if self._transfer_file is not None:
      return self._transfer_file
    if not _is_gcs(self.model_dir) and not os.path.isdir(self.model_dir):
      raise StylizerConfigError(
          f"tflite model folder {self.model_dir!r} does not exist "
          f"(expected {PREDICTION_FILE} and {TRANSFER_FILES['fp16']} or "
          f"{TRANSFER_FILES['int8']} in it)")
    if not _exists(_join(self.model_dir, PREDICTION_FILE)):
      raise StylizerConfigError(
          f"{PREDICTION_FILE} is missing from tflite model folder {self.model_dir!r}")
    candidates = ["fp16", "int8"] if self.transfer == "fp16" else [self.transfer]
    for kind in candidates:
      if _exists(_join(self.model_dir, TRANSFER_FILES[kind])):
        self._transfer_file = TRANSFER_FILES[kind]
        return self._transfer_file
    wanted = " or ".join(TRANSFER_FILES[k] for k in candidates)
    raise StylizerConfigError(
        f"{wanted} is missing from tflite model folder {self.model_dir!r}")

  def validate(self) -> None:
    self._resolve_transfer_file()

  def _local_model_dir(self) -> str:
    """The model folder on local disk; remote folders are copied once per process."""
    if self._local_dir is None:
      if _is_gcs(self.model_dir):
        from apache_beam.io.filesystems import FileSystems
        local = tempfile.mkdtemp(prefix="tflite_stylizer_")
        for name in (PREDICTION_FILE, self._resolve_transfer_file()):
          with FileSystems.open(_join(self.model_dir, name)) as src, \
              open(os.path.join(local, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
        self._local_dir = local
      else:
        self._local_dir = self.model_dir
    return self._local_dir

  @property
  def version(self) -> str:
    if self._version is None:
      transfer_file = self._resolve_transfer_file()
      digest = hashlib.sha256()  # both halves: either one changes the pixels
      for name in (PREDICTION_FILE, transfer_file):
        with open(os.path.join(self._local_model_dir(), name), "rb") as f:
          digest.update(f.read())
      digest = digest.hexdigest()  # not the folder's name: it is the producer's
      self._version = (f"{NETWORK_TAG}/{PREDICTION_FILE.removesuffix('.tflite')}+"
                       f"{transfer_file.removesuffix('.tflite')}@{digest[:12]}")
    return self._version

  def identity(self) -> dict:
    return identity.magenta_tflite(self._local_model_dir(),
                                   [PREDICTION_FILE, self._resolve_transfer_file()])

  # -- loading ------------------------------------------------------------------------

  def _interpreter(self, path: str):
    from ai_edge_litert.interpreter import Interpreter
    try:
      self.threads_in_use = self.num_threads or default_threads()
      interpreter = Interpreter(model_path=path, num_threads=self.threads_in_use)
      interpreter.allocate_tensors()
    except Exception as e:  # LiteRT raises ValueError/RuntimeError for bad flatbuffers
      raise StylizerConfigError(f"cannot load TF Lite model {path}: {e}") from e
    return interpreter

  def load(self) -> None:
    if self._transfer is not None:
      return
    local = self._local_model_dir()
    prediction_path = os.path.join(local, PREDICTION_FILE)
    transfer_path = os.path.join(local, self._resolve_transfer_file())
    prediction = self._interpreter(prediction_path)
    transfer = self._interpreter(transfer_path)
    try:
      (self._style_in,) = [d["index"] for d in prediction.get_input_details()]
      (self._bottleneck_out,) = [d["index"] for d in prediction.get_output_details()]
      # Find inputs by shape: their order differs between the int8 and fp16 files.
      inputs = transfer.get_input_details()
      (self._content_in,) = [d["index"] for d in inputs if d["shape"][-1] == 3]
      (self._transfer_bottleneck_in,) = [
          d["index"] for d in inputs if d["shape"][-1] == BOTTLENECK_DIM]
      (self._stylized_out,) = [d["index"] for d in transfer.get_output_details()]
    except ValueError as e:
      raise StylizerConfigError(
          f"{transfer_path}: not a Magenta prediction/transfer pair "
          f"(inputs {[(d['name'], list(d['shape'])) for d in inputs]})") from e
    self._prediction = prediction
    self._transfer = transfer

  # -- work ---------------------------------------------------------------------------

  def _predict(self, image01: np.ndarray) -> np.ndarray:
    """float32 HxWx3 in [0,1] -> bottleneck [100]; centre-crop + resize as Magenta does."""
    square = predictor_input(image01)
    with self._lock:
      self._prediction.set_tensor(self._style_in, square[None])
      self._prediction.invoke()
      out = self._prediction.get_tensor(self._bottleneck_out)
    return out.reshape(BOTTLENECK_DIM).astype(np.float32)

  def style_step(self, style_rgb: np.ndarray) -> np.ndarray:
    """Returns the style bottleneck, float32 [100]: 400 bytes to ship per style."""
    self.load()
    image = as_rgb(style_rgb).astype(np.float32) / 255.0
    return self._predict(image)

  def content_step(self, contents: np.ndarray, states: Sequence[Any],
                   strengths: Sequence[float]) -> np.ndarray:
    """Loops over the batch: the models are batch-1, and resizing the interpreter to
    batch 4 was slower per image on CPU (167 vs 136 ms, 2 threads)."""
    self.load()
    contents, checked = check_batch(contents, states, strengths)
    n, h, w, _ = contents.shape
    out = np.empty_like(contents)
    for i in range(n):
      strength = float(checked[i])
      bottleneck = np.asarray(states[i], dtype=np.float32).reshape(BOTTLENECK_DIM)
      if strength != 1.0:
        # Magenta's strength: mix in the content's own bottleneck, same preprocessing.
        bottleneck = (strength * bottleneck
                      + (1.0 - strength) * self._predict(contents[i]))
      content = resize(contents[i], CONTENT_SIZE, CONTENT_SIZE)
      with self._lock:
        self._transfer.set_tensor(self._content_in, content[None])
        self._transfer.set_tensor(self._transfer_bottleneck_in,
                                  bottleneck.reshape(1, 1, 1, BOTTLENECK_DIM))
        self._transfer.invoke()
        stylized = self._transfer.get_tensor(self._stylized_out)[0]
      out[i] = np.clip(resize(stylized, h, w), 0.0, 1.0)
    return out
