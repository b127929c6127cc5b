"""The TensorFlow port of the Magenta TF Lite pair against LiteRT, on real photos and paintings.

The exported SavedModel is used the way a user would: `tensorflow_hub.load` in a fresh
Python process that imports nothing of ours. The reference is the LiteRT pair as the
`tflite` stylizer runs it (int8 predictor, fp16 transfer, 384x384 contents).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline import image_io
from pipeline.stylizers import magenta_tf, tflite_graph
from pipeline.stylizers.base import StylizerConfigError
from pipeline.stylizers.preprocess import predictor_input
from pipeline.stylizers.tflite import TFLiteStylizer

# The hub-only process: inputs and outputs cross in .npz files.
HUB_ONLY = r"""
import sys
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

model_dir, inputs, outputs = sys.argv[1:4]
x = dict(np.load(inputs))
model = hub.load(model_dir)
out = {}
out["combined"] = model(tf.constant(x["contents"]), tf.constant(x["styles"]))[0].numpy()
out["singles"] = np.concatenate([
    model(tf.constant(x["contents"][i:i + 1]), tf.constant(x["styles"][i:i + 1]))[0].numpy()
    for i in range(len(x["contents"]))])
predict = model.signatures["predict_bottleneck"]
transfer = model.signatures["transfer"]
out["bottlenecks"] = predict(style_image=tf.constant(x["styles"]))["bottleneck"].numpy()
out["transfer_litert_bottleneck"] = transfer(
    content_image=tf.constant(x["contents"]),
    bottleneck=tf.constant(x["litert_bottlenecks"]))["stylized_image"].numpy()
for h, w in ((256, 256), (320, 480)):
    c = tf.image.resize(x["contents"][:1], (h, w))
    out[f"shape_{h}x{w}"] = np.array(model(c, tf.constant(x["styles"][:1]))[0].shape)
    out[f"transfer_shape_{h}x{w}"] = np.array(transfer(
        content_image=c, bottleneck=tf.constant(x["litert_bottlenecks"][:1]))[
            "stylized_image"].shape)
