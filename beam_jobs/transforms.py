"""The Beam pieces of the stylize job: DoFns, the RunInference model handler, the writer.

Each wraps a pure piece from `pipeline/`; failures become dead-letter entries
(`dead_letter(...)`) rather than exceptions, so one bad file never fails the job.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from typing import Any, Iterable, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from pipeline import image_io, plan
from pipeline.stylizers import Stylizer, from_spec
import tfrecords_schema as schema

NAMESPACE = "stylize"
DEAD = "dead"
ORIGINAL = "original"


def counter(name: str):
  return beam.metrics.Metrics.counter(NAMESPACE, name)


def dead_letter(stage: str, uri: str, reason: str, message: str, **extra) -> dict:
  """One dead-letter entry: which input, at which stage, why."""
  return {"stage": stage, "uri": uri, "reason": reason, "message": message, **extra}


# One loaded stylizer per worker process, shared by the style step and the content step,
# guarded by a lock because TF Lite interpreters are not thread-safe and Beam may run
# bundles on several threads of one process.
_STYLIZERS: dict[str, tuple[Stylizer, threading.Lock]] = {}
_STYLIZERS_LOCK = threading.Lock()
# Loads happen in setup()/load_model(), where Beam keeps no metrics context; they are
# counted here and reported by the next process()/run_inference() of this process.
_UNREPORTED_LOADS = 0


def shared_stylizer(spec: str) -> tuple[Stylizer, threading.Lock]:
  global _UNREPORTED_LOADS
  with _STYLIZERS_LOCK:
    if spec not in _STYLIZERS:
      start = time.time()
      s = from_spec(spec)
      s.load()
      _UNREPORTED_LOADS += 1
      threads = getattr(s, "threads_in_use", None)
      logging.info("loaded stylizer %s (%s) in %.1fs%s", spec, s.version,
                   time.time() - start, f", {threads} threads" if threads else "")
      _STYLIZERS[spec] = (s, threading.Lock())
    return _STYLIZERS[spec]


def report_model_loads() -> None:
  """Adds this process's not yet reported model loads to the `model_loads` counter."""
  global _UNREPORTED_LOADS
  if _UNREPORTED_LOADS:  # unlocked peek: the common case costs one read
    with _STYLIZERS_LOCK:
      loads, _UNREPORTED_LOADS = _UNREPORTED_LOADS, 0
    if loads:
      counter("model_loads").inc(loads)


class StyleStepFn(beam.DoFn):
  """style manifest entry -> (style_id, (style entry, style state)), once per style."""

  def __init__(self, spec: str, max_pixels: int):
    self._spec, self._max_pixels = spec, max_pixels

  def setup(self):
    self._stylizer, self._lock = shared_stylizer(self._spec)

  def process(self, style: dict) -> Iterable[Any]:
    report_model_loads()
    try:
      rgb = image_io.load_image(style["uri"], max_pixels=self._max_pixels)
      with self._lock:
        state = self._stylizer.style_step(rgb)
    except image_io.ImageError as e:
      counter("styles_failed").inc()
      yield beam.pvalue.TaggedOutput(DEAD, dead_letter("style", style["uri"], e.reason,
                                                       str(e)))
      return
    except Exception as e:  # a model failure on one style must not fail the job
      counter("styles_failed").inc()
      yield beam.pvalue.TaggedOutput(DEAD, dead_letter(
          "style", style["uri"], "style_step_failed", f"{type(e).__name__}: {e}"))
      return
    counter("style_step_calls").inc()
    yield style["style_id"], (style, state)


def plan_views(content: dict, pools: dict, k: int, include_original: bool):
  """content entry -> (style_id, (content_id, view_index)) per stylized view.

  The original view needs no style, so it is not emitted here; DecodeContentFn adds it.
  """
  planned = plan.PlannedContent(content["content_id"], content["split"],
                                content["index_in_split"])
  for view_index, style_id in plan.views_for(planned, pools, k, include_original=False):
    yield style_id, (content["content_id"], view_index)


def attach_style_state(joined):
  """CoGroupByKey on style_id -> (content_id, (view_index, style entry, state))."""
  _, groups = joined
  states = list(groups["style"])
  if not states:  # cannot happen: views are planned only over styles that worked
    return
  style, state = states[0]
  for content_id, view_index in groups["views"]:
    yield content_id, (view_index, style, state)


