"""Where a dataset folder lives, for its readers: a local path or an object store (gs://).

The readers (the validator, the trainer) reach gs:// through fsspec's `gcsfs`, not
TensorFlow's own gs:// filesystem: TensorFlow's endpoint is fixed, so it cannot be
pointed at a storage emulator, and a code path that cannot be rehearsed offline is a
code path nobody has run before the first paid job. gcsfs honours
`STORAGE_EMULATOR_HOST` (the emulator: no credentials) and Google's default credentials
on a VM alike, so the same lines read the emulator in the tests and GCS in production.
Local paths go straight to the operating system.

TFRecord framing is read in Python (`records`, through tfrecords_schema/tfrecord.py),
with the masked CRC32C of each length and record checked, so a remote shard needs no
TensorFlow filesystem at all: the trainer feeds these bytes to tf.data, the validator to
the record checks. Read throughput of each way, against local disk: benchmarks/README.md
("Reading gs://").

An unreachable store fails at once with `StoreUnreachableError`, naming the URL and the
endpoint, instead of surfacing later as "no such folder" or "no shards match".
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import json
import os
import socket
from typing import Any, BinaryIO, Iterator
from urllib.parse import urlparse

from tfrecords_schema.tfrecord import iter_records

#: Remote reads go in blocks this large: each read of an object store is a request.
BLOCK_BYTES = 8 << 20
_ENDPOINT = "https://storage.googleapis.com"


class StoreUnreachableError(OSError):
  """The object store behind a URL does not answer; the message names both."""


def is_remote(path: str) -> bool:
  return "://" in path and not path.startswith("file://")


def join(root: str, *names: str) -> str:
  return "/".join([root.rstrip("/"), *names]) if is_remote(root) else os.path.join(
      root, *names)


def endpoint() -> str:
  """The gs:// endpoint readers talk to: the emulator's when STORAGE_EMULATOR_HOST is set."""
  return os.environ.get("STORAGE_EMULATOR_HOST", "").rstrip("/") or _ENDPOINT


_FILESYSTEMS: dict[str, object] = {}


def _gcs():
  """One gcsfs filesystem per endpoint. `gcsfs.core.GCSFileSystem`, not the package's
  default class: that one first asks a gRPC control API for the bucket's layout, which
  an emulator does not serve (a 60 s time-out per bucket); plain JSON-API reads work
  on every bucket type."""
  key = endpoint()
  if key not in _FILESYSTEMS:
    try:
      from gcsfs.core import GCSFileSystem
    except ImportError as e:
      raise ImportError("reading gs:// needs gcsfs: pip install -e '.[gcp]'") from e
    emulated = key != _ENDPOINT
    _FILESYSTEMS[key] = GCSFileSystem(
        token="anon" if emulated else None,  # None: Google's default credentials
        project=os.environ.get("GOOGLE_CLOUD_PROJECT", ""), block_size=BLOCK_BYTES)
  return _FILESYSTEMS[key]


_CHECKED: set[str] = set()


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
  """Fails fast, naming `url`, when the store behind it does not accept a connection.

  A client library retries a refused connection with back-off for half a minute or
  more before it says so; one TCP connect answers in milliseconds."""
  if not is_remote(url):
    return
  if not url.startswith("gs://"):
    raise StoreUnreachableError(f"{url}: only local paths and gs:// are supported")
  where = endpoint()
  if where in _CHECKED:
    return
  parsed = urlparse(where if "://" in where else f"http://{where}")
  port = parsed.port or (443 if parsed.scheme == "https" else 80)
  try:
    socket.create_connection((parsed.hostname, port), timeout=timeout_s).close()
  except OSError as e:
    raise StoreUnreachableError(
        f"cannot reach the store behind {url}: {parsed.hostname}:{port} "
        f"({'STORAGE_EMULATOR_HOST' if where != _ENDPOINT else 'GCS'}) does not answer "
        f"({type(e).__name__}: {e})") from None
  _CHECKED.add(where)


def _remote(path: str):
  check_reachable(path)
  return _gcs()


def _wrap(url: str, e: Exception) -> Exception:
  """A connection failure mid-way becomes StoreUnreachableError naming the URL."""
  name = type(e).__name__
  if isinstance(e, (ConnectionError, TimeoutError)) or "Connect" in name:
    return StoreUnreachableError(f"cannot reach the store behind {url} ({endpoint()}): "
                                 f"{name}: {e}")
  return e


def _ask(path: str, local, method: str, *args, **kwargs):
  """`local(path)` for a local path, else the gcsfs method, connection errors named."""
  if not is_remote(path):
    return local(path)
  try:
    return getattr(_remote(path), method)(path, *args, **kwargs)
  except Exception as e:
    raise _wrap(path, e) from e


def isdir(path: str) -> bool:
  return _ask(path, os.path.isdir, "isdir")


def exists(path: str) -> bool:
  return _ask(path, os.path.exists, "exists")


def listdir(path: str) -> list[str]:
  """Names (not paths) of the entries directly in a folder, sorted."""
  found = _ask(path, os.listdir, "ls", False)
  return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in found)


def glob(pattern: str) -> list[str]:
  """Paths matching a shell pattern (`*`, `?`, `[...]` in the last part), sorted."""
  if not is_remote(pattern):
    return sorted(globlib.glob(pattern))
  folder, name = pattern.rstrip("/").rsplit("/", 1)
  if any(c in folder for c in "*?["):
    raise ValueError(f"{pattern}: only the last part of a gs:// pattern may hold wildcards")
  if not isdir(folder):
    return []
  return [join(folder, n) for n in listdir(folder) if fnmatch.fnmatchcase(n, name)]


def size(path: str) -> int:
  return int(_ask(path, os.path.getsize, "size"))


def open_read(path: str) -> BinaryIO:
  # "bytes": a sequential read-ahead cache trimmed to about two blocks; fsspec's default
  # ("readahead") re-fetched blocks on this access pattern, 50x slower here.
  return _ask(path, lambda p: open(p, "rb"), "open", "rb",
              block_size=BLOCK_BYTES, cache_type="bytes")


def read_bytes(path: str) -> bytes:
  with open_read(path) as f:
    return f.read()


def read_json(path: str) -> Any:
  """The JSON document at `path` (local or gs://), or None when there is no file."""
  if not exists(path):
    return None
  return json.loads(read_bytes(path).decode("utf-8"))


def records(path: str) -> Iterator[bytes]:
  """Every record of the shard at `path` (local or gs://), CRCs checked."""
  with open_read(path) as f:
    for _, data in iter_records(f, path):
      yield data
