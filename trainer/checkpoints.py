"""The encoder's configuration beside its checkpoints, and restoring that refuses to
guess.

Pretraining writes `model_config.json` into the checkpoint folder (and into the
SavedModel's assets/). Probe, compare and any later use rebuild the encoder from it, so
a flag left at its default rebuilds the pretrained architecture, and a flag that
disagrees with it is an error naming the flag: never weights silently left at random
init under the label "pretrained encoder". Restoring then requires every encoder weight
to be in the checkpoint and every checkpointed encoder weight to be used.

The checkpoint folder also keeps the logged curves (`curves.json`, rewritten at every
checkpoint), so a resumed run's metrics and report show the whole run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Optional

import tensorflow as tf

from trainer.config import Config
from trainer.model import ModelConfig, SiameseEncoder, build_model

log = logging.getLogger("trainer")

CONFIG_FILE = "model_config.json"
CURVES_FILE = "curves.json"
# Config fields that define the encoder. `weights` is left out: it only initialises a
# backbone that a checkpoint then overwrites.
MODEL_FLAGS = ("backbone", "image_size", "embedding_dim", "projection_dim", "width",
               "style_head")


class ModelConfigError(ValueError):
  """A flag disagrees with the saved model, or a checkpoint does not fit the model."""


def model_config(cfg: Config) -> ModelConfig:
  return ModelConfig(weights=cfg.weights, **{k: getattr(cfg, k) for k in MODEL_FLAGS})


def write_json(path: str, obj) -> None:
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, "w") as f:
    json.dump(obj, f, indent=2)


def read_json(path: str):
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def write_model_config(mcfg: ModelConfig, folder: str) -> str:
  path = os.path.join(folder, CONFIG_FILE)
  write_json(path, dataclasses.asdict(mcfg))
  return path


def read_model_config(folder: str) -> Optional[dict]:
  return read_json(os.path.join(folder, CONFIG_FILE))


def _differences(want: dict, saved: dict, keys) -> list[str]:
  return [k for k in keys if k in saved and want.get(k) != saved[k]]


def check_resume(mcfg: ModelConfig, checkpoint_dir: str) -> None:
  """Before resuming: the flags must describe the checkpointed encoder exactly."""
  saved = read_model_config(checkpoint_dir)
  if saved is None:
    return
  want = dataclasses.asdict(mcfg)
  keys = [k for k in want if k != "weights"]
  bad = _differences(want, saved, keys)
  if bad:
    raise ModelConfigError(
        "; ".join(f"--{k}={want[k]} disagrees with the checkpoint being resumed "
                  f"({k}={saved[k]})" for k in bad) +
        f" [{os.path.join(checkpoint_dir, CONFIG_FILE)}]: restart with the same model "
        "flags, or use another --job-dir")


def saved_model_config(cfg: Config, checkpoint_dir: str) -> ModelConfig:
  """The encoder to rebuild for a checkpoint: the saved configuration, with every
  model flag the user set (on the command line or in a config file) checked against
  it. Without a saved configuration (checkpoints from before it existed), the flags."""
  saved = read_model_config(checkpoint_dir)
  if saved is None:
    log.warning("no %s in %s: rebuilding the encoder from the flags (restore will "
                "still refuse a mismatch)", CONFIG_FILE, checkpoint_dir)
    return dataclasses.replace(model_config(cfg), weights=None)
  set_by_user = [k for k in MODEL_FLAGS if k in cfg.explicit]
  bad = _differences({k: getattr(cfg, k) for k in set_by_user}, saved, set_by_user)
  if bad:
    raise ModelConfigError(
        "; ".join(f"--{k}={getattr(cfg, k)} disagrees with the pretrained encoder "
                  f"({k}={saved[k]})" for k in bad) +
        f" [{os.path.join(checkpoint_dir, CONFIG_FILE)}]: drop the flag (the encoder "
        "is rebuilt from the saved configuration) or point --job-dir at a model "
        "trained with it")
  fields = {f.name for f in dataclasses.fields(ModelConfig)}
  return ModelConfig(**{**{k: v for k, v in saved.items() if k in fields},
                        "weights": None})


def adopt(cfg: Config, mcfg: ModelConfig) -> Config:
  """cfg with its model fields taken from mcfg (what the probe decodes and reports)."""
  return dataclasses.replace(cfg, **{k: getattr(mcfg, k) for k in MODEL_FLAGS})


def _checkpointed_encoder_weights(path: str) -> int:
  """Variables reachable from the checkpoint's "model" object (its object graph: a
  variable is stored once, under the first path that reaches it)."""
  from tensorflow.core.protobuf import trackable_object_graph_pb2
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor(
      "_CHECKPOINTABLE_OBJECT_GRAPH"))
  stack = [c.node_id for c in graph.nodes[0].children if c.local_name == "model"]
  seen, count = set(), 0
  while stack:
    n = stack.pop()
    if n in seen:
      continue
    seen.add(n)
    node = graph.nodes[n]
    count += any(a.name == "VARIABLE_VALUE" for a in node.attributes)
    stack.extend(c.node_id for c in node.children)
  return count


def check_every_weight(status, model: SiameseEncoder, path: str) -> None:
  """Every encoder weight restored, and the checkpoint holds no other encoder weight."""
  try:
    status.assert_existing_objects_matched()
  except AssertionError as e:
    raise ModelConfigError(f"checkpoint {path} lacks weights of the rebuilt encoder "
                           f"({str(e).splitlines()[0][:300]})") from None
  saved = _checkpointed_encoder_weights(path)
  if saved != len(model.variables):
    raise ModelConfigError(
        f"checkpoint {path} holds {saved} encoder weights, the rebuilt encoder "
        f"{len(model.variables)}: the checkpoint was not trained with this "
        "configuration")
  status.expect_partial()  # the optimizer's slots, when only the model is restored


def restore_encoder(mcfg: ModelConfig, checkpoint_dir: str) -> SiameseEncoder:
  """The encoder of the latest checkpoint, every weight checked."""
  path = tf.train.latest_checkpoint(checkpoint_dir)
  if not path:
    raise ModelConfigError(f"no checkpoint in {checkpoint_dir}: pretrain first "
                           "(--mode=pretrain or --mode=all)")
  model = build_model(mcfg)
  try:
    status = tf.train.Checkpoint(model=model).restore(path)
  except (ValueError, tf.errors.InvalidArgumentError) as e:  # a shape mismatch
    raise ModelConfigError(f"checkpoint {path} does not fit the encoder "
                           f"{mcfg}: {str(e).splitlines()[0][:300]}") from None
  check_every_weight(status, model, path)
  return model


def load_encoder(checkpoint_dir: str, cfg: Optional[Config] = None):
  """(encoder, ModelConfig) of a pretraining run's checkpoints, for any later use."""
  mcfg = saved_model_config(cfg or Config(), checkpoint_dir)
  return restore_encoder(mcfg, checkpoint_dir), mcfg


def save_curves(checkpoint_dir: str, curves: dict) -> None:
  write_json(os.path.join(checkpoint_dir, CURVES_FILE), curves)


def load_curves(checkpoint_dir: str, upto_step: int) -> dict:
  """The curves logged before a checkpoint at `upto_step` (a resumed run continues
  them); entries after it were logged by the killed run and are redone."""
  saved = read_json(os.path.join(checkpoint_dir, CURVES_FILE)) or {}
  return {name: [p for p in points if p["step"] <= upto_step]
          for name, points in saved.items()}
