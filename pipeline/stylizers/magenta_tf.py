"""The Magenta TF Lite pair ported to a TensorFlow SavedModel with the TF-Hub call convention.

    python -m pipeline.stylizers.magenta_tf export \\
        --tflite_dir=../shared/models/magenta_v1_256_tflite --output=models/magenta_tf

Why: the TF Lite graphs are fixed at batch 1 and a 384x384 content, so at 256 px every
view pays for 2.25x the pixels it keeps and a GPU cannot batch. The port reads the same
weights (int8 prediction weights dequantized, fp16 transfer weights widened; see
`tflite_graph`), rebuilds the same ops in TensorFlow with shapes that follow the input
(`tf_graph`), and saves one SavedModel that answers, with no code of ours:

    model = tensorflow_hub.load(DIR)
    stylized = model(content [B,H,W,3] in [0,1], style [B|1,256,256,3] in [0,1])[0]

like the published arbitrary-image-stylization-v1-256 handle, plus the two halves:

    model.predict_bottleneck(style [B,h,w,3])              -> bottleneck [B,100]
    model.transfer(content [B,H,W,3], bottleneck [B,100])  -> stylized [B,H,W,3]

also as signatures ("serving_default", "predict_bottleneck", "transfer"). Every example
in a batch has its own style (the style normalisation is per example). Height and width
divisible by 4 come back unchanged (the network halves twice and doubles twice; other
sizes come back rounded, as with the published model).

The port runs the predictor in float where LiteRT runs it in int8, so bottlenecks differ
slightly; the transfer half is the same float computation as LiteRT's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

from pipeline.stylizers import identity
from pipeline.stylizers.base import StylizerConfigError
from pipeline.stylizers.tflite import BOTTLENECK_DIM, PREDICTION_FILE, TRANSFER_FILES

#: Signature names of the halves in the exported SavedModel (also its method names):
#: style_image -> bottleneck, and (content_image, bottleneck) -> stylized_image.
PREDICT_SIGNATURE = "predict_bottleneck"
TRANSFER_SIGNATURE = "transfer"


def build_module(tflite_dir: str, transfer: str = "fp16"):
  """Reads the pair and returns the tf.Module that `export` saves."""
  import tensorflow as tf

  from pipeline.stylizers import tflite_graph
  from pipeline.stylizers.export import SERVING_INPUTS, SERVING_OUTPUT
  from pipeline.stylizers.tf_graph import TFGraph

  paths = [os.path.join(tflite_dir, name) for name in (PREDICTION_FILE,
                                                       TRANSFER_FILES[transfer])]
  for path in paths:
    if not os.path.isfile(path):
      raise StylizerConfigError(f"{path} does not exist (expected the Magenta TF Lite "
                                f"pair {PREDICTION_FILE} + {TRANSFER_FILES[transfer]})")
  try:
    predictor = TFGraph(tflite_graph.read(paths[0]), name="style_predict")
    transfer_net = TFGraph(tflite_graph.read(paths[1]), name="style_transfer")
  except tflite_graph.TFLiteGraphError as e:
    raise StylizerConfigError(str(e)) from e
  shapes = transfer_net.input_shapes
  content_pos = [i for i, s in enumerate(shapes) if s[-1:] == (3,)]
  bottleneck_pos = [i for i, s in enumerate(shapes) if s[-1:] == (BOTTLENECK_DIM,)]
  if len(shapes) != 2 or len(content_pos) != 1 or len(bottleneck_pos) != 1:
    raise StylizerConfigError(f"{paths[1]}: inputs {shapes} are not an image and a "
                              f"[...,{BOTTLENECK_DIM}] bottleneck")
  images = tf.TensorSpec([None, None, None, 3], tf.float32)
  bottlenecks = tf.TensorSpec([None, BOTTLENECK_DIM], tf.float32)

  class MagentaModule(tf.Module):
    """Holds both halves; each method traces to a graph that the SavedModel keeps."""

    def __init__(self):
      super().__init__(name="magenta_arbitrary_image_stylization")
      self.predictor, self.transfer_net = predictor, transfer_net

    def _transfer(self, content, bottleneck):
      args = [None, None]
      args[content_pos[0]] = content
      args[bottleneck_pos[0]] = tf.reshape(bottleneck, [-1, 1, 1, BOTTLENECK_DIM])
      return self.transfer_net(*args)[0]

    def _predict(self, style):
      return tf.reshape(self.predictor(style)[0], [-1, BOTTLENECK_DIM])

    @tf.function(input_signature=[images, images])
    def __call__(self, content, style):
      return [self._transfer(content, self._predict(style))]

    @tf.function(input_signature=[images])
    def predict_bottleneck(self, style):
      return self._predict(style)

    @tf.function(input_signature=[images, bottlenecks])
    def transfer(self, content, bottleneck):
      return self._transfer(content, bottleneck)

    # Signatures: named inputs/outputs, for serving tools. "serving_default" keeps the
    # published model's names.
    @tf.function(input_signature=SERVING_INPUTS)
    def serve(self, placeholder, placeholder_1):
      return {SERVING_OUTPUT: self._transfer(placeholder, self._predict(placeholder_1))}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                name="style_image")])
    def serve_predict(self, style_image):
      return {"bottleneck": self._predict(style_image)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.float32, name="content_image"),
        tf.TensorSpec([None, BOTTLENECK_DIM], tf.float32, name="bottleneck")])
    def serve_transfer(self, content_image, bottleneck):
      return {"stylized_image": self._transfer(content_image, bottleneck)}

  return MagentaModule()


def provenance(tflite_dir: str, transfer: str = "fp16") -> dict:
  """What the exported SavedModel is (identity.PROVENANCE_FILE): the network, the TF
  Lite files it was converted from (sha256), and this converter's code and TF version."""
  import tensorflow as tf

  from pipeline.stylizers import tf_graph, tflite_graph
  source = identity.magenta_tflite(tflite_dir,
                                   [PREDICTION_FILE, TRANSFER_FILES[transfer]])
  code = hashlib.sha256()
  for module in (sys.modules[__name__], tflite_graph, tf_graph):
    with open(module.__file__, "rb") as f:
      code.update(f.read())
  return {"network": source["network"], "published": source["published"],
          "license": source["license"],
          "format": "TensorFlow SavedModel ported from the TF Lite pair (TF-Hub call "
                    "convention)",
          "converted_from": source["files"],
          "converter": {"name": "pipeline.stylizers.magenta_tf",
                        "code_sha256": code.hexdigest(), "tensorflow": tf.__version__}}


