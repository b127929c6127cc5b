"""The stylize job's DoFns: the style step, and one shard rendered and written per task.

Each wraps a pure piece of `pipeline/` (stylizers, `render.ShardRenderer`, `records`)
and adds what only a Beam worker needs: one model per worker process (Beam's `Shared`),
counters, results written to the staging folder, failures as dead letters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from beam_jobs import output as out
from beam_jobs import staging as stg
from beam_jobs.lock import check_fence
from pipeline import image_io, manifest, records, render, style_states
from pipeline.stylizers import from_spec
import tfrecords_schema as schema
from tfrecords_schema import tfrecord

NAMESPACE = "stylize"
#: A running shard notes its progress for the launcher's display at most this often.
PROGRESS_EVERY_S = 5.0


def counter(name: str):
  return beam.metrics.Metrics.counter(NAMESPACE, name)


def count(name: str, n: int = 1) -> None:
  counter(name).inc(n)


class LoadedStylizer:
  """A loaded stylizer and the lock that serialises calls into it (LiteRT interpreters
  are not thread-safe, and Beam may run several bundles in one process)."""

  def __init__(self, spec: str):
    start = time.time()
    self.stylizer = from_spec(spec)
    self.stylizer.load()
    self.lock = threading.Lock()
    self.state_cache: style_states.StateCache | None = None  # set by RenderShardFn
    threads = getattr(self.stylizer, "threads_in_use", None)
    logging.info("loaded stylizer %s (%s) in %.1fs%s", spec, self.stylizer.version,
                 time.time() - start, f", {threads} threads" if threads else "")


# Loads happen in setup(), where Beam keeps no metrics context; they are counted here
# and reported by the next process() of this worker process.
_UNREPORTED_LOADS = 0
_LOADS_LOCK = threading.Lock()


def _load(spec: str) -> LoadedStylizer:
  global _UNREPORTED_LOADS
  model = LoadedStylizer(spec)
  with _LOADS_LOCK:
    _UNREPORTED_LOADS += 1
  return model


def report_model_loads() -> None:
  global _UNREPORTED_LOADS
  if _UNREPORTED_LOADS:  # unlocked peek: the common case costs one read
    with _LOADS_LOCK:
      loads, _UNREPORTED_LOADS = _UNREPORTED_LOADS, 0
    if loads:
      count("model_loads", loads)


def read_state(staging: str, style_id: int):
  """A style state the style step stored in the staging folder."""
  with FileSystems.open(stg.style_result_path(staging, style_id, "npz")) as f:
    return style_states.from_bytes(f.read())


class _WithModel(beam.DoFn):
  """Holds the worker process's one stylizer, shared by every DoFn given `handle`."""

  def __init__(self, spec: str, handle: shared.Shared):
    self._spec, self._handle = spec, handle

  def setup(self):
    self._model = self._handle.acquire(lambda: _load(self._spec), tag=self._spec)


class StyleStepFn(_WithModel):
  """style manifest entry -> (style_id, {"style", "state"}): the style step, once per
  style. Its result is kept in the staging folder, so a resumed job reuses it (and
  plans exactly as before) instead of recomputing it; a failure becomes a dead letter
  there. `state` is None when it is too large to travel inline (workers load it)."""

  def __init__(self, spec: str, handle: shared.Shared, staging: str, max_pixels: int):
    super().__init__(spec, handle)
    self._staging, self._max_pixels = staging, max_pixels

  def process(self, style: dict) -> Iterable[Any]:
    report_model_loads()
    sid = style["style_id"]
    result, state = self._stored(sid), None
    if result is None:  # not computed yet (or half-written by a killed run)
      result, state = self._compute(style)
      out.write_text(stg.style_result_path(self._staging, sid,
                                           "json" if result["ok"] else "dead.json"),
                     json.dumps(result, sort_keys=True))
    if result["ok"]:
      if result["nbytes"] > style_states.INLINE_STATE_BYTES:
        state = None  # workers load it from its file when they need it
      elif state is None:  # a result kept from an earlier run
        state = read_state(self._staging, sid)
      yield sid, {"style": style, "state": state}

  def _stored(self, sid: int) -> dict | None:
    """The result an earlier run kept: success and failure have their own file names,
    so publishing lists the failures alone, however many styles there are."""
    for suffix in ("json", "dead.json"):
      try:
        return json.loads(out.read_text(stg.style_result_path(self._staging, sid, suffix)))
      except Exception:
        continue
    return None

  def _compute(self, style: dict) -> tuple[dict, Any]:
    try:
      rgb = image_io.load_image(style["uri"], max_pixels=self._max_pixels)
      with self._model.lock:
        state = self._model.stylizer.style_step(rgb)
    except Exception as e:  # unreadable image or a model failure: this style only
      count("styles_failed")
      reason = e.reason if isinstance(e, image_io.ImageError) else "style_step_failed"
      message = str(e) if isinstance(e, image_io.ImageError) else (
          f"{type(e).__name__}: {e}")
      return {"ok": False, "dead_letter": records.dead_letter(
          "style", style["uri"], reason, message)}, None
    count("style_step_calls")
    with FileSystems.create(stg.style_result_path(self._staging, style["style_id"],
                                                  "npz")) as f:
      f.write(style_states.to_bytes(state))
    return {"ok": True, "nbytes": style_states.state_nbytes(state)}, state


