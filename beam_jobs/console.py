"""What the user of the job sees: a few lines of ours and one progress bar.

Beam's local runner starts worker processes that log every harness step at INFO, and
TensorFlow prints its CUDA and oneDNN probes from C++; none of it goes through a logger
we could configure (the workers ignore Beam's log-level options). So, unless
`--verbose`, the launcher points its own stdout and stderr file descriptors at a log
file for the duration of the job (the workers inherit them) and keeps the console for
itself. On failure the log's last lines are shown and its path is given.

Progress is counted where it is true on any runner: the done markers and progress notes
the shard tasks write into the staging folder. The same counts tell a stalled job
(`Progress.idle_s`): nothing in them changes while no worker makes progress.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from typing import Optional

from tqdm import tqdm

from beam_jobs import output as out
from beam_jobs import staging as stg

#: Warnings logged from this project's packages reach the console.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_CODE = tuple(os.path.join(_ROOT, p) + os.sep
                  for p in ("beam_jobs", "pipeline", "tfrecords_schema"))


class Console:
  """Context manager: while open, fds 1 and 2 go to a log file (unless verbose);
  `say()` writes to the real console."""

  def __init__(self, verbose: bool, name: str = "stylize"):
    self.verbose = verbose
    self.log_path: str | None = None
    self._name = name
    self._saved: dict[int, int] = {}
    self.stream = sys.stderr  # the console's stderr: progress and our messages
    self.out = sys.stdout     # the console's stdout: the closing summary

  def __enter__(self) -> "Console":
    if self.verbose:
      return self
    fd, self.log_path = tempfile.mkstemp(prefix=f"{self._name}-", suffix=".log")
    for stream in (sys.stdout, sys.stderr):
      stream.flush()
    for target in (1, 2):
      self._saved[target] = os.dup(target)
      os.dup2(fd, target)
    os.close(fd)
    self.stream = os.fdopen(os.dup(self._saved[2]), "w", buffering=1)
    self.out = os.fdopen(os.dup(self._saved[1]), "w", buffering=1)
    self._ours = logging.StreamHandler(self.stream)  # our own warnings stay in view
    self._ours.setLevel(logging.WARNING)
    self._ours.setFormatter(logging.Formatter(f"{self._name}: %(levelname)s: %(message)s"))
    self._ours.addFilter(  # errors: the failure line says them, the log has the rest
        lambda r: r.levelno == logging.WARNING and r.pathname.startswith(_OUR_CODE))
    logging.getLogger().addHandler(self._ours)
    return self

  def say(self, message: str) -> None:
    print(message, file=self.stream, flush=True)

  def result(self, message: str) -> None:
    print(message, file=self.out, flush=True)

  def tail(self, lines: int = 12) -> str:
    """The log's last lines, without traceback frames (the messages, not the stack)."""
    if not self.log_path:
      return ""
    with open(self.log_path, "rb") as f:
      f.seek(0, os.SEEK_END)
      f.seek(max(0, f.tell() - 256 * 1024))
      text = f.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines()
            if line.strip() and not line.startswith((" ", "\t", "Traceback"))]
    return "\n".join(kept[-lines:])

  def __exit__(self, exc_type, exc, tb) -> None:
    if self.verbose:
      return
    for stream in (sys.stdout, sys.stderr):
      with contextlib.suppress(Exception):
        stream.flush()
    logging.getLogger().removeHandler(self._ours)
    for target, saved in self._saved.items():
      os.dup2(saved, target)
      os.close(saved)
    self._saved.clear()
    if exc_type in (None, SystemExit) and self.log_path:  # nothing to look into
      os.unlink(self.log_path)
      self.log_path = None
    elif self.log_path and exc_type is KeyboardInterrupt:
      self.say(f"{self._name}: interrupted; the log is {self.log_path}")
    elif self.log_path:
      self.say(f"--- the log's last messages (whole log: {self.log_path}) ---\n"
               f"{self.tail()}")
    for stream in (self.stream, self.out):
      with contextlib.suppress(Exception):
        stream.close()
    self.stream, self.out = sys.stderr, sys.stdout


