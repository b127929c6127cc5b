"""Encoder and parsers for the record contract, usable with plain TensorFlow (no Beam).

`encode_example` (python dict -> serialized tf.train.Example) is what the dataset job
uses; `parse_example` (serialized tensor -> dict of tensors) is what tf.data readers use;
`decode_example` (bytes -> python dict) is for tools and tests. All three give each
field the one type FIELDS declares (`is_original` is int64 0/1, never a bool).
"""

from __future__ import annotations

from typing import Any, Mapping

from tfrecords_schema.fields import (BOOL, BYTES, FEATURE_LIST, FIELDS, FIELDS_BY_NAME,
                                     FLOAT, FLOAT_LIST, INT, INT_LIST, SCHEMA_VERSION, STR,
                                     STR_LIST, feature_spec_source)

_LISTS = (INT_LIST, STR_LIST, FLOAT_LIST)
#: Lists that must have equal lengths (ids and their names; one entry per object).
PARALLEL = (("photo_label_ids", "photo_label_names"),
            ("view_label_ids", "view_label_names"),
            tuple(f.name for f in FIELDS if f.name.startswith("object_")))


def version_message(found: int) -> str:
  """Why a record of another schema version is refused, and what to do."""
  return (f"record has schema_version {found}, this reader understands "
          f"{SCHEMA_VERSION}" + (
              "; version 2 datasets (photo-level labels only, `content_*` label fields) "
              "must be regenerated with the current dataset job, or read with the "
              "release that wrote them (SCHEMA.md, Versioning)" if found < SCHEMA_VERSION
              else "; upgrade this package"))


class SchemaError(ValueError):
  """A record does not follow the contract (missing/unknown field, wrong type/version)."""


def _example_pb2():
  # The message classes alone: importing TF's example_pb2 would start all of TensorFlow.
  from tfrecords_schema.example_proto import example_pb2
  return example_pb2()


def _as_bytes(name: str, v: Any) -> bytes:
  if isinstance(v, bytes):
    return v
  if isinstance(v, str):
    return v.encode("utf-8")
  raise SchemaError(f"field {name!r}: expected str/bytes, got {type(v).__name__}")


def _as_int(name: str, v: Any) -> int:
  if isinstance(v, bool) or not hasattr(v, "__index__"):
    raise SchemaError(f"field {name!r}: expected an integer, got {v!r}")
  return int(v)


def encode_example(record: Mapping[str, Any]) -> bytes:
  """Validates `record` against FIELDS and serializes it; sets `schema_version`."""
  unknown = set(record) - set(FIELDS_BY_NAME)
  if unknown:
    raise SchemaError(f"unknown fields {sorted(unknown)}; see SCHEMA.md")
  if "schema_version" in record and record["schema_version"] != SCHEMA_VERSION:
    raise SchemaError(f"schema_version {record['schema_version']} != {SCHEMA_VERSION}")
  pb = _example_pb2()
  ex = pb.Example()
  for f in FIELDS:
    if f.name == "schema_version":
      v = SCHEMA_VERSION
    elif f.name in record:
      v = record[f.name]
    elif f.required:
      raise SchemaError(f"missing required field {f.name!r}")
    else:
      v = f.default
    feat = ex.features.feature[f.name]
    if f.kind in (BYTES, STR):
      feat.bytes_list.value.append(_as_bytes(f.name, v))
    elif f.kind == INT:
      feat.int64_list.value.append(_as_int(f.name, v))
    elif f.kind == BOOL:
      if not isinstance(v, bool) and v not in (0, 1):
        raise SchemaError(f"field {f.name!r}: expected a bool, got {v!r}")
      feat.int64_list.value.append(int(bool(v)))
    elif f.kind == FLOAT:
      feat.float_list.value.append(float(v))
    elif f.kind == INT_LIST:
      feat.int64_list.value.extend(_as_int(f.name, x) for x in v)
    elif f.kind == FLOAT_LIST:
      feat.float_list.value.extend(float(x) for x in v)
    elif f.kind == STR_LIST:
      if isinstance(v, (str, bytes)):
        raise SchemaError(f"field {f.name!r}: expected a list of strings, got a string")
      feat.bytes_list.value.extend(_as_bytes(f.name, x) for x in v)
  for group in PARALLEL:
    lengths = {name: len(record.get(name, ())) for name in group}
    if len(set(lengths.values())) > 1:
      raise SchemaError(f"parallel lists differ in length: {lengths}")
  return ex.SerializeToString(deterministic=True)


