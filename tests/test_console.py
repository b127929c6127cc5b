"""The job's progress bar: its rate and ETA count from the first view, not from launch."""

import io
import re

from beam_jobs import console

FORMAT = "{n}/{total} [{elapsed}<{remaining}, {rate_fmt}]"


def _last_line(stream: io.StringIO) -> str:
  return re.split(r"[\r\n]", stream.getvalue().rstrip())[-1]


def _seconds(clock: str) -> int:
  m, s = clock.split(":")[-2:]
  return int(m) * 60 + int(s)


def test_the_eta_counts_from_the_first_view_not_from_the_launch():
  stream = io.StringIO()
  bar = console.Bar(total=100, file=stream, mininterval=0, smoothing=0, ascii=True,
                    bar_format=FORMAT)
  bar.start_t -= 38  # the workers took 38 s to start and load the network
  bar.advance(1)
  # Averaged from launch this read 1 view / 38 s: an ETA of over an hour.
  assert "<?, ?" in _last_line(stream), _last_line(stream)
  t0, n0 = bar.work_from
  bar.work_from = (t0 - 10, n0)  # 10 s of work later...
  bar.advance(9)  # ...9 more views: 0.9 view/s, 90 to go
  line = _last_line(stream)
  remaining = re.search(r"<([\d:]+),", line).group(1)
  assert 95 <= _seconds(remaining) <= 105, line
  assert line.startswith("10/100 [00:38<") or line.startswith("10/100 [00:39<"), line
  bar.advance(90)  # done: the whole job's rate, 100 views in ~38 s, as the summary says
  assert re.search(r"100/100 \[00:3\d<00:00, +2\.\d\dit/s\]", _last_line(stream)), \
      _last_line(stream)
  bar.close()


def test_a_bar_that_never_moved_shows_no_rate():
  stream = io.StringIO()
  bar = console.Bar(total=10, initial=4, file=stream, mininterval=0, smoothing=0,
                    ascii=True, bar_format=FORMAT)
  bar.start_t -= 5
  bar.refresh()
  assert "<?, ?" in _last_line(stream), _last_line(stream)
  bar.close()
