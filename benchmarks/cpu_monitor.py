"""What other processes take from a benchmark: machine CPU vs this process tree's.

Shared by the benchmark scripts (the machine is shared and noisy; every phase reports
how many cores others used while it ran).
"""

from __future__ import annotations

import os
import threading
import time


def note(text: str) -> None:
  print(text, flush=True)


class CpuMonitor:
  """Samples /proc twice a second: CPU busy on the machine vs CPU of this process tree.

  The difference is what other people's processes took from us during a phase. Children
  that exit between samples lose at most their last half second, so "foreign" is an
  upper bound, good enough to flag a run that shared the cores.
  """

  def __init__(self, interval: float = 0.5):
    self._interval, self._hz = interval, os.sysconf("SC_CLK_TCK")
    self._pid = os.getpid()
    self._seen: dict[int, int] = {}  # pid -> last utime+stime (ticks) of our tree
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._busy = self._ours = 0
    self._sample()
    self._thread.start()

  @staticmethod
  def _machine_busy() -> int:
    with open("/proc/stat") as f:
      fields = [int(x) for x in f.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4]  # minus idle and iowait

  def _tree_ticks(self) -> None:
    stats = {}
    for name in os.listdir("/proc"):
      if not name.isdigit():
        continue
      try:
        with open(f"/proc/{name}/stat") as f:
          rest = f.read().rsplit(")", 1)[1].split()
      except OSError:
        continue
      stats[int(name)] = (int(rest[1]), int(rest[11]) + int(rest[12]))  # ppid, ut+st
    tree, frontier = {self._pid}, [self._pid]
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
      children.setdefault(ppid, []).append(pid)
    while frontier:
      for child in children.get(frontier.pop(), []):
        if child not in tree:
          tree.add(child)
          frontier.append(child)
    for pid in tree:
      if pid in stats:
        self._seen[pid] = max(self._seen.get(pid, 0), stats[pid][1])

  def _sample(self) -> None:
    busy = self._machine_busy()
    self._tree_ticks()
    with self._lock:
      self._busy, self._ours = busy, sum(self._seen.values())

  def _run(self) -> None:
    while not self._stop.wait(self._interval):
      self._sample()

  def mark(self) -> tuple[float, int, int]:
    self._sample()
    with self._lock:
      return time.perf_counter(), self._busy, self._ours

  def since(self, mark) -> dict:
    """CPU use since `mark`, in cores (1.0 = one core busy the whole time)."""
    t, busy, ours = self.mark()
    wall = max(1e-9, t - mark[0])
    mine = (ours - mark[2]) / self._hz / wall
    other = max(0.0, (busy - mark[1]) / self._hz / wall - mine)
    return {"wall_s": round(wall, 2), "our_cores": round(mine, 2),
            "other_cores": round(other, 2)}

  def wait_quiet(self, timeout: float, label: str, limit: float = 0.15,
                 sample_s: float = 2.0) -> float:
    """Waits (up to timeout) until others use < `limit` cores over `sample_s`.
    Returns their load (0.0 without waiting when timeout <= 0)."""
    if timeout <= 0:
      return 0.0
    deadline, other, told = time.time() + timeout, 0.0, False
    while True:
      m = self.mark()
      time.sleep(sample_s)
      other = self.since(m)["other_cores"]
      if other < limit or time.time() >= deadline:
        break
      if not told:
        note(f"  other processes use {other:.2f} cores; waiting up to {timeout:.0f} s "
             f"before {label}")
        told = True
    if told:
      note(f"  {'quiet now' if other < limit else f'still {other:.2f} cores; going on'}")
    return other

  def stop(self) -> None:
    self._stop.set()
