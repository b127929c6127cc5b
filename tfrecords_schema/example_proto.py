"""`tf.train.Example` message classes without importing TensorFlow.

`from tensorflow.core.example import example_pb2` runs TensorFlow's package `__init__`,
which loads the whole runtime (~4.5 s and ~1 GB per process). The dataset job's
workers and launcher only need the message classes, so this module declares the same
messages (field names, numbers, types and packing as tensorflow/core/example/
{example,feature}.proto) in a private descriptor pool. The wire format is identical:
bytes written here parse with `tf.train.Example` and `tf.io.parse_example`, and the
reverse (tests/test_schema.py checks both directions, byte for byte).
"""

from __future__ import annotations

import functools
import types

_PACKAGE = "stylized_records.tf_example"  # private pool: never clashes with TF's names


@functools.cache
def example_pb2() -> types.SimpleNamespace:
  """A namespace with Example, Features, Feature, BytesList, FloatList, Int64List."""
  from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

  F = descriptor_pb2.FieldDescriptorProto
  file_proto = descriptor_pb2.FileDescriptorProto(
      name="stylized_records/tf_example.proto", package=_PACKAGE, syntax="proto3")

  def message(name, fields=()):
    m = file_proto.message_type.add(name=name)
    for field_name, number, kind, label, type_name in fields:
      f = m.field.add(name=field_name, number=number, type=kind, label=label)
      if type_name:
        f.type_name = f".{_PACKAGE}.{type_name}"
    return m

  repeated, optional = F.LABEL_REPEATED, F.LABEL_OPTIONAL
  message("BytesList", [("value", 1, F.TYPE_BYTES, repeated, None)])
  message("FloatList", [("value", 1, F.TYPE_FLOAT, repeated, None)])  # packed (proto3)
  message("Int64List", [("value", 1, F.TYPE_INT64, repeated, None)])
  feature = message("Feature", [
      ("bytes_list", 1, F.TYPE_MESSAGE, optional, "BytesList"),
      ("float_list", 2, F.TYPE_MESSAGE, optional, "FloatList"),
      ("int64_list", 3, F.TYPE_MESSAGE, optional, "Int64List")])
  feature.oneof_decl.add(name="kind")
  for f in feature.field:
    f.oneof_index = 0
  features = message("Features", [
      ("feature", 1, F.TYPE_MESSAGE, repeated, "Features.FeatureEntry")])
  entry = features.nested_type.add(name="FeatureEntry")  # map<string, Feature>
  entry.options.map_entry = True
  entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=optional)
  entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=optional,
                  type_name=f".{_PACKAGE}.Feature")
  message("Example", [("features", 1, F.TYPE_MESSAGE, optional, "Features")])

  pool = descriptor_pool.DescriptorPool()
  pool.Add(file_proto)
  return types.SimpleNamespace(**{
      name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
      for name in ("Example", "Features", "Feature", "BytesList", "FloatList", "Int64List")})
