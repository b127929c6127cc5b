"""The production path's stand-ins, on this machine: a GCS emulator, Beam's job service
and an external SDK worker pool, each a process on a free loopback port.

`Services` starts what it is asked for, waits until each accepts connections, and
stops every process it started (process groups, so their children too) on exit or when
its deadline passes, whatever the test is doing then.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

BUCKET = "rehearsal"


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, log: pathlib.Path,
                   timeout_s: float = 60.0) -> None:
  end = time.time() + timeout_s
  while time.time() < end:
    if proc.poll() is not None:
      raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
    with contextlib.suppress(OSError):
      socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
      return
    time.sleep(0.2)
  raise RuntimeError(f"{what} did not listen on port {port} in {timeout_s:.0f} s")


class Services:
  """Context manager; `env` is the environment a user would set for the emulator."""

  def __init__(self, logs: pathlib.Path, *, job_service: bool = False,
               worker_pool: bool = False, deadline_s: float = 900.0):
    self.logs = logs
    self.procs: list[subprocess.Popen] = []
    self.env = dict(os.environ)
    self._want = (job_service, worker_pool)
    self._timer = threading.Timer(deadline_s, self.stop)
    self._timer.daemon = True
    self.job_endpoint = self.worker_pool = ""

  def _start(self, name: str, cmd: list[str], port: int) -> subprocess.Popen:
    log = self.logs / f"{name}.log"
    proc = subprocess.Popen(cmd, env=self.env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    self.procs.append(proc)
    _wait_for_port(port, proc, name, log)
    return proc

  def __enter__(self) -> "Services":
    self.logs.mkdir(parents=True, exist_ok=True)
    self._timer.start()
    bindir = os.path.dirname(sys.executable)
    port = free_port()
    self.env.update({"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
                     "GOOGLE_CLOUD_PROJECT": "rehearsal", "NO_GCE_CHECK": "true",
                     # workers the pool starts run `python`: this environment's
                     "PATH": bindir + os.pathsep + self.env.get("PATH", "")})
    try:
      self._start("emulator", [sys.executable, "-m", "gcp_storage_emulator", "start",
                               "--port", str(port), "--default-bucket", BUCKET,
                               "--in-memory", "-q"], port)
      job_service, worker_pool = self._want
      if job_service:
        port = free_port()
        self._start("job_service", [
            sys.executable, "-m",
            "apache_beam.runners.portability.local_job_service_main", "--port",
            str(port)], port)
        self.job_endpoint = f"localhost:{port}"
      if worker_pool:
        port = free_port()
        self._start("worker_pool", [
            sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
            "--service_port", str(port)], port)
        self.worker_pool = f"localhost:{port}"
    except BaseException:
      self.stop()
      raise
    return self

  def portable_flags(self) -> list[str]:
    """What a user passes to run the job through the job service and the pool."""
    return ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}",
            "--environment_type=EXTERNAL", f"--environment_config={self.worker_pool}"]

  def sdk_workers(self) -> list[int]:
    """Pids of the SDK harness processes the worker pool started."""
    import psutil
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
      if any("SdkHarness" in c for c in p.info["cmdline"] or []):
        with contextlib.suppress(psutil.Error):
          if any(a.pid in {q.pid for q in self.procs} for a in p.parents()):
            found.append(p.pid)
    return found

  def stop(self) -> None:
    self._timer.cancel()
    for proc in self.procs:
      with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    for proc in self.procs:
      with contextlib.suppress(Exception):
        proc.wait(timeout=10)
    self.procs.clear()

  def __exit__(self, *exc) -> None:
    self.stop()


def _client(env: dict):
  from google.auth.credentials import AnonymousCredentials
  from google.cloud import storage as gcs
  return gcs.Client(project=env["GOOGLE_CLOUD_PROJECT"], credentials=AnonymousCredentials(),
                    client_options={"api_endpoint": env["STORAGE_EMULATOR_HOST"]})


def upload(env: dict, local: pathlib.Path, url: str) -> None:
  """Copies a local folder's files (flat) to gs:// through the emulator in `env`."""
  bucket, _, prefix = url[len("gs://"):].partition("/")
  client = _client(env)
  for path in sorted(local.iterdir()):
    if path.is_file():
      client.bucket(bucket).blob(f"{prefix}/{path.name}".lstrip("/")).upload_from_filename(
          str(path))


def listing(env: dict, url: str) -> dict[str, bytes]:
  """{name under url: bytes} of every object below a gs:// prefix."""
  bucket, _, prefix = url[len("gs://"):].partition("/")
  client = _client(env)
  prefix = prefix.rstrip("/") + "/"
  return {b.name[len(prefix):]: b.download_as_bytes()
          for b in client.list_blobs(bucket, prefix=prefix)}