class DecodeContentFn(beam.DoFn):
  """(content_id, {content, views}) -> one element per view; the content decoded once.

  Main output: dicts to stylize. ORIGINAL: the unstylized view when asked. DEAD: a
  content that cannot be decoded, or that got no style at all.
  """

  def __init__(self, image_size: int, resize_policy: str, max_pixels: int,
               include_original: bool, strength: float):
    self._size, self._policy = image_size, resize_policy
    self._max_pixels, self._orig, self._strength = max_pixels, include_original, strength

  def process(self, joined) -> Iterable[Any]:
    _, groups = joined
    contents = list(groups["content"])
    if not contents:
      return
    content = contents[0]
    views = sorted(groups["views"], key=lambda v: v[0])
    try:
      if content.get("embedded"):  # bytes joined from the source's own shards
        data = next(iter(groups.get("bytes", ())), None)
        if data is None:
          raise image_io.ImageError(image_io.READ_FAILED,
                                    "no image with this id in the source's shards")
        rgb = image_io.decode_image(data, max_pixels=self._max_pixels)
      else:
        rgb = image_io.load_image(content["uri"], max_pixels=self._max_pixels)
      pixels = image_io.resize_to_square(rgb, self._size, self._policy)
    except image_io.ImageError as e:
      counter("contents_failed").inc()
      yield beam.pvalue.TaggedOutput(DEAD, dead_letter(
          "content", content["uri"], e.reason, str(e), content_id=content["content_id"]))
      return
    if not views and not self._orig:
      counter("contents_failed").inc()
      yield beam.pvalue.TaggedOutput(DEAD, dead_letter(
          "content", content["uri"], "no_usable_style",
          "no style image could be used for this content",
          content_id=content["content_id"]))
      return
    counter("contents_read").inc()
    if self._orig:
      yield beam.pvalue.TaggedOutput(ORIGINAL, {"content": content, "view_index": 0,
                                                "pixels": pixels, "style": None})
    for view_index, style, state in views:
      yield {"content": content, "view_index": view_index, "pixels": pixels,
             "style": style, "state": state, "strength": self._strength}


class _Progress:
  """Logs this worker process's stylized views every `every` seconds: a local run's
  progress shows on the console, a Dataflow run's in the worker logs."""

  def __init__(self, every: float = 10.0):
    self._every, self._lock = every, threading.Lock()
    self._start = self._last = None
    self._done = 0

  def add(self, n: int) -> None:
    with self._lock:
      now = time.time()
      if self._start is None:
        self._start = self._last = now
      self._done += n
      if now - self._last >= self._every:
        self._last = now
        logging.info("progress: %d views stylized by this worker (%.1f/s)", self._done,
                     self._done / max(now - self._start, 1e-9))


_PROGRESS = _Progress()


class StylizerModelHandler(ModelHandler[dict, PredictionResult, Stylizer]):
  """RunInference handler: one stylizer per worker process, batched content step.

  A batch that raises is retried one element at a time, so a single bad element is
  dead-lettered (inference = None, error in `model_id`) and the rest of its batch lives.
  """

  def __init__(self, spec: str, min_batch_size: int = 1, max_batch_size: int = 8):
    super().__init__()
    self._spec = spec
    self._batch = {"min_batch_size": min_batch_size, "max_batch_size": max_batch_size}

  def load_model(self) -> Stylizer:
    return shared_stylizer(self._spec)[0]

  def batch_elements_kwargs(self):
    return dict(self._batch)

  def _run(self, model: Stylizer, batch: Sequence[dict]) -> np.ndarray:
    x = np.stack([e["pixels"] for e in batch]).astype(np.float32) / 255.0
    with shared_stylizer(self._spec)[1]:
      out = model.content_step(x, [e["state"] for e in batch],
                               [e["strength"] for e in batch])
    return image_io.to_uint8(out)

  def run_inference(self, batch: Sequence[dict], model: Stylizer,
                    inference_args=None) -> Iterable[PredictionResult]:
    report_model_loads()
    try:
      outputs = list(self._run(model, batch))
      errors = [None] * len(batch)
    except Exception:  # retry one by one: only the failing elements are lost
      counter("batches_retried").inc()
      outputs, errors = [], []
      for e in batch:
        try:
          outputs.append(self._run(model, [e])[0])
          errors.append(None)
        except Exception as exc:
          outputs.append(None)
          errors.append(f"{type(exc).__name__}: {exc}")
    _PROGRESS.add(len(batch))
    return [PredictionResult(example=e, inference=o, model_id=err)
            for e, o, err in zip(batch, outputs, errors)]

  def get_metrics_namespace(self) -> str:
    return NAMESPACE


