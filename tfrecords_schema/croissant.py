"""`croissant.json`: the folder described in MLCommons Croissant 1.0 (JSON-LD).

Croissant is how dataset tools (TFDS's CroissantBuilder, Hugging Face, Kaggle) find and
load data by its metadata. It describes here: the shards as FileSets (TFRecord, which
`mlcroissant` cannot parse itself, so their description points to SCHEMA.md) and each
shard as a FileObject with its sha256 (tfrecords_schema/integrity.py), the
record index as the RecordSet `records` with one field per index column (the record
fields but `image`, plus where each record is), the sources, licences and citations.
Plain JSON: writing it needs no `mlcroissant`; tests load it with `mlcroissant`.
"""

from __future__ import annotations

from typing import Mapping

from tfrecords_schema import integrity
from tfrecords_schema.fields import FIELDS, SCHEMA_VERSION
from tfrecords_schema.files import INDEX_FILENAME, SCHEMA_FILENAME, split_glob
from tfrecords_schema.index import LOCATION_COLUMNS
from tfrecords_schema.tfds_metadata import tfds_version

RECORD_SET = "records"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
TFRECORD_FORMAT = "application/x-tfrecord"

#: The standard Croissant 1.0 @context (as the spec's example datasets write it).
CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract",
    "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key",
    "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform",
}


def record_fields() -> list[tuple[str, str, bool, str]]:
  """(column, Croissant dataType, repeated, description) of the `records` RecordSet."""
  out = [(name, dtype, False, doc) for name, dtype, _, doc in LOCATION_COLUMNS]
  out += [(f.name, f.type.croissant, f.type.is_list, f.doc) for f in FIELDS if f.in_index]
  return out


def _field(name: str, dtype: str, repeated: bool, doc: str) -> dict:
  field = {"@type": "cr:Field", "@id": f"{RECORD_SET}/{name}", "name": name,
           "description": doc, "dataType": dtype,
           "source": {"fileObject": {"@id": INDEX_FILENAME}, "extract": {"column": name}}}
  if repeated:
    field["repeated"] = True
  return field


def _licenses(metadata: Mapping) -> list:
  """Every licence the sources give, as schema.org CreativeWorks; unknown ones named."""
  out, seen = [], set()
  for source in ("content", "styles"):
    for lic in metadata["sources"][source].get("licenses", []):
      key = (lic.get("name") or "", lic.get("url") or "")
      if key in seen:
        continue
      seen.add(key)
      work = {"@type": "sc:CreativeWork",
              "name": key[0] or f"unknown licence ({source}): check the source's terms"}
      if key[1]:
        work["url"] = key[1]
      out.append(work)
  return out


def _based_on(source: Mapping) -> dict:
  work = {"@type": "sc:CreativeWork", "name": source["name"] or source["location"],
          "description": f"{source['kind']} source; record paths are relative to "
                         f"{source['root']}"}
  if source.get("url"):
    work["url"] = source["url"]
  return work


def croissant_json(metadata: Mapping, *, index_sha256: str, schema_sha256: str) -> dict:
  """The JSON-LD document for a dataset folder, from its stylized_metadata.json."""
  name, splits = metadata["dataset_name"], metadata["splits"]
  fmt = metadata["image"]["format"]
  distribution = [
      {"@type": "cr:FileObject", "@id": INDEX_FILENAME, "name": INDEX_FILENAME,
       "description": "One row per record: every record field but the image, plus its "
                      "shard, position and byte offset.",
       "contentUrl": INDEX_FILENAME, "encodingFormat": "application/x-parquet",
       "sha256": index_sha256},
      {"@type": "cr:FileObject", "@id": SCHEMA_FILENAME, "name": SCHEMA_FILENAME,
       "description": "The record schema, rules and reading recipes.",
       "contentUrl": SCHEMA_FILENAME, "encodingFormat": "text/markdown",
       "sha256": schema_sha256},
  ]
  for split, info in sorted(splits.items()):
    distribution.append({
        "@type": "cr:FileSet", "@id": f"{split}-shards", "name": f"{split}-shards",
        "description": (
            f"The {split} split: {info['records']} records in {info['shards']} "
            f"uncompressed TFRecord files of serialized tf.train.Example (record schema "
            f"v{SCHEMA_VERSION}, {fmt.upper()} images). Parse them with the feature spec "
            f"in {SCHEMA_FILENAME}; the `records` RecordSet lists every record with its "
            "shard, position and byte offset."),
        "encodingFormat": TFRECORD_FORMAT,
        "includes": split_glob(split, name)})
  for filename, digest in integrity.shard_sums(name, splits):  # each with its checksum
    distribution.append({
        "@type": "cr:FileObject", "@id": filename, "name": filename,
        "description": "One shard (TFRecord file) of the split its name gives; see "
                       f"{SCHEMA_FILENAME} for its framing and checksums.",
        "contentUrl": filename, "encodingFormat": TFRECORD_FORMAT, "sha256": digest})
  doc = {
      "@context": CONTEXT, "@type": "sc:Dataset", "conformsTo": CONFORMS_TO,
      "name": name, "description": metadata["description"], "version": tfds_version(),
      "datePublished": metadata["created"],
      "citeAs": metadata["citation"], "license": _licenses(metadata),
      "isBasedOn": [_based_on(s) for _, s in sorted(metadata["sources"].items())],
      "distribution": distribution,
      "recordSet": [{
          "@type": "cr:RecordSet", "@id": RECORD_SET, "name": RECORD_SET,
          "description": (
              "One record per TFRecord record (per view of a content), from "
              f"{INDEX_FILENAME}: every record field except `image`, whose bytes are "
              f"only in the shards (see {SCHEMA_FILENAME}), plus the record's location."),
          "key": [{"@id": f"{RECORD_SET}/content_id"},
                  {"@id": f"{RECORD_SET}/view_index"}],
          "field": [_field(*f) for f in record_fields()]}],
  }
  return doc
