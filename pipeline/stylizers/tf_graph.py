"""Runs a TF Lite graph (as `tflite_graph.read` returns it) with TensorFlow ops, in float.

TF Lite bakes every shape into the file (the Magenta transfer network is [1,384,384,3]);
this rebuild keeps none of them. Convolutions, pads and means follow the input, and the
one op whose output size is a constant, RESIZE_NEAREST_NEIGHBOR, becomes "input size
times the file's factor" (192 -> 384 is x2), so any batch size and any height and width
run. The weights become `tf.Variable`s in TF layout, so a `tf.saved_model.save` of a
module holding a `TFGraph` writes them to variables/ like any trained model.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from pipeline.stylizers.tflite_graph import Graph, Op, TFLiteGraphError

_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATIONS: dict[int, Callable] = {0: tf.identity, 1: tf.nn.relu, 3: tf.nn.relu6}
_MIRROR_MODES = {0: "REFLECT", 1: "SYMMETRIC"}


def _fold_constants(graph: Graph) -> dict[int, np.ndarray]:
  """Constant values by tensor index, after folding (DE)QUANTIZE of constants (the fp16
  weights reach their convolutions through a DEQUANTIZE op)."""
  consts = {i: t.value for i, t in enumerate(graph.tensors) if t.value is not None}
  for op in graph.ops:
    if op.kind in ("DEQUANTIZE", "QUANTIZE") and op.inputs[0] in consts:
      consts[op.outputs[0]] = consts[op.inputs[0]].astype(np.float32)
  return consts


def _filter_layout(op: Op, position: int, value: np.ndarray) -> np.ndarray:
  """TF Lite stores conv filters [out,h,w,in] and depthwise ones [1,h,w,in*mult]."""
  if position == 1 and op.kind == "CONV_2D":
    return np.transpose(value, (1, 2, 3, 0))
  if position == 1 and op.kind == "DEPTHWISE_CONV_2D":
    mult = op.options["DepthMultiplier"]
    _, h, w, channels = value.shape
    return value.reshape(h, w, channels // mult, mult)
  return value


class TFGraph(tf.Module):
  """`graph_module(*inputs) -> [outputs]`, inputs and outputs in the file's order."""

  def __init__(self, graph: Graph, name: str):
    super().__init__(name=name)
    consts = _fold_constants(graph)
    self.input_names = [graph.tensors[i].name for i in graph.inputs]
    self.input_shapes = [graph.tensors[i].shape for i in graph.inputs]
    self.weights = []  # tf.Variables, tracked so SavedModel writes them
    program = []  # (op, input refs): a ref is ("var", k), ("int", array) or ("act", i)
    known = set(graph.inputs)
    for n, op in enumerate(graph.ops):
      if op.kind in ("DEQUANTIZE", "QUANTIZE") and op.inputs[0] in consts:
        continue  # folded
      refs = []
      for pos, t in enumerate(op.inputs):
        if t in consts and consts[t].dtype == np.int32:
          refs.append(("int", consts[t]))
        elif t in consts:
          value = _filter_layout(op, pos, consts[t])
          self.weights.append(tf.Variable(value, trainable=False,
                                          name=graph.tensors[t].name.replace(":", "_")))
          refs.append(("var", len(self.weights) - 1))
        elif t in known:
          refs.append(("act", t))
        else:
          raise TFLiteGraphError(f"{graph.path}: op {n} ({op.kind}) reads tensor {t} "
                                 "before any op writes it")
      self._check(graph, n, op)
      known.update(op.outputs)
      program.append((op, refs))
    self._program = _Program(program, list(graph.inputs), list(graph.outputs))

  @staticmethod
  def _check(graph: Graph, n: int, op: Op) -> None:
    """Fails at build time, not at trace time, on options the rebuild cannot honour."""
    where = f"{graph.path}: op {n} ({op.kind})"
    o = op.options
    if "FusedActivationFunction" in o and o["FusedActivationFunction"] not in _ACTIVATIONS:
      raise TFLiteGraphError(f"{where}: fused activation {o['FusedActivationFunction']}")
    if "Padding" in o and o["Padding"] not in _PADDING:
      raise TFLiteGraphError(f"{where}: padding {o['Padding']}")
    if op.kind == "MIRROR_PAD" and o["Mode"] not in _MIRROR_MODES:
      raise TFLiteGraphError(f"{where}: mirror pad mode {o['Mode']}")
    if op.kind == "RESIZE_NEAREST_NEIGHBOR":
      src = graph.tensors[op.inputs[0]].shape[1:3]
      dst = graph.tensors[op.inputs[1]].value
      if dst is None or any(d % s for s, d in zip(src, dst)):
        raise TFLiteGraphError(f"{where}: size {dst} is not a whole multiple of the "
                               f"input's {src}; cannot make it follow the input size")
      op.options["factor"] = [int(d) // int(s) for s, d in zip(src, dst)]

  def __call__(self, *inputs):
    p = self._program
    values = dict(zip(p.inputs, inputs))
    for op, refs in p.steps:
      args = []
      for kind, ref in refs:
        if kind == "act":
          args.append(values[ref])
        elif kind == "var":
          args.append(self.weights[ref])
        else:
          args.append(ref)
      result = _run(op, args)
      for t in op.outputs:  # every op here has exactly one output
        values[t] = result
    return [values[t] for t in p.outputs]


class _Program:
  """Plain (untracked) holder, so SavedModel does not try to serialise the op list."""

  def __init__(self, steps, inputs, outputs):
    self.steps, self.inputs, self.outputs = steps, inputs, outputs


def _run(op: Op, args: list):
  o, kind = op.options, op.kind
  if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
    x, w, b = args
    strides, dilations = [o["StrideH"], o["StrideW"]], [o["DilationHFactor"],
                                                        o["DilationWFactor"]]
    if kind == "CONV_2D":
      y = tf.nn.conv2d(x, w, strides, _PADDING[o["Padding"]], dilations=dilations)
    else:
      y = tf.nn.depthwise_conv2d(x, w, [1, *strides, 1], _PADDING[o["Padding"]],
                                 dilations=dilations)
    return _ACTIVATIONS[o["FusedActivationFunction"]](tf.nn.bias_add(y, b))
  if kind in ("ADD", "SUB", "MUL"):
    binary = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply}[kind]
    return _ACTIVATIONS[o["FusedActivationFunction"]](binary(args[0], args[1]))
  if kind == "MEAN":
    return tf.reduce_mean(args[0], axis=list(args[1].reshape(-1)), keepdims=o["KeepDims"])
  if kind == "MIRROR_PAD":
    return tf.pad(args[0], args[1], mode=_MIRROR_MODES[o["Mode"]])
  if kind == "RESIZE_NEAREST_NEIGHBOR":
    size = tf.shape(args[0])[1:3] * tf.constant(o["factor"], tf.int32)
    return tf.raw_ops.ResizeNearestNeighbor(
        images=args[0], size=size, align_corners=o["AlignCorners"],
        half_pixel_centers=o["HalfPixelCenters"])
  if kind == "SQUARED_DIFFERENCE":
    return tf.math.squared_difference(args[0], args[1])
  if kind == "RSQRT":
    return tf.math.rsqrt(args[0])
  if kind == "LOGISTIC":
    return tf.math.sigmoid(args[0])
  if kind in ("QUANTIZE", "DEQUANTIZE"):
    return tf.identity(args[0])  # activation (de)quantization: the port runs in float
  raise TFLiteGraphError(f"no TensorFlow rule for {kind}")
