"""Style states on their way from the style step to the workers that render shards.

The job runs each stylizer's style step once per distinct style and stores the state
(a Magenta bottleneck is 100 floats; the classical stylizer's colour statistics and
texture tile are ~200 KB) in the staging folder. Small states also travel inline in the
side input every worker receives; large ones stay in their file and each worker loads
the ones it needs into a bounded cache, so no state is ever copied once per view and a
worker's memory does not grow with the number of styles.

States are numpy arrays or flat dicts of them, stored as `.npz` (no pickle: a state
file is data, never code).
"""

from __future__ import annotations

import collections
import io
import threading
from typing import Any, Callable

import numpy as np

#: States up to this many bytes travel inline in the side input; larger ones by file.
INLINE_STATE_BYTES = 64 * 1024
#: Default budget of one worker's cache of file-backed states.
CACHE_BYTES = 256 * 2**20

_ARRAY_KEY = "__array__"


def state_nbytes(state: Any) -> int:
  if isinstance(state, dict):
    return sum(int(np.asarray(v).nbytes) for v in state.values())
  return int(np.asarray(state).nbytes)


def to_bytes(state: Any) -> bytes:
  """A state (array or dict of arrays) -> `.npz` bytes."""
  buf = io.BytesIO()
  if isinstance(state, dict):
    if _ARRAY_KEY in state:
      raise ValueError(f"a state dict may not use the key {_ARRAY_KEY!r}")
    np.savez(buf, **{k: np.asarray(v) for k, v in state.items()})
  else:
    np.savez(buf, **{_ARRAY_KEY: np.asarray(state)})
  return buf.getvalue()


def from_bytes(data: bytes) -> Any:
  with np.load(io.BytesIO(data), allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
  if set(arrays) == {_ARRAY_KEY}:
    return arrays[_ARRAY_KEY]
  return arrays


class StateCache:
  """Least-recently-used states by style id, bounded by their total size in bytes.

  `load(style_id)` is called on a miss; thread-safe, so DoFn threads of one worker
  process can share it.
  """

  def __init__(self, load: Callable[[int], Any], max_bytes: int = CACHE_BYTES):
    self._load, self._max = load, max_bytes
    self._items: collections.OrderedDict[int, tuple[Any, int]] = collections.OrderedDict()
    self._bytes = 0
    self._lock = threading.Lock()
    self.misses = 0

  def get(self, style_id: int) -> Any:
    with self._lock:
      if style_id in self._items:
        self._items.move_to_end(style_id)
        return self._items[style_id][0]
    state = self._load(style_id)
    size = state_nbytes(state)
    with self._lock:
      self.misses += 1
      if style_id not in self._items:
        self._items[style_id] = (state, size)
        self._bytes += size
      while self._bytes > self._max and len(self._items) > 1:
        _, (_, dropped) = self._items.popitem(last=False)
        self._bytes -= dropped
    return state

  @property
  def nbytes(self) -> int:
    return self._bytes
