"""Recipes as files, big_vision-style: `--config=NAME` loads trainer/configs/NAME.py,
`--config=PATH` a .py or .json file (local or gs://); flags then override single keys.

A .py recipe defines `get_config() -> dict` (keys are the flag names with _) and a
docstring giving the command, the expected runtime and the expected result, so a
recipe and what it should print live in one place. A .json file is the same dict.
Every key, type and choice (trainer.choices) is checked here, before TensorFlow starts
(for a local file; a gs:// file is read through TensorFlow's filesystem),
so a typo fails with one message naming the file and the key instead of after an hour
of training. Errors are choices.ConfigError: trainer.task, the entry point, exits.
"""

from __future__ import annotations

import json
import os
import types

from trainer import choices

CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,),
          "Optional[str]": (str, type(None)), "Optional[bool]": (bool, type(None))}


def available() -> list[str]:
  return sorted(f[:-3] for f in os.listdir(CONFIGS_DIR)
                if f.endswith(".py") and not f.startswith("_"))


def resolve(name_or_path: str) -> str:
  """A recipe name (no slash, no extension) -> its file; a path is returned as is."""
  if os.sep not in name_or_path and "/" not in name_or_path and \
      not name_or_path.endswith((".py", ".json")):
    path = os.path.join(CONFIGS_DIR, name_or_path + ".py")
    if not os.path.exists(path):
      raise choices.ConfigError(f"--config {name_or_path}: no such recipe (recipes: "
                                f"{', '.join(available())}; or give a .py/.json path)")
    return path
  return name_or_path


def _read_text(path: str) -> str:
  if "://" not in path:
    if not os.path.exists(path):
      raise choices.ConfigError(f"--config {path}: no such file")
    with open(path) as f:
      return f.read()
  import tensorflow as tf  # tf.io.gfile: the same code reads gs:// on Vertex AI
  try:
    with tf.io.gfile.GFile(path) as f:
      return f.read()
  except tf.errors.NotFoundError:
    raise choices.ConfigError(f"--config {path}: no such file") from None


def load_recipe(path: str) -> tuple[dict, str]:
  """(settings, docstring) of a .py recipe."""
  module = types.ModuleType("trainer_recipe")
  module.__file__ = path
  try:
    exec(compile(_read_text(path), path, "exec"), module.__dict__)  # noqa: S102
  except choices.ConfigError:
    raise
  except Exception as e:  # a broken recipe: one message naming it
    raise choices.ConfigError(f"--config {path}: {type(e).__name__}: {e}") from None
  if not callable(getattr(module, "get_config", None)):
    raise choices.ConfigError(f"--config {path}: defines no get_config()")
  return module.get_config(), module.__doc__ or ""


def read(name_or_path: str, fields: dict) -> dict:
  """The settings of a recipe or file, every key and type checked against `fields`
  (name -> type name, as in Config's annotations)."""
  path = resolve(name_or_path)
  if path.endswith(".py"):
    settings, _ = load_recipe(path)
  else:
    try:
      settings = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
      raise choices.ConfigError(f"--config {path}: not JSON ({e})") from None
  if not isinstance(settings, dict):
    raise choices.ConfigError(f"--config {path}: expected a JSON object of settings"
                              if not path.endswith(".py") else
                              f"--config {path}: get_config() must return a dict")
  unknown = set(settings) - set(fields)
  if unknown:
    raise choices.ConfigError(f"unknown keys in {path}: {sorted(unknown)} "
                              "(keys are the flag names with _, e.g. batch_size)")
  for key, value in settings.items():
    allowed = _TYPES[fields[key]]
    if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
      raise choices.ConfigError(f"{path}: {key} must be {fields[key]}, got {value!r}")
    problem = choices.problem(key, value)
    if problem:
      raise choices.ConfigError(f"{path}: {problem}")
  return {k: float(v) if fields[k] == "float" else v for k, v in settings.items()}