np.savez(outputs, **out)
print(sorted(k for k in sys.modules if k.split(".")[0] in ("pipeline", "beam_jobs")))
"""


def _square(path, size: int) -> np.ndarray:
  """uint8 centre crop resized to size x size, as the job prepares contents."""
  return image_io.resize_to_square(image_io.load_image(str(path)), size, "center_crop")


@pytest.fixture(scope="module")
def litert(magenta_tflite_dir) -> TFLiteStylizer:
  s = TFLiteStylizer(magenta_tflite_dir)  # int8 predictor + fp16 transfer
  s.load()
  return s


@pytest.fixture(scope="module")
def compared(magenta_tf_dir, litert, coco_images_dir, paintings_dir, tmp_path_factory):
  """4 COCO photos at 384 px with 4 AIC paintings: hub-only outputs and LiteRT's."""
  photos = sorted((coco_images_dir / "train2017").glob("*.jpg"))[:4]
  paintings = sorted(paintings_dir.glob("*.jpg"))[:4]
  contents = np.stack([_square(p, 384) for p in photos]).astype(np.float32) / 255.0
  styles = np.stack([predictor_input(np.asarray(Image.open(p).convert("RGB"),
                                                np.float32) / 255.0) for p in paintings])
  bottlenecks = np.stack([litert.style_step(np.asarray(Image.open(p).convert("RGB")))
                          for p in paintings])
  reference = litert.content_step(contents, list(bottlenecks), [1.0] * 4)
  tmp = tmp_path_factory.mktemp("hub_only")
  np.savez(tmp / "in.npz", contents=contents, styles=styles,
           litert_bottlenecks=bottlenecks)
  done = subprocess.run(
      [sys.executable, "-c", HUB_ONLY, str(magenta_tf_dir), str(tmp / "in.npz"),
       str(tmp / "out.npz")], cwd=tmp, capture_output=True, text=True, timeout=300,
      env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().splitlines()[-1] == "[]"  # none of our modules loaded
  return {"contents": contents, "litert": reference, "litert_bottlenecks": bottlenecks,
          **dict(np.load(tmp / "out.npz"))}


@pytest.mark.slow
def test_port_matches_the_litert_pair(compared):
  # Measured: mean abs diff 0.7-1.6 / 255 per image (int8 vs float predictor).
  mad = np.abs(compared["combined"] - compared["litert"]).mean(axis=(1, 2, 3)) * 255
  assert compared["combined"].shape == compared["litert"].shape == (4, 384, 384, 3)
  assert (mad <= 4.0).all(), mad
  # ...while the photos differ from their stylized versions by far more (~49 / 255).
  assert (np.abs(compared["litert"] - compared["contents"]).mean() * 255) > 30


@pytest.mark.slow
def test_bottlenecks_match_the_int8_predictor(compared):
  ours, theirs = compared["bottlenecks"], compared["litert_bottlenecks"]
  assert ours.shape == theirs.shape == (4, 100)
  cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(
      theirs, axis=1)
  assert (cosine >= 0.98).all(), cosine  # measured 0.9998-0.9999
  # Different paintings still give different bottlenecks: 0.85 for these two (but two
  # other AIC paintings reach 0.994, so the cosine bound alone is a weak check).
  cross = (ours[0] @ ours[1]) / np.linalg.norm(ours[0]) / np.linalg.norm(ours[1])
  assert cross < 0.95, cross


@pytest.mark.slow
def test_transfer_half_matches_litert_given_the_same_bottleneck(compared):
  # Measured: mean abs diff ~1e-4 / 255 (the same float computation).
  mad = np.abs(compared["transfer_litert_bottleneck"] - compared["litert"]).mean(
      axis=(1, 2, 3)) * 255
  assert (mad <= 1.0).all(), mad


@pytest.mark.slow
def test_a_batch_with_four_styles_equals_four_single_calls(compared):
  np.testing.assert_allclose(compared["combined"], compared["singles"], atol=1e-4)
  # ...and the four styles really differ (a shared style would pass the check above).
  assert np.abs(compared["combined"][0] - compared["combined"][1]).mean() > 0.05


@pytest.mark.slow
@pytest.mark.parametrize("h, w", [(256, 256), (320, 480)])
def test_output_has_the_input_size(compared, h, w):
  assert tuple(compared[f"shape_{h}x{w}"]) == (1, h, w, 3)
  assert tuple(compared[f"transfer_shape_{h}x{w}"]) == (1, h, w, 3)


def test_reader_sees_the_graphs_ops_and_options(magenta_tflite_dir):
  """What the port relies on: the op set, REFLECT mirror pads, nearest-neighbour
  upsampling without align_corners/half_pixel_centers, per-channel int8 weights."""
  transfer = tflite_graph.read(magenta_tflite_dir / "transfer_fp16.tflite")
  assert transfer.op_counts() == {
      "MIRROR_PAD": 16, "DEQUANTIZE": 88, "CONV_2D": 42, "MEAN": 26,
      "SQUARED_DIFFERENCE": 13, "ADD": 31, "RSQRT": 13, "MUL": 39, "SUB": 13,
      "RESIZE_NEAREST_NEIGHBOR": 3, "LOGISTIC": 1}
  pads = {op.options["Mode"] for op in transfer.ops if op.kind == "MIRROR_PAD"}
  resizes = [op.options for op in transfer.ops if op.kind == "RESIZE_NEAREST_NEIGHBOR"]
  assert pads == {0}  # REFLECT
  assert all(not o["AlignCorners"] and not o["HalfPixelCenters"] for o in resizes)
  assert [transfer.tensors[i].shape for i in transfer.inputs] == [(1, 384, 384, 3),
                                                                  (1, 1, 1, 100)]
  predictor = tflite_graph.read(magenta_tflite_dir / "prediction_int8.tflite")
  first_conv = next(op for op in predictor.ops if op.kind == "CONV_2D")
  weights = predictor.tensors[first_conv.inputs[1]]
  assert weights.dtype == "INT8" and weights.value.dtype == np.float32
  assert weights.value.shape == (32, 3, 3, 3) and np.abs(weights.value).max() > 0.1


def test_export_refuses_a_non_empty_output(magenta_tflite_dir, tmp_path, capsys):
  (tmp_path / "keep.txt").write_text("mine")
  code = magenta_tf.main(["export", f"--tflite_dir={magenta_tflite_dir}",
                          f"--output={tmp_path}"])
  assert code == 2 and "not empty" in capsys.readouterr().err
  assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_export_names_a_missing_or_corrupt_model(tmp_path, capsys):
  out = tmp_path / "out"
  code = magenta_tf.main(["export", f"--tflite_dir={tmp_path}", f"--output={out}"])
  assert code == 2 and "prediction_int8.tflite does not exist" in capsys.readouterr().err
  rng = np.random.default_rng(0)
  for name in ("prediction_int8.tflite", "transfer_fp16.tflite"):
    (tmp_path / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
  with pytest.raises(StylizerConfigError, match="prediction_int8.tflite"):
    magenta_tf.export(str(tmp_path), str(out))
  assert not out.exists()
  assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_exported_model_has_the_signatures(magenta_tf_dir):
  import tensorflow as tf
  model = tf.saved_model.load(str(magenta_tf_dir))
  sig = {k: (sorted(f.structured_input_signature[1]), sorted(f.structured_outputs))
         for k, f in model.signatures.items()}
  assert sig == {"serving_default": (["placeholder", "placeholder_1"], ["output_0"]),
                 "predict_bottleneck": (["style_image"], ["bottleneck"]),
                 "transfer": (["bottleneck", "content_image"], ["stylized_image"])}
  listing = json.dumps(sorted(p.name for p in magenta_tf_dir.iterdir()))
  assert "saved_model.pb" in listing and "variables" in listing


def test_the_port_names_its_network_source_files_and_converter(magenta_tf_dir,
                                                               magenta_tflite_dir,
                                                               tmp_path):
  """hub:<port> identifies itself by the published network, the sha256 of the TF Lite
  files it was made from and the converter, whatever folder it is loaded from."""
  import hashlib
  import shutil

  from pipeline.stylizers import identity
  from pipeline.stylizers.hub import HubStylizer
  moved = tmp_path / "renamed_copy"
  shutil.copytree(magenta_tf_dir, moved)
  got = HubStylizer(str(moved)).identity()
  assert got == HubStylizer(str(magenta_tf_dir)).identity()
  assert got["network"] == identity.MAGENTA_NETWORK and str(tmp_path) not in json.dumps(got)
  sources = {e["file"]: e["sha256"] for e in got["converted_from"]}
  assert sources == {name: hashlib.sha256((magenta_tflite_dir / name).read_bytes())
                     .hexdigest() for name in ("prediction_int8.tflite",
                                               "transfer_fp16.tflite")}
  assert got["converter"]["name"] == "pipeline.stylizers.magenta_tf"
  assert len(got["converter"]["code_sha256"]) == 64 and got["converter"]["tensorflow"]
  pb = hashlib.sha256((moved / "saved_model.pb").read_bytes()).hexdigest()
  assert {e["file"]: e["sha256"] for e in got["files"]}["saved_model.pb"] == pb
