"""The stylize job's Beam graph: style states once per style, then one task per shard.

    styles manifest --SpreadStyles--> StyleStep --+--> style ids --> StylePools (side input)
                                                  +--> style entries + small states (side input)
    shard tasks --BalanceShards--> RenderShards (reads its contents, writes its file)

Only small things cross a shuffle or reach a side input: style manifest entries, style
ids and small states, shard tasks. Decoded pixels never leave the worker that rendered
them, so the local runner's memory (which holds whatever crosses a GroupByKey) and a
Dataflow job's shuffle stay flat however many contents there are. Each crossing is
metered (`shuffle_bytes` and `side_input_bytes` counters) so the benchmark can show it.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.coders import FastPrimitivesCoder
from apache_beam.utils import shared

from beam_jobs import staging as stg
from beam_jobs import transforms as T
from pipeline import manifest, plan

#: Counters of the bytes that cross a shuffle or reach a side input (in the metadata's
#: `counters`; benchmarks/stylize_scale.py reads them by these names).
SHUFFLE_BYTES = "shuffle_bytes"
SIDE_INPUT_BYTES = "side_input_bytes"


class _Meter(beam.DoFn):
  """Counts the encoded size of the elements passing by into a counter."""

  def __init__(self, name: str):
    self._name = name

  def setup(self):
    self._coder = FastPrimitivesCoder()

  def process(self, element):
    T.count(self._name, len(self._coder.encode(element)))
    yield element


def _metered(label: str, name: str) -> beam.ParDo:
  return label >> beam.ParDo(_Meter(name))


class ComputeStyleStates(beam.PTransform):
  """styles manifest -> (style_id, {"style", "state"}) for every usable style."""

  def __init__(self, spec: str, handle: shared.Shared, staging: str, max_pixels: int):
    super().__init__()
    self._spec, self._handle = spec, handle
    self._staging, self._max_pixels = staging, max_pixels

  def expand(self, pbegin):
    return (pbegin
            # Our code reads the manifest, not Beam's text source: a worker then
            # loads this project's code before its first gs:// access (remote.py).
            | "StyleManifest" >> beam.Create(
                [stg.manifest_path(self._staging, "styles")], reshuffle=False)
            | "ReadStyles" >> beam.FlatMap(manifest.read_rows)
            | _metered("MeterStyles", SHUFFLE_BYTES)
            | "SpreadStyles" >> beam.Reshuffle()
            | "StyleStep" >> beam.ParDo(T.StyleStepFn(
                self._spec, self._handle, self._staging, self._max_pixels)))


class StylePools(beam.PTransform):
  """Usable style ids -> per split, the seeded style order the plan deals from."""

  def __init__(self, seed: int, holdout_fraction: float):
    super().__init__()
    self._seed, self._holdout = seed, holdout_fraction

  def expand(self, states):
    return (states
            | "StyleIds" >> beam.Keys()
            | _metered("MeterStyleIds", SHUFFLE_BYTES)
            | "CollectStyleIds" >> beam.combiners.ToList()
            | "Pools" >> beam.Map(plan.style_pools, self._seed, self._holdout)
            | _metered("MeterPools", SIDE_INPUT_BYTES))


class RenderShards(beam.PTransform):
  """Shard tasks -> shard stats; each task writes its shard file into staging.

  Tasks arrive largest first and are keyed by position, so the local runner (which
  deals a GroupByKey's keys round-robin to its workers) balances them across workers;
  on Dataflow the keys simply spread the tasks.
  """

  def __init__(self, fn: T.RenderShardFn, pools, styles):
    super().__init__()
    self._fn, self._pools, self._styles = fn, pools, styles

  def expand(self, tasks):
    return (tasks
            | "KeyByPosition" >> beam.Map(lambda t: (t["position"], t))
            | _metered("MeterTasks", SHUFFLE_BYTES)
            | "BalanceShards" >> beam.GroupByKey()
            | "Tasks" >> beam.FlatMap(lambda kv: kv[1])
            | "RenderShard" >> beam.ParDo(self._fn, beam.pvalue.AsSingleton(self._pools),
                                          beam.pvalue.AsDict(self._styles)))


def build_pipeline(p: beam.Pipeline, prep, tasks: list[dict],
                   lock_token: str | None = None) -> None:
  """The graph for the shards still to do (`tasks`); inputs are the launch manifests.
  Shard tasks publish only while the job's lock holds `lock_token`."""
  a = prep.args
  handle = shared.Shared()  # one model per worker process, for both steps
  states = p | "StyleStates" >> ComputeStyleStates(a.stylizer, handle, prep.staging,
                                                  a.max_pixels)
  pools = states | "StylePools" >> StylePools(a.seed, a.holdout_style_fraction)
  styles = states | _metered("MeterStyleStates", SIDE_INPUT_BYTES)
  fn = T.RenderShardFn(a.stylizer, handle, prep.staging, a.dataset_name,
                       prep.render_config, prep.record_format, lock_token)
  _ = (p
       | "ShardTasks" >> beam.Create(tasks, reshuffle=False)
       | "RenderShards" >> RenderShards(fn, pools, styles))
