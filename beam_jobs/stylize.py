"""Dataset job: content images x style images -> stylized, versioned, sharded TFRecords.

Local (both cores, downloads nothing; ~1 min for 16 contents x K=2 with `classical`):

  python -m beam_jobs.stylize --content=photos/ --styles=paintings/ \\
      --stylizer=tflite:../shared/models/magenta_v1_256_tflite \\
      --styles_per_content=4 --output=out/stylized --seed=0

Dataflow (any flag this parser does not know goes to Beam's PipelineOptions):

  python -m beam_jobs.stylize --content=gs://b/coco/train2017 --styles=gs://b/wikiart \\
      --stylizer=hub --styles_per_content=4 --output=gs://b/stylized \\
      --runner=DataflowRunner --project=P --region=R --temp_location=gs://b/tmp \\
      --setup_file=./setup.py

The phases: `launch` (list inputs, plan every content into a shard, write manifests),
`graph` (style step once per style; one worker task per output shard), `finish` (check
every planned view is written or dead-lettered, write metadata and card, publish). A
killed or failed run leaves `OUTPUT.incomplete/`; the same command resumes it.

Output (readable with `tfds.builder_from_directory(OUTPUT)`): per split
`NAME-SPLIT.tfrecord-XXXXX-of-YYYYY`, and a folder that describes itself: SCHEMA.md
(fields, rules, reading recipes), index.parquet (one row per record), croissant.json,
DATASET_CARD.md, dataset_info.json, features.json, stylized_metadata.json and
dead_letter.jsonl (one line per input that failed, with its reason).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # workers inherit it; keeps logs legible
# Beam warns on import, on the root logger, that optional BigQuery clients are missing.
logging.getLogger().addFilter(lambda r: "apitools not found" not in r.getMessage())

import apache_beam as beam  # pylint: disable=g-import-not-at-top
from apache_beam.metrics.metric import MetricsFilter

from beam_jobs import console, finish, flags, graph, launch, local_runner, remote
from beam_jobs import output as out
from beam_jobs import staging as stg
from beam_jobs import transforms as T
from beam_jobs.lock import JobLockedError, Lock
import tfrecords_schema as schema

# Kept importable from here: tests and scripts use them by these names.
build_parser = flags.build_parser
UnaccountedViewsError = finish.UnaccountedViewsError


def _counters(result) -> dict[str, int]:
  try:
    found = result.metrics().query(MetricsFilter().with_namespace(T.NAMESPACE))
  except Exception:  # some runners cannot report metrics
    return {}
  totals: dict[str, int] = {}
  for c in found["counters"]:
    value = c.committed if c.committed is not None else c.attempted
    totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + int(value or 0)
  return totals


def _render(prep, tasks, options, con, done, test_pipeline, lock, stall_s) -> dict:
  """Runs the graph for the shards still to do, under the progress bar; a job that
  makes no progress for `stall_s` seconds (0: never) is stopped and fails."""
  p = test_pipeline or beam.Pipeline(runner=local_runner.runner_for(options),
                                     options=options)
  graph.build_pipeline(p, prep, tasks, lock_token=lock.token)
  runner = remote.runner_name(options) or "local runner"
  job: dict = {}

  def started(result):  # for whoever finds the lock, and for the stall message
    job["id"] = remote.job_id(result)
    if job["id"]:
      lock.note(job_id=job["id"], runner=runner)

  def stalled():
    idle = progress.idle_s()
    if not stall_s or idle < stall_s:
      return None
    return (f"no progress for {console.elapsed(idle)} (--stall_timeout={stall_s:g}: no "
            f"style step or shard finished, no progress note changed) in "
            f"{runner + ' job ' + job['id'] if job.get('id') else 'the ' + runner}; "
            "stopped it")

  every = 10.0 if local_runner.is_remote(options) and not test_pipeline else 2.0
  if stall_s:  # the stall is seen within a quarter of its time
    every = min(every, max(stall_s / 4, 0.5))
  with local_runner.cores_shared_between_workers(options), console.Progress(
      con, prep.staging, len(prep.tasks), prep.planned_views, done,
      every=every) as progress:
    result = local_runner.run_and_wait(p, options, started, stalled)
  return _counters(result)


def _first_line(e: BaseException) -> str:
  return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def _acquire(lock: Lock, staging: str, con) -> None:
  try:
    lock.acquire()
  except JobLockedError as e:
    raise flags.UsageError(str(e)) from e
  except Exception as e:  # unwritable or mistyped --output, no bucket permission
    raise flags.UsageError(f"cannot write the staging folder {staging} beside --output: "
                           f"{_first_line(e)}")
  if lock.taken_over:
    held = lock.taken_over
    con.say(f"stylize: took over the lock of a job that is no longer running (pid "
            f"{held.get('pid')} on {held.get('host')}, started {held.get('started')})"
            + (f"; if its {held.get('runner', 'Dataflow')} job {held['job_id']} still "
               "runs, cancel it: its shards will not be used" if held.get("job_id")
               else ""))


def _check_runner(args, options) -> None:
  """A remote run's paths, code shipping and job endpoint, before any work."""
  flags.check_paths_for_runner(args, local_runner.is_remote(options))
  if not local_runner.is_remote(options):
    return
  try:
    remote.check_code_shipped(options)
    remote.check_job_endpoint(options)
  except (ValueError, ConnectionError) as e:
    raise flags.UsageError(str(e)) from e


