"""What the trainer's user sees: its own progress and results; the framework's logs
go to a file.

TensorFlow's C++ runtime writes to file descriptor 2 from its first import (the CUDA
probe's `failed call to cuInit` on a machine without a GPU, grappler's `NodeDef
mentions attribute` notices, absl's pre-initialisation warning), and no Python logger
reaches those lines. So, as the dataset job does (beam_jobs/console.py; the trainer
imports nothing from beam_jobs), unless `--verbose` fd 2 points at a log file while the
trainer runs, and Python logging shows this project's records on the console and sends
every other logger's (TensorFlow's, absl's, Keras's) to the file. A failure is said in
one line naming the log; the traceback is in the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import traceback

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_CODE = tuple(os.path.join(_ROOT, p) + os.sep for p in ("trainer", "tfrecords_schema"))
_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class Console:
  """Context manager around a trainer run; `log_path` is the log file (None if verbose)."""

  def __init__(self, verbose: bool, name: str = "trainer"):
    self.verbose, self.name = verbose, name
    self.log_path: str | None = None
    self._saved_fd: int | None = None
    self._handlers: list[logging.Handler] = []

  def _add_handler(self, handler: logging.Handler, only_ours: bool | None) -> None:
    handler.setFormatter(logging.Formatter(_FORMAT))
    if only_ours is not None:
      handler.addFilter(lambda r: r.pathname.startswith(_OUR_CODE) == only_ours)
    logging.getLogger().addHandler(handler)
    self._handlers.append(handler)

  def __enter__(self) -> "Console":
    logging.getLogger().setLevel(logging.INFO)
    if self.verbose:
      self._add_handler(logging.StreamHandler(sys.stdout), None)
      return self
    fd, self.log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
    sys.stderr.flush()
    self._saved_fd = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    self._add_handler(logging.StreamHandler(sys.stdout), True)
    self._add_handler(logging.FileHandler(self.log_path), False)  # appends, as fd 2 does
    return self

  def __exit__(self, exc_type, exc, tb) -> None:
    for handler in self._handlers:
      logging.getLogger().removeHandler(handler)
      handler.close()
    self._handlers.clear()
    if self.verbose:
      return
    failed = exc_type is not None and not issubclass(exc_type, SystemExit)
    for stream in (sys.stdout, sys.stderr):
      with contextlib.suppress(Exception):
        stream.flush()
    os.dup2(self._saved_fd, 2)
    os.close(self._saved_fd)
    if failed:  # the whole story goes to the log, the console gets one line
      with open(self.log_path, "a", encoding="utf-8") as log:
        traceback.print_exception(exc_type, exc, tb, file=log)
    else:
      os.unlink(self.log_path)
      self.log_path = None
      return
    # The exits below belong to the entry point: only trainer.task.main runs a Console.
    if issubclass(exc_type, KeyboardInterrupt):
      print(f"{self.name}: interrupted; the log is {self.log_path}", file=sys.stderr)
      raise SystemExit(130)
    first = str(exc).splitlines()[0] if str(exc) else ""
    print(f"{self.name}: failed ({exc_type.__name__}: {first}); the log is "
          f"{self.log_path}", file=sys.stderr, flush=True)
    raise SystemExit(1)
