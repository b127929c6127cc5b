"""tf.distribute plumbing: choosing the strategy, naming it, and who writes outputs.

The trainer uses one custom loop under every strategy (see trainer.train for why), so
the same code runs on CPU, one or several GPUs, several workers and TPU.
"""

from __future__ import annotations

import json
import os
import tempfile

import tensorflow as tf


def make_strategy(choice: str, tpu: str = "") -> tf.distribute.Strategy:
  """TPU with --tpu; multi-worker with a TF_CONFIG cluster; mirrored with >1 GPU."""
  if choice == "auto":
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    workers = sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))
    choice = ("tpu" if tpu else "multiworker" if workers > 1 else
              "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else
              "default")
  if choice == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if choice == "multiworker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if choice == "mirrored":
    return tf.distribute.MirroredStrategy()
  return tf.distribute.get_strategy()


def strategy_name(strategy) -> str:
  """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduce...)."""
  for cls, name in ((tf.distribute.TPUStrategy, "TPUStrategy"),
                    (tf.distribute.MultiWorkerMirroredStrategy,
                     "MultiWorkerMirroredStrategy"),
                    (tf.distribute.MirroredStrategy, "MirroredStrategy")):
    if isinstance(strategy, cls):
      return name
  return "default"


def on_accelerator(strategy) -> bool:
  """True for TPU or when any GPU is visible: op determinism is then opt-in."""
  return (isinstance(strategy, tf.distribute.TPUStrategy)
          or bool(tf.config.list_physical_devices("GPU")))


def is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(strategy,
                                        tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                  "chief" not in resolver.cluster_spec().as_dict())


def worker_dir(path: str, strategy, chief: bool) -> str:
  """Non-chief workers must save too (collectives), but into a throwaway folder."""
  if chief:
    return path
  resolver = strategy.cluster_resolver
  return os.path.join(tempfile.gettempdir(),
                      f"worker_{resolver.task_type}_{resolver.task_id}",
                      os.path.basename(path.rstrip("/")))