class RenderShardFn(_WithModel):
  """shard task -> that shard's TFRecord file, end to end; yields the shard's stats.

  The file is written under `_work/tmp/` and renamed into place when complete; then its
  index fragment (one JSON line per record) and a done marker (stats and dead letters)
  record it. A retried or resumed task rewrites the same bytes (the shard's contents
  and their batches depend only on the plan). A task whose launcher's lock was taken
  over by a newer job publishes nothing (`lock.check_fence`).
  """

  def __init__(self, spec: str, handle: shared.Shared, staging: str, name: str,
               cfg: render.RenderConfig, fmt: records.RecordFormat,
               lock_token: str | None = None):
    super().__init__(spec, handle)
    self._staging, self._name, self._cfg, self._fmt = staging, name, cfg, fmt
    self._token = lock_token

  def setup(self):
    super().setup()
    with self._model.lock:  # one cache per worker process, like the model
      if self._model.state_cache is None:
        self._model.state_cache = style_states.StateCache(
            lambda sid: read_state(self._staging, sid))
    self._cache = self._model.state_cache

  def process(self, task: dict, pools: dict, styles: dict) -> Iterable[dict]:
    report_model_loads()

    def style_of(sid: int):
      entry = styles[sid]
      state = entry["state"] if entry["state"] is not None else self._cache.get(sid)
      return manifest.style_from_json(entry["style"]), state

    split, shard = task["split"], task["shard"]
    key = stg.shard_key(split, shard)
    filename = schema.shard_filename(self._name, split, shard, task["num_shards"])
    tmp = stg.tmp_path(self._staging, filename)
    renderer = render.ShardRenderer(self._model.stylizer, style_of, self._cfg, count,
                                    self._model.lock)
    try:
      stats, index, dead = self._write(tmp, filename, renderer, task, pools, key)
    except BaseException:
      with contextlib.suppress(Exception):  # an object store keeps what was written
        FileSystems.delete([tmp])
      raise
    lock_file = stg.lock_path(self._staging)
    check_fence(lock_file, self._token)
    FileSystems.rename([tmp], [FileSystems.join(self._staging, filename)])
    out.write_text(stg.index_path(self._staging, key), index.text())
    marker = {"split": split, "shard": shard, "num_shards": task["num_shards"],
              "file": filename, "file_bytes": stats.bytes, "stats": stats.as_dict(),
              "dead_letters": dead, "views_planned": task["views"]}
    check_fence(lock_file, self._token)
    out.write_text(stg.done_path(self._staging, key),
                   json.dumps(marker, sort_keys=True, ensure_ascii=False))
    count("records_written", stats.records)
    count("shards_written")
    logging.info("wrote %s: %d records, %d dead letters", filename, stats.records,
                 len(dead))
    yield {"split": split, "shard": shard, "records": stats.records}

  def _write(self, tmp, filename, renderer, task, pools, key):
    stats = records.ShardStats(task["split"], task["shard"])
    index, dead = records.ShardIndex(filename), []
    progress = _ProgressNote(stg.progress_path(self._staging, key))
    with FileSystems.create(tmp) as raw:
      f = _Hashing(raw)
      for item in renderer.render(manifest.read_contents(task["manifest"]), pools):
        if isinstance(item, dict):
          dead.append(item)
          continue
        data = records.encode_view(item.content, item.view_index, item.pixels,
                                   item.style, self._cfg.strength, self._fmt,
                                   item.labels)
        tfrecord.write_record(f, data)
        index.add(data)
        stats.add(item.content, item.style, tfrecord.framed_size(data),
                  item.labels)
        progress.update(stats.records + len(dead))
    stats.sha256 = f.digest.hexdigest()
    return stats, index, dead


class _Hashing:
  """A shard file's writer that hashes what passes through it: the shard's sha256 for
  the metadata without reading the file back."""

  def __init__(self, f):
    self._f, self.digest = f, hashlib.sha256()

  def write(self, data: bytes):
    self.digest.update(data)
    return self._f.write(data)


class _ProgressNote:
  """Views done in a running shard, rewritten at most every PROGRESS_EVERY_S."""

  def __init__(self, path: str):
    self._path, self._last = path, time.time()

  def update(self, views: int) -> None:
    now = time.time()
    if now - self._last >= PROGRESS_EVERY_S:
      self._last = now
      try:
        out.write_text(self._path, json.dumps({"views": views}))
      except Exception:  # progress is cosmetic; the shard is what matters
        pass
