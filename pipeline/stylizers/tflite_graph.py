"""Reads a TF Lite flatbuffer into plain Python: tensors, float weights, and the op list.

The converter (`magenta_tf`) rebuilds the network in TensorFlow from this, so everything
here is what that rebuild needs and nothing about TensorFlow: constant tensors come out
as float32 numpy arrays, int8 weights dequantized with their per-channel scales and zero
points, int32 biases with theirs, fp16 weights widened. Activation quantization
(QUANTIZE/DEQUANTIZE of non-constant tensors) is dropped: the port runs in float.

Parsing uses the `tflite` package (the TF Lite flatbuffer schema compiled to Python), so
it needs no interpreter and sees what an interpreter hides: op options such as padding,
strides, MIRROR_PAD's mode and RESIZE_NEAREST_NEIGHBOR's align_corners and
half_pixel_centers.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

#: Ops the Magenta pair uses, with the option fields each needs (None: no options).
OPTION_FIELDS: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "CONV_2D": ("Conv2DOptions", ("Padding", "StrideH", "StrideW", "DilationHFactor",
                                  "DilationWFactor", "FusedActivationFunction")),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", (
        "Padding", "StrideH", "StrideW", "DilationHFactor", "DilationWFactor",
        "DepthMultiplier", "FusedActivationFunction")),
    "ADD": ("AddOptions", ("FusedActivationFunction",)),
    "SUB": ("SubOptions", ("FusedActivationFunction",)),
    "MUL": ("MulOptions", ("FusedActivationFunction",)),
    "MEAN": ("ReducerOptions", ("KeepDims",)),
    "MIRROR_PAD": ("MirrorPadOptions", ("Mode",)),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions",
                                ("AlignCorners", "HalfPixelCenters")),
    "SQUARED_DIFFERENCE": None,
    "RSQRT": None,
    "LOGISTIC": None,
    "QUANTIZE": None,
    "DEQUANTIZE": None,
}

_NUMPY_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32,
                "INT8": np.int8, "UINT8": np.uint8, "INT64": np.int64}


class TFLiteGraphError(ValueError):
  """The file is not a TF Lite model this reader can port (names what is wrong)."""


@dataclasses.dataclass
class Tensor:
  name: str
  shape: tuple[int, ...]
  dtype: str  # TF Lite type name, e.g. "FLOAT32", "INT8"
  value: np.ndarray | None  # constants only: float32 (dequantized) or int32


@dataclasses.dataclass
class Op:
  kind: str  # TF Lite builtin name, e.g. "CONV_2D"
  inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
  outputs: tuple[int, ...]
  options: dict[str, Any]


@dataclasses.dataclass
class Graph:
  tensors: list[Tensor]
  ops: list[Op]
  inputs: tuple[int, ...]
  outputs: tuple[int, ...]
  path: str

  def op_counts(self) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in self.ops:
      counts[op.kind] = counts.get(op.kind, 0) + 1
    return counts


def _enum_names(enum_class) -> dict[int, str]:
  return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def _dequantize(raw: np.ndarray, quant, name: str) -> np.ndarray:
  """real = scale * (q - zero_point), per channel along the quantized dimension."""
  scale = quant.ScaleAsNumpy().astype(np.float32)
  zero = (quant.ZeroPointAsNumpy().astype(np.float32) if quant.ZeroPointLength()
          else np.zeros_like(scale))
  if scale.size == 1:
    return (scale[0] * (raw.astype(np.float32) - zero[0])).astype(np.float32)
  axis = quant.QuantizedDimension()
  if raw.ndim <= axis or raw.shape[axis] != scale.size:
    raise TFLiteGraphError(f"tensor {name}: {scale.size} scales for shape {raw.shape} "
                           f"along axis {axis}")
  shape = [1] * raw.ndim
  shape[axis] = scale.size
  return (scale.reshape(shape) * (raw.astype(np.float32) - zero.reshape(shape))
          ).astype(np.float32)


def _constant(model, data: bytes, tensor, type_name: str, name: str) -> np.ndarray | None:
  """The tensor's constant value (float32 or int32), or None for an activation."""
  buf = model.Buffers(tensor.Buffer())
  if buf.DataLength():
    raw_bytes = buf.DataAsNumpy().tobytes()
  elif buf.Offset() > 1:  # large models keep buffers after the flatbuffer
    raw_bytes = data[buf.Offset():buf.Offset() + buf.Size()]
  else:
    return None
  if type_name not in _NUMPY_TYPES:
    raise TFLiteGraphError(f"constant {name} has unsupported type {type_name}")
  shape = tuple(int(s) for s in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
  raw = np.frombuffer(raw_bytes, _NUMPY_TYPES[type_name]).reshape(shape)
  quant = tensor.Quantization()
  if quant is not None and quant.ScaleLength():
    return _dequantize(raw, quant, name)
  if type_name in ("FLOAT32", "FLOAT16"):
    return raw.astype(np.float32)
  return raw.astype(np.int32)


def _options(op, kind: str, name: str) -> dict[str, Any]:
  spec = OPTION_FIELDS[kind]
  if spec is None:
    return {}
  import tflite
  class_name, fields = spec
  table = op.BuiltinOptions()
  if table is None:
    raise TFLiteGraphError(f"{name}: {kind} has no {class_name}")
  options = getattr(tflite, class_name)()
  options.Init(table.Bytes, table.Pos)
  return {field: getattr(options, field)() for field in fields}


def read(path: str | os.PathLike) -> Graph:
  """Parses the first subgraph of a .tflite file; raises TFLiteGraphError."""
  try:
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType
  except ImportError as e:
    raise TFLiteGraphError(
        "reading TF Lite files needs the `tflite` package (pip install -e '.[convert]')"
    ) from e
  path = os.fspath(path)
  with open(path, "rb") as f:
    data = f.read()
  try:
    if not tflite.Model.ModelBufferHasIdentifier(data, 0):
      raise TFLiteGraphError(f"{path} is not a TF Lite flatbuffer (no TFL3 identifier)")
    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
      raise TFLiteGraphError(f"{path}: expected 1 subgraph, found "
                             f"{model.SubgraphsLength()}")
    graph = model.Subgraphs(0)
    op_names, type_names = _enum_names(BuiltinOperator), _enum_names(TensorType)
    tensors = []
    for i in range(graph.TensorsLength()):
      t = graph.Tensors(i)
      name, type_name = t.Name().decode(), type_names.get(t.Type(), str(t.Type()))
      shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
      tensors.append(Tensor(name, shape, type_name,
                            _constant(model, data, t, type_name, name)))
    ops = []
    for i in range(graph.OperatorsLength()):
      op = graph.Operators(i)
      code = model.OperatorCodes(op.OpcodeIndex())
      kind = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
      if kind not in OPTION_FIELDS:
        raise TFLiteGraphError(f"{path}: op {i} is {kind}; the port supports "
                               f"{', '.join(sorted(OPTION_FIELDS))}")
      ops.append(Op(kind, tuple(int(j) for j in op.InputsAsNumpy()),
                    tuple(int(j) for j in op.OutputsAsNumpy()),
                    _options(op, kind, f"{path}: op {i}")))
    inputs = tuple(int(j) for j in graph.InputsAsNumpy())
    outputs = tuple(int(j) for j in graph.OutputsAsNumpy())
  except TFLiteGraphError:
    raise
  except Exception as e:  # flatbuffers raises struct/index errors on corrupt files
    raise TFLiteGraphError(f"cannot parse {path}: {type(e).__name__}: {e}") from e
  return Graph(tensors, ops, inputs, outputs, path)
