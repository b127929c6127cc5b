"""Running the graph: Beam's local runner as this job uses it, and waiting for any runner.

Without `--runner` the job runs on the FnApiRunner with one worker process per core
(it downloads nothing, unlike Beam's default Prism runner). Three things about that
runner are handled here: worker processes must share the cores (interpreter threads),
its timer-flushed data channels can drop data, and a worker process that dies while
no data is in flight leaves the runner waiting forever; the job fails instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs.remote import JobStalledError, runner_name


class WorkerDiedError(RuntimeError):
  """A local worker process exited while the job was running."""


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
  """The local default: the in-process FnApiRunner on every core (no Prism download)."""
  if not any(a.startswith("--runner") for a in beam_args):
    beam_args = list(beam_args)
    if not any(a.startswith("--direct_running_mode") for a in beam_args):
      beam_args.append("--direct_running_mode=multi_processing")
    if not any(a.startswith("--direct_num_workers") for a in beam_args):
      beam_args.append(f"--direct_num_workers={os.cpu_count() or 1}")
  return PipelineOptions(beam_args)


#: What each local worker process's model runtime is told: LiteRT interpreter threads
#: (ours), TensorFlow's op thread pools (TensorFlow reads these at start-up).
THREAD_VARIABLES = ("STYLIZE_TFLITE_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


@contextlib.contextmanager
def cores_shared_between_workers(options: PipelineOptions):
  """Local multi-process runs: each worker's model runtime gets cores // workers threads.

  W worker processes that each run the model on every core oversubscribe the CPU;
  measured on 2 cores with LiteRT, one thread per worker lifted the job from 0.73-0.77
  to 0.79-0.83 of the bare model. Worker processes inherit the launcher's environment,
  so the settings travel as environment variables for the duration of the run. A value
  the user set (the variable, or `tflite:<dir>?threads=N`) wins; remote runners are
  left alone.
  """
  if not _is_local_multi(options):
    yield
    return
  from apache_beam.options.pipeline_options import DirectOptions
  workers = max(1, options.view_as(DirectOptions).direct_num_workers or 1)
  share = str(max(1, (os.cpu_count() or 1) // workers))
  ours = [v for v in THREAD_VARIABLES if v not in os.environ]
  os.environ.update({v: share for v in ours})
  try:
    yield
  finally:
    for v in ours:
      os.environ.pop(v, None)


def _no_timed_flushes_in_local_runner() -> None:
  """Works around a race in Beam's local runner that silently drops input chunks.

  The FnApiRunner's data channels to its workers flush every 1000 ms from a timer
  thread: flush() sends get() and then _clear()s the buffer while write() takes no
  lock, so a ~10 MB chunk of a bundle's input written in between is lost (runner-side
  `TimeBasedBufferingClosableOutputStream`, Beam 2.77). Here it cost the demo 170 views
  in one of ~10 runs, with no error. With 0 the channels flush on size and on close
  only; the data sent is the same. (The launcher's accounting check still guards.)
  """
  try:
    from apache_beam.runners.portability.fn_api_runner import worker_handlers
  except ImportError:
    return
  if hasattr(worker_handlers, "DATA_BUFFER_TIME_LIMIT_MS"):
    worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0


def runner_for(options: PipelineOptions):
  from apache_beam.options.pipeline_options import StandardOptions
  _no_timed_flushes_in_local_runner()  # also for an explicit local --runner
  if options.view_as(StandardOptions).runner:
    return None
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  return FnApiRunner()


LOCAL_RUNNERS = {"", "directrunner", "fnapirunner", "prismrunner", "switchingdirectrunner",
                 "bundlebaseddirectrunner"}


def is_remote(options: PipelineOptions) -> bool:
  """True when the workers run elsewhere (Dataflow, Flink, Spark...): they cannot see
  this machine's files."""
  return runner_name(options).lower() not in LOCAL_RUNNERS


def _is_local_multi(options: PipelineOptions) -> bool:
  from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
  return (not options.view_as(StandardOptions).runner
          and options.view_as(DirectOptions).direct_running_mode == "multi_processing")


def _worker_pids() -> list[int]:
  """SDK worker processes descending from this one (Linux /proc; [] elsewhere)."""
  parent, cmd = {}, {}
  for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
    if entry.isdigit():
      try:
        with open(f"/proc/{entry}/stat") as f:
          parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{entry}/cmdline", "rb") as f:
          cmd[int(entry)] = f.read()
      except (OSError, ValueError, IndexError):
        continue

  def ours(pid: int) -> bool:
    while pid in parent and pid > 1:
      pid = parent[pid]
      if pid == os.getpid():
        return True
    return False

  return [pid for pid, c in cmd.items() if b"sdk_worker_main" in c and ours(pid)]


class _DeathWatch:
  """While open, notes a local worker's death: the runner's thread that started the
  worker raises when it exits. `abandon()` is for a runner given up on: its threads
  keep failing for a while, so from then on their exceptions go to the log at DEBUG."""

  def __init__(self):
    self.died = threading.Event()
    self.why: list[str] = []
    self._previous = threading.excepthook
    self._abandoned = False

  def _hook(self, args):
    if args.thread is not None and args.thread.name == "run_worker":
      self.why.append(str(args.exc_value))
      logging.error("local worker: %s", args.exc_value)  # to the log, not the console
      self.died.set()
      return
    self._previous(args)

  def __enter__(self) -> "_DeathWatch":
    threading.excepthook = self._hook
    return self

  def abandon(self) -> None:
    for t in threading.enumerate():  # the killed workers' threads report to _hook
      if t.name == "run_worker":
        t.join(timeout=5.0)
    self._abandoned = True
    threading.excepthook = lambda args: logging.debug(
        "after a worker died: %s: %s", args.exc_type.__name__, args.exc_value)

  def __exit__(self, *exc) -> None:
    if not self._abandoned:
      threading.excepthook = self._previous


def _kill_workers() -> None:
  for pid in _worker_pids():
    with contextlib.suppress(OSError):
      os.kill(pid, 9)


def _wait_polling(name: str, work, check, stop):
  """Runs `work()` in a daemon thread named `name` and returns its result, polling
  twice a second: `check(thread)` returns an error when the job must stop (a stall, a
  dead worker), which is raised after `stop(error)`. Ctrl-C calls `stop(None)`. The
  thread's own error is re-raised here, in the caller's thread."""
  box: dict = {}

  def target():
    try:
      box["result"] = work()
    except BaseException as e:  # re-raised in the caller's thread
      box["error"] = e

  thread = threading.Thread(target=target, name=name, daemon=True)
  try:
    thread.start()
    while thread.is_alive():
      thread.join(timeout=0.5)
      error = check(thread) if thread.is_alive() else None
      if error is not None:
        stop(error)
        raise error
  except KeyboardInterrupt:
    stop(None)
    raise
  if "error" in box:
    raise box["error"]
  return box["result"]


def _wait_remote(p, on_started, stalled):
  """A remote runner returns once the job is submitted; its wait runs in a thread so
  that this one can cancel a stalled job (Beam's own wait has no such exit)."""
  result = p.run()
  if on_started:
    on_started(result)

  def check(_):
    why = stalled() if stalled else None
    return JobStalledError(why) if why else None

  def cancel(_):
    with contextlib.suppress(Exception):
      result.cancel()

  _wait_polling("wait-for-job", result.wait_until_finish, check, cancel)
  return result


def run_and_wait(p, options: PipelineOptions, on_started=None, stalled=None):
  """p.run() and wait for the result; a local worker's death or a stall fails the run.

  The FnApiRunner notices a dead worker only if data was in flight to it; otherwise it
  waits for the lost bundle forever. So the run happens in a thread while this one
  watches for a worker's death; then the surviving workers are stopped and the run
  fails with the worker's exit code (Ctrl-C stops them too). `on_started(result)` runs
  once the job is submitted (a remote runner returns at once, the local one when done).
  `stalled()` is polled on any runner: a message means the job has stopped moving, and
  it is cancelled (remote) or its workers stopped (local) and the run fails with it.
  Ctrl-C on a remote job cancels it, which Beam itself does not do.
  """
  if not _is_local_multi(options):
    return _wait_remote(p, on_started, stalled)

  def run():
    result = p.run()
    result.wait_until_finish()
    return result

  with _DeathWatch() as watch:

    def check(runner):
      why = stalled() if stalled else None
      if watch.died.is_set():
        runner.join(timeout=5.0)  # the runner may still notice and fail by itself
        if not runner.is_alive():
          return None
        why = (f"a worker process died ({watch.why[0]}); the local runner cannot "
               "redo its work")
      if not why:
        return None
      return WorkerDiedError(why) if watch.died.is_set() else JobStalledError(why)

    def stop(error):  # on Ctrl-C too: else the workers finish their bundles on their own
      _kill_workers()
      if error is not None:
        watch.abandon()

    result = _wait_polling("pipeline", run, check, stop)
  if on_started:
    on_started(result)
  return result
