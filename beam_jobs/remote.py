"""Remote runners (Dataflow, a portable job service): what the launcher checks before any
work, and how it tells a job that stopped moving from one that is slow.

Each check here answers a failure that otherwise costs minutes and says little: a job
endpoint nobody listens on (Beam waits 300 s, then says `FutureTimeoutError`), workers
that cannot import this project (they fail with `ModuleNotFoundError`, after the
launcher has planned and staged everything), a worker that died while its job service
waits for it forever, and, against a storage emulator, a credential search that backs
off for ~22 s in every process before it settles for anonymous access.
"""

from __future__ import annotations

import os
import socket

from apache_beam.options.pipeline_options import (PortableOptions, SetupOptions,
                                                  StandardOptions, WorkerOptions)

#: How long the launcher waits for a job endpoint to accept a connection.
ENDPOINT_TIMEOUT_S = 10.0
#: Environment types whose workers are started by the user, from the user's environment:
#: staged packages are not installed there, so the project must already be.
USER_STARTED_WORKERS = ("EXTERNAL", "PROCESS", "LOOPBACK")


class JobStalledError(RuntimeError):
  """No shard finished and no progress note changed for the stall time."""


def runner_name(options) -> str:
  runner = options.view_as(StandardOptions).runner or ""
  return runner if isinstance(runner, str) else type(runner).__name__


def check_job_endpoint(options, timeout_s: float = ENDPOINT_TIMEOUT_S) -> None:
  """A portable runner's job service must answer before anything is planned or staged."""
  endpoint = options.view_as(PortableOptions).job_endpoint
  if not endpoint or endpoint == "embed":
    return
  host, _, port = endpoint.rpartition(":")
  try:  # a refused connection answers at once; gRPC would retry until the time-out
    socket.create_connection((host.strip("[]") or "localhost", int(port)),
                             timeout=timeout_s).close()
  except (OSError, ValueError) as e:
    raise ConnectionError(f"the job service at --job_endpoint={endpoint} does not "
                          f"answer ({type(e).__name__}: {e}); start it or correct the "
                          "flag") from None
  import grpc
  channel = grpc.insecure_channel(endpoint)
  try:
    grpc.channel_ready_future(channel).result(timeout=timeout_s)
  except grpc.FutureTimeoutError:
    raise ConnectionError(
        f"the job service at --job_endpoint={endpoint} does not answer (waited "
        f"{timeout_s:.0f} s); start it or correct the flag") from None
  finally:
    channel.close()


def check_code_shipped(options) -> None:
  """Remote workers import this project's modules; something must bring them there.

  Dataflow installs what `--setup_file` or `--extra_package` names, or runs a container
  that has it (`--sdk_container_image`); workers the user starts (EXTERNAL, PROCESS)
  must run in an environment where it is installed. Without any of these the workers
  fail with ModuleNotFoundError after every input is listed and planned."""
  setup = options.view_as(SetupOptions)
  env = (options.view_as(PortableOptions).environment_type or "").upper()
  shipped = (setup.setup_file or setup.extra_packages or env in USER_STARTED_WORKERS
             or options.view_as(WorkerOptions).sdk_container_image
             or env == "DOCKER" and options.view_as(PortableOptions).environment_config)
  if not shipped:
    raise ValueError(
        "the workers of a remote runner cannot import this project: pass "
        "--setup_file=./setup.py (or --extra_package=DIST, or "
        "--sdk_container_image=IMAGE with it installed); with "
        "--environment_type=EXTERNAL or PROCESS, start the workers where it is installed")


def job_id(result) -> str | None:
  """The runner's id of a submitted job: Dataflow's `job_id()`, a portable runner's
  `_job_id` (it has no public accessor)."""
  get = getattr(result, "job_id", None)
  if callable(get):
    try:
      return str(get())
    except Exception:
      return None
  found = getattr(result, "_job_id", None)
  return str(found) if found else None


def cannot_import_project(error: BaseException) -> str | None:
  """The missing module's line when remote workers could not import this project."""
  for line in str(error).splitlines():
    if "ModuleNotFoundError" in line or "No module named" in line:
      return line.strip()
  return None


def anonymous_on_emulator() -> None:
  """Against a storage emulator, skip Beam's credential search in this process.

  Beam's GCS client looks for Google credentials with 4 retries and exponential
  back-off (~22 s) before it settles for an anonymous client, in the launcher and in
  every worker; an emulator accepts anonymous requests, so the anonymous client is
  what the search would end with anyway. Only with STORAGE_EMULATOR_HOST set."""
  if not os.environ.get("STORAGE_EMULATOR_HOST"):
    return
  try:
    from apache_beam.internal.gcp import auth
  except ImportError:
    return
  creds = getattr(auth, "_Credentials", None)
  if creds is not None and hasattr(creds, "_credentials_init"):
    with creds._credentials_lock:  # pylint: disable=protected-access
      if not creds._credentials_init:  # pylint: disable=protected-access
        creds._credentials, creds._credentials_init = None, True  # pylint: disable=protected-access