def decode_example(serialized: bytes, *, check_version: bool = True) -> dict[str, Any]:
  """Serialized record -> python dict (str for strings, list for lists, int 0/1 for
  `is_original`)."""
  pb = _example_pb2()
  try:
    ex = pb.Example.FromString(serialized)
  except Exception as e:  # protobuf's DecodeError
    raise SchemaError(f"not a tf.train.Example: {e}") from e
  feats = ex.features.feature
  out: dict[str, Any] = {}
  for f in FIELDS:
    if f.name not in feats:
      if f.required:
        raise SchemaError(f"record lacks required field {f.name!r}")
      out[f.name] = list(f.default) if f.kind in _LISTS else f.default
      continue
    values = getattr(feats[f.name], FEATURE_LIST[f.kind]).value
    if f.kind in _LISTS:
      out[f.name] = [v.decode("utf-8") if f.kind == STR_LIST else
                     float(v) if f.kind == FLOAT_LIST else int(v) for v in values]
      continue
    if len(values) != 1:
      raise SchemaError(f"field {f.name!r}: expected 1 value, found {len(values)}")
    v = values[0]
    out[f.name] = (v if f.kind == BYTES else v.decode("utf-8") if f.kind == STR
                   else float(v) if f.kind == FLOAT else int(v))
  if check_version and out["schema_version"] != SCHEMA_VERSION:
    raise SchemaError(version_message(out["schema_version"]))
  return out


def feature_spec() -> dict:
  """The `tf.io.parse_example` spec: the literal spec SCHEMA.md prints, evaluated."""
  import tensorflow as tf
  namespace = {"tf": tf}
  exec(feature_spec_source(), namespace)  # the same text a reader copies  # noqa: S102
  return namespace["FEATURE_SPEC"]


def parse_example(serialized, *, check_version: bool = True):
  """Scalar string tensor -> dict of tensors, for `tf.data.Dataset.map`.

  Lists come back as 1-D tensors of their own length. With check_version a record of
  another schema version fails the pipeline with an InvalidArgumentError naming both
  versions, instead of being misread.
  """
  import tensorflow as tf
  out = tf.io.parse_single_example(serialized, feature_spec())
  if check_version:
    tf.debugging.assert_equal(
        out["schema_version"], tf.constant(SCHEMA_VERSION, tf.int64),
        message=f"record schema_version differs from {SCHEMA_VERSION} (this reader); "
                "datasets of an older version must be regenerated (SCHEMA.md, Versioning)")
  return out


def label_problems(rec: Mapping[str, Any]) -> list[str]:
  """What in a decoded record breaks the label and object rules of SCHEMA.md
  ("Objects and labels"); empty when nothing does. The validator reports each."""
  from tfrecords_schema.fields import (ANNOTATIONS_BOXES, ANNOTATIONS_IMAGE_LEVEL,
                                       ANNOTATIONS_NONE, VISIBLE_MIN)
  status, out = rec["annotations_status"], []
  objects = rec["object_category_ids"]
  if status not in (ANNOTATIONS_NONE, ANNOTATIONS_IMAGE_LEVEL, ANNOTATIONS_BOXES):
    return [f"annotations_status {status} is not 0, 1 or 2"]
  if status == ANNOTATIONS_NONE and (rec["photo_label_ids"] or rec["view_label_ids"]):
    out.append("annotations_status 0 (unknown) with labels")
  if status != ANNOTATIONS_BOXES and objects:
    out.append(f"annotations_status {status} with object boxes")
  views = rec["view_label_ids"]
  if rec["view_primary_label_id"] != -1 and rec["view_primary_label_id"] not in views:
    out.append(f"view_primary_label_id {rec['view_primary_label_id']} is not a view label")
  if not set(views) <= set(rec["photo_label_ids"]):
    out.append(f"view labels {views} are not among the photo labels "
               f"{rec['photo_label_ids']}")
  if status == ANNOTATIONS_BOXES:
    w, h, kept = rec["width"], rec["height"], rec["object_visible_fraction"]
    for i, (x0, y0, x1, y1) in enumerate(zip(rec["object_xmin"], rec["object_ymin"],
                                             rec["object_xmax"], rec["object_ymax"])):
      if not (0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h and 0 <= kept[i] <= 1):
        out.append(f"object {i}: box ({x0}, {y0}, {x1}, {y1}) or visible fraction "
                   f"{kept[i]} outside the {w}x{h} view")
        break
    visible = sorted({c for c, f in zip(objects, kept) if f >= VISIBLE_MIN})
    if visible != sorted(views):
      out.append(f"view labels {views} differ from the categories with a box at least "
                 f"{VISIBLE_MIN:g} visible {visible}")
  return out
