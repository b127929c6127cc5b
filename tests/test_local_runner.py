"""beam_jobs.local_runner.run_and_wait: one polling loop for the local and remote waits.

The runners here are stand-ins with Beam's PipelineResult surface (run,
wait_until_finish, cancel), so the stall and error paths are exercised in a second; the
job tests and the rehearsal run the loop on Beam's real runners.
"""

import threading
import time

import pytest

from beam_jobs import local_runner
from beam_jobs.remote import JobStalledError

LOCAL = local_runner.pipeline_options(["--direct_num_workers=2"])  # multi_processing
REMOTE = local_runner.pipeline_options(["--runner=DataflowRunner"])


class _Job:
  """A submitted job that runs until it finishes or is cancelled."""

  def __init__(self, seconds: float = 60.0, error: Exception | None = None):
    self.cancelled, self._done = False, threading.Event()
    self._seconds, self._error = seconds, error

  def run(self):
    return self

  def wait_until_finish(self):
    self._done.wait(self._seconds)
    if self._error and not self.cancelled:
      raise self._error
    return "DONE"

  def cancel(self):
    self.cancelled = True
    self._done.set()


@pytest.mark.parametrize("options", [LOCAL, REMOTE], ids=["local", "remote"])
def test_a_finished_job_returns_its_result_and_a_failed_one_raises_its_error(options):
  started = []
  job = _Job(seconds=0.2)
  assert local_runner.run_and_wait(job, options, started.append) is job
  assert started == [job]
  with pytest.raises(ValueError, match="boom"):
    local_runner.run_and_wait(_Job(seconds=0.1, error=ValueError("boom")), options)


@pytest.mark.parametrize("options", [LOCAL, REMOTE], ids=["local", "remote"])
def test_a_stalled_job_is_stopped_and_fails_with_the_stall_message(options):
  job, t0 = _Job(), time.time()
  stalled = lambda: "no progress for 1s" if time.time() - t0 > 1.0 else None  # noqa: E731
  with pytest.raises(JobStalledError, match="no progress for 1s"):
    local_runner.run_and_wait(job, options, stalled=stalled)
  assert time.time() - t0 < 10
  # A remote job is cancelled; a local one has its worker processes stopped instead.
  assert job.cancelled == (options is REMOTE)
  job.cancel()  # let the stand-in's thread end