def _failed(e: BaseException, args, staging: str, kept: int, total: int) -> str:
  missing = remote.cannot_import_project(e)
  if missing:  # rerunning cannot help: the workers lack the code
    return (f"stylize: the workers cannot import this project ({missing}); ship it "
            "with --setup_file=./setup.py (or run them where it is installed), then "
            f"rerun: {kept} of {total} shards are kept in {staging}")
  return (f"stylize: the job failed ({_first_line(e)}); nothing was written to "
          f"{args.output}. {kept} of {total} shards are finished in {staging}: rerun "
          "the same command to resume")


def _run(args, fractions, options, argv, test_pipeline, con):
  staging = stg.staging_dir(args.output)
  if test_pipeline:
    flags.check_paths_for_runner(args, local_runner.is_remote(options))
  else:
    _check_runner(args, options)
  lock = Lock(stg.lock_path(staging))
  started, prep, done = time.time(), None, {}
  try:
    _acquire(lock, staging, con)
    prep = launch.prepare(args, fractions)
    done, changed = stg.resume_or_start_over(staging, launch.plan_summary(prep))
    if changed:
      con.say(f"stylize: {staging} held an unfinished job with another plan (changed: "
              f"{', '.join(changed)}); starting over")
    stg.remove_leftovers(staging)
    tasks = [t for t in prep.tasks if stg.shard_key(t["split"], t["shard"]) not in done]
    con.say(f"stylize: {len(prep.contents):,} contents x {prep.views_per_content} views "
            f"= {prep.planned_views:,} views in {len(prep.tasks)} shards; "
            f"{len(prep.styles):,} styles; stylizer {prep.stylizer.version}"
            + (f"; resuming: {len(done)} shards already done in {staging}" if done
               else ""))
    launch.write_manifests(prep, tasks)
    planned = time.time()
    counters = (_render(prep, tasks, options, con, done, test_pipeline, lock,
                        args.stall_timeout) if tasks else {})
    rendered = time.time()
    timings = {"launch": round(planned - started, 2),
               "pipeline": round(rendered - planned, 2), "shards_resumed": len(done)}
    # The lock stays in place until the output is committed; its heartbeat stops
    # first, so nothing writes it back into the folder being published.
    summary = finish.publish(prep, counters, argv, before_commit=lock.stop,
                             timings=timings)
  except BaseException as e:
    lock.release()
    if prep is None:  # failed before planning: nothing of ours to keep
      if out.existing_files(staging) == []:
        out.delete_tree(staging)
      if not isinstance(e, (flags.UsageError, SystemExit, KeyboardInterrupt)):
        logging.error("the job failed before planning", exc_info=True)
        con.say(f"stylize: the job failed before any work ({_first_line(e)})")
      raise
    if isinstance(e, finish.NothingToPublishError):  # the input, not the run: one line
      con.say(f"stylize: error: {e}; nothing was published to {args.output}; fix the "
              "input and run the same command again")
      raise
    kept = len(stg.finished_shards(staging)) if out.existing_files(staging) else 0
    logging.error("the job failed", exc_info=True)
    con.say(_failed(e, args, staging, kept, len(prep.tasks)))
    raise
  lock.release()
  summary["seconds"] = time.time() - started
  summary["shards_resumed"] = len(done)
  return summary


@contextlib.contextmanager
def _exits():
  """The entry point's exits for errors already said in one line: a wrong flag, path
  or input (flags.UsageError, before any work) exits with `error: MESSAGE`; a run with
  nothing to publish (said by `_run`) with status 1."""
  try:
    yield
  except flags.UsageError as e:
    raise SystemExit(f"error: {e}") from e
  except finish.NothingToPublishError as e:
    raise SystemExit(1) from e


def run(argv=None, test_pipeline=None) -> dict:
  """Runs the job; returns its summary (splits, dead letters, counters, seconds)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  args, beam_args = flags.build_parser().parse_known_args(argv)
  with _exits():
    fractions = flags.validate_args(args)
  options = local_runner.pipeline_options(beam_args)
  with console.Console(args.verbose) as con:
    with _exits():  # inside the console: these errors have no log to show
      summary = _run(args, fractions, options, argv, test_pipeline, con)
    c, splits = summary["counters"], summary["splits"]
    records = sum(v["records"] for v in splits.values())
    per_split = ", ".join(f"{k}: {v['records']:,}" for k, v in splits.items())
    con.result(f"wrote {records:,} records ({per_split}) to {args.output} in "
               f"{console.elapsed(summary['seconds'])}; {summary['dead_letters']} inputs "
               f"dead-lettered (see {schema.DEAD_LETTER_FILENAME}); contents read "
               f"{c.get('contents_read', 0):,}, style steps "
               f"{c.get('style_step_calls', 0)}"
               + (f", {summary['shards_resumed']} shards kept from an earlier run"
                  if summary["shards_resumed"] else ""))
  return summary


def main():
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
  if "--verbose" not in sys.argv[1:]:  # --verbose: everything Beam and the workers say
    for noisy in ("apache_beam", "absl", "tensorflow"):
      logging.getLogger(noisy).setLevel(logging.WARNING)
  try:
    run()
  except KeyboardInterrupt:  # said in one line; the same command resumes
    sys.stderr.flush()
    os._exit(130)
  except Exception:  # already said in one line, with the traceback in the log
    if "--verbose" in sys.argv:
      raise
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # now: a failed local runner's leftover threads have nothing to add


if __name__ == "__main__":
  main()