def export(tflite_dir: str, output: str, transfer: str = "fp16") -> str:
  """Writes the SavedModel to `output` (which must not exist or be empty); returns it.

  Written to a temporary sibling and renamed, so a failed export leaves nothing behind.
  """
  import tensorflow as tf
  output = os.path.abspath(os.fspath(output))
  if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
    raise StylizerConfigError(f"--output={output} exists and is not empty; "
                              "choose a new folder")
  module = build_module(os.fspath(tflite_dir), transfer)
  parent = os.path.dirname(output)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".magenta_tf_", dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the model from others
  try:
    tf.saved_model.save(module, tmp, signatures={
        "serving_default": module.serve,
        PREDICT_SIGNATURE: module.serve_predict,
        TRANSFER_SIGNATURE: module.serve_transfer})
    with open(os.path.join(tmp, identity.PROVENANCE_FILE), "w") as f:
      json.dump(provenance(os.fspath(tflite_dir), transfer), f, indent=2)
    if os.path.isdir(output):
      os.rmdir(output)  # empty, checked above
    os.replace(tmp, output)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return output


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m pipeline.stylizers.magenta_tf",
                              description=__doc__.split("\n")[0])
  sub = p.add_subparsers(dest="command", required=True)
  e = sub.add_parser("export", help="convert the TF Lite pair to a SavedModel")
  e.add_argument("--tflite_dir", required=True,
                 help=f"folder with {PREDICTION_FILE} and {TRANSFER_FILES['fp16']}")
  e.add_argument("--output", required=True, help="new SavedModel folder")
  e.add_argument("--transfer", choices=sorted(TRANSFER_FILES), default="fp16",
                 help="which transfer file to port (default fp16: float weights; int8 "
                      "weights are dequantized either way)")
  args = p.parse_args(argv)
  try:
    out = export(args.tflite_dir, args.output, args.transfer)
  except StylizerConfigError as err:
    print(f"error: {err}", file=sys.stderr)
    return 2
  print(f"wrote {out}: hub.load({out!r})(content, style)[0]; halves: "
        f".{PREDICT_SIGNATURE}(style) -> [B,{BOTTLENECK_DIM}], "
        f".{TRANSFER_SIGNATURE}(content, bottleneck)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
