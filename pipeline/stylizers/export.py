"""Exports a TF-native stylizer as a SavedModel with the Magenta TF-Hub call signature.

The result loads with `tensorflow_hub.load(dir)` and answers `model(content, style)[0]`,
so the `hub:<dir>` stylizer (and its tests) can run fully offline.
"""

from __future__ import annotations

import os

import tensorflow as tf

from pipeline.stylizers.base import Stylizer, StylizerConfigError

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.float32)
#: The published Magenta model's "serving_default" signature: its input names (content,
#: style) and its output's, kept by every SavedModel we write (here and magenta_tf.py).
SERVING_INPUTS = [tf.TensorSpec(_IMAGES.shape, _IMAGES.dtype, name="placeholder"),
                  tf.TensorSpec(_IMAGES.shape, _IMAGES.dtype, name="placeholder_1")]
SERVING_OUTPUT = "output_0"


class _HubModule(tf.Module):
  """`__call__(content, style) -> [stylized]`, like the published Magenta model."""

  def __init__(self, fn):
    super().__init__()
    self._fn = fn

  @tf.function(input_signature=[_IMAGES, _IMAGES])
  def __call__(self, content, style):
    return [self._fn(content, style, 1.0)]

  @tf.function(input_signature=SERVING_INPUTS)
  def serve(self, placeholder, placeholder_1):
    return {SERVING_OUTPUT: self._fn(placeholder, placeholder_1, 1.0)}


def export_hub_savedmodel(stylizer: Stylizer, export_dir: str) -> str:
  """Writes the SavedModel; returns the directory. Needs a `stylize_tf` method.

  `stylize_tf(content [N,H,W,3], style [M,h,w,3], strength)` must be pure TF (e.g.
  `ClassicalStylizer.stylize_tf`); Python-side models such as TF Lite can't be exported.
  """
  fn = getattr(stylizer, "stylize_tf", None)
  if fn is None:
    raise StylizerConfigError(
        f"stylizer {stylizer.name!r} has no pure-TF stylize_tf; cannot export it")
  module = _HubModule(fn)
  export_dir = os.fspath(export_dir)
  tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})
  return export_dir