class Bar(tqdm):
  """tqdm whose rate, and so its ETA, counts from the first view seen, not from launch.

  Workers spend their first tens of seconds starting and loading the network; a rate
  averaged from launch put the first ETA at hours for a two-minute job. Until a second
  count after the first arrives, rate and ETA show `?` rather than a guess. The finished
  bar shows the whole job's rate (views over elapsed time), as the summary counts it.
  """
  work_from: Optional[tuple[float, float]] = None  # (time, count) at the first view

  def advance(self, views: float) -> None:
    self.update(views)
    if self.work_from is None:
      self.work_from = (self._time(), self.n)

  @property
  def format_dict(self):
    d = super().format_dict
    if self.total and self.n >= self.total:
      return d
    if self.work_from is not None:
      t0, n0 = self.work_from
      dt = self._time() - t0
      if dt > 0 and self.n > n0:
        d["rate"] = (self.n - n0) / dt
        return d
    d["rate"], d["initial"] = None, self.n  # tqdm then shows '?' for rate and ETA
    return d


class Progress:
  """One bar for the whole job: shards and views done of planned, views/s, ETA.

  A thread polls the staging folder every `every` seconds: finished shards from their
  done markers (read once each), running shards from their progress notes.
  """

  def __init__(self, console: Console, staging: str, total_shards: int,
               total_views: int, done: dict[str, dict], every: float = 2.0):
    self._staging, self._every = staging, every
    self._total_shards = total_shards
    self._done_views = {k: m.get("views_planned", m["stats"]["records"])
                        for k, m in done.items()}
    tty = console.stream.isatty()
    try:  # a pseudo-terminal may report 0 columns, which would draw an empty bar
      width = os.get_terminal_size(console.stream.fileno()).columns if tty else 0
    except OSError:
      width = 0
    self._print_every = 0.0 if tty else 10.0  # a log file gets a line per 10 s, not 2
    self._bar = Bar(total=total_views, initial=sum(self._done_views.values()),
                    unit="view", file=console.stream, ncols=min(width or 100, 120),
                    mininterval=self._print_every, ascii=not tty, leave=True,
                    smoothing=0,  # the rate since the first view: shards finish in steps
                    bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} views "
                               "[{elapsed}<{remaining}, {rate_fmt}]{postfix}")
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._poll, daemon=True, name="progress")
    self._seen: tuple = ()
    self._changed = time.monotonic()

  def idle_s(self) -> float:
    """Seconds since a style step, a shard or a running shard's progress note last
    changed (as of the last poll)."""
    return time.monotonic() - self._changed

  def __enter__(self) -> "Progress":
    self._refresh()
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._stop.set()
    self._thread.join()
    self._refresh(quiet=True)  # the count only: close() draws the last state
    self._bar.close()

  def _poll(self) -> None:
    while not self._stop.wait(self._every):
      with contextlib.suppress(Exception):  # a half-written note: next time
        self._refresh()

  def _refresh(self, quiet: bool = False) -> None:
    for path in out.match(stg.done_path(self._staging, "*")):
      key = path.rsplit("/", 1)[-1][:-len(".json")]
      if key not in self._done_views:
        with contextlib.suppress(Exception):
          marker = json.loads(out.read_text(path))
          self._done_views[key] = marker.get("views_planned", marker["stats"]["records"])
    running = 0
    for path in out.match(stg.progress_path(self._staging, "*")):
      key = path.rsplit("/", 1)[-1][:-len(".json")]
      if key not in self._done_views:
        with contextlib.suppress(Exception):
          running += int(json.loads(out.read_text(path))["views"])
    views = sum(self._done_views.values()) + running
    seen = (len(self._done_views), views,
            len(out.match(stg.style_result_path(self._staging, "*"))))
    if seen != self._seen:
      self._seen, self._changed = seen, time.monotonic()
    self._bar.set_postfix_str(f"shards {len(self._done_views)}/{self._total_shards}",
                              refresh=False)
    delta = min(views, self._bar.total) - self._bar.n
    if quiet:
      self._bar.n += max(0, delta)
    elif delta > 0:
      self._bar.advance(delta)  # tqdm prints it at most every mininterval
    elif not self._print_every:
      self._bar.refresh()


def elapsed(seconds: float) -> str:
  m, s = divmod(int(round(seconds)), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