class BuildRecordFn(beam.DoFn):
  """Stylized or original view -> ((split, shard), (content_id, view_index, bytes))."""

  def __init__(self, stylizer_name: str, stylizer_version: str, image_format: str,
               jpeg_quality: int, shards: dict):
    self._name, self._version = stylizer_name, stylizer_version
    self._format, self._quality, self._shards = image_format, jpeg_quality, shards

  def process(self, item) -> Iterable[Any]:  # hint: outputs are tagged
    if isinstance(item, PredictionResult):
      view = item.example
      if item.inference is None:
        counter("views_failed").inc()
        yield beam.pvalue.TaggedOutput(DEAD, dead_letter(
            "stylize", view["content"]["uri"], "stylize_failed", item.model_id,
            content_id=view["content"]["content_id"], style_uri=view["style"]["uri"],
            view_index=view["view_index"]))
        return
      pixels = item.inference
    else:
      view, pixels = item, item["pixels"]
    content, style = view["content"], view["style"]
    record = {
        "image": image_io.encode_image(pixels, self._format, self._quality),
        "image_format": self._format, "height": int(pixels.shape[0]),
        "width": int(pixels.shape[1]), "content_id": content["content_id"],
        "content_uri": content["uri"],
        "content_label_ids": content.get("label_ids", []),
        "content_label_names": content.get("label_names", []),
        "content_primary_label_id": content.get("primary_label_id", -1),
        "content_primary_label": content.get("primary_label", ""),
        "content_supercategory": content.get("supercategory", ""),
        "is_original": style is None, "view_index": view["view_index"],
        "split": content["split"],
    }
    if style is None:
      record.update(stylizer="none")
      counter("originals_written").inc()
    else:
      record.update(style_id=style["style_id"], style_uri=style["uri"],
                    style_name=style.get("name", ""), style_artist=style.get("artist", ""),
                    style_genre=style.get("genre", ""), style_title=style.get("title", ""),
                    stylizer=self._name, stylizer_version=self._version,
                    style_strength=float(view["strength"]))
      counter("views_stylized").inc()
    split = content["split"]
    shard = plan.shard_of(content["index_in_split"], self._shards[split]["contents"],
                          self._shards[split]["num_shards"])
    info = {"label": record["content_primary_label"],
            "style": "" if style is None else (style.get("name") or ""),
            "style_id": -1 if style is None else style["style_id"]}
    yield (split, shard), (content["content_id"], view["view_index"],
                           schema.encode_example(record), info)


class WriteShardFn(beam.DoFn):
  """((split, shard), records) -> one TFRecord file, records ordered by (content, view).

  Writing whole shards ourselves (instead of WriteToTFRecord) keeps each content's
  views adjacent, makes shard contents and order deterministic, and yields the exact
  per-shard counts TFDS needs in dataset_info.json.
  """

  def __init__(self, out_dir: str, name: str, shards: dict):
    self._dir, self._name, self._shards = out_dir, name, shards

  def process(self, keyed) -> Iterable[dict]:
    from apache_beam.io.tfrecordio import _TFRecordUtil  # the framing Beam itself writes
    (split, shard), records = keyed
    records = sorted(records, key=lambda r: (r[0], r[1]))
    n = self._shards[split]["num_shards"]
    path = FileSystems.join(self._dir, schema.shard_filename(self._name, split, shard, n))
    size = 0
    styles, style_names = collections.Counter(), collections.Counter()
    content_labels = {}  # labels are counted per content, not per view
    views = collections.Counter()  # for the launcher's written-or-dead-lettered check
    with FileSystems.create(path) as f:
      for content_id, _, data, info in records:
        _TFRecordUtil.write_record(f, data)
        size += _TFRecordUtil.encoded_num_bytes(data)
        views[str(content_id)] += 1
        content_labels.setdefault(content_id, info["label"] or "(unlabelled)")
        if info["style_id"] >= 0:
          styles[str(info["style_id"])] += 1
          style_names[info["style"] or "(unnamed)"] += 1
    labels = collections.Counter(content_labels.values())
    counter("records_written").inc(len(records))
    counter("shards_written").inc()
    logging.info("wrote %s: %d records", path, len(records))
    yield {"split": split, "shard": shard, "records": len(records), "bytes": size,
           "contents": len(content_labels), "labels": dict(labels),
           "style_ids": dict(styles), "style_names": dict(style_names),
           "views_per_content": dict(views)}


def failed_batches_to_dead_letters(failed):
  """RunInference's own dead-letter (batch, exception) -> one entry per element."""
  batch, exc = failed
  for view in batch:
    yield dead_letter("stylize", view["content"]["uri"], "stylize_failed",
                      "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                      content_id=view["content"]["content_id"],
                      style_uri=view["style"]["uri"], view_index=view["view_index"])
