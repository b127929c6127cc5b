"""Faults injected into the job's own processes: the launcher and every Beam worker.

A monkeypatch cannot cross into worker processes, but they inherit the environment, so
a `sitecustomize.py` on PYTHONPATH runs in each of them. `hook_env` writes one that
calls `patch(module)` right after MODULE is first imported, when `$when_env` is set.
"""

from __future__ import annotations

import os
import pathlib

_FINDER = '''\
import importlib.abc, importlib.util, os, signal, sys


class _Patch(importlib.abc.MetaPathFinder):
  """Runs patch(module) right after `module_name` is imported."""

  def __init__(self, module_name, patch):
    self._name, self._patch = module_name, patch

  def find_spec(self, name, path, target=None):
    if name != self._name:
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(name)
    load = spec.loader.exec_module

    def exec_module(module):
      load(module)
      self._patch(module)

    spec.loader.exec_module = exec_module
    return spec

'''


def hook_env(folder: pathlib.Path, module: str, patch_source: str, when_env: str,
             **env) -> dict:
  """os.environ plus `env`, with a sitecustomize.py in `folder` on PYTHONPATH that
  applies `patch_source` (which defines `patch(module)`) to `module`."""
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "sitecustomize.py").write_text(
      _FINDER + patch_source + f"\n\nif os.environ.get({when_env!r}):\n"
      f"  sys.meta_path.insert(0, _Patch({module!r}, patch))\n")
  path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
  return dict(os.environ, PYTHONPATH=path, **env)
