"""Shared fixtures. Tests that need ../shared (real model, real photos) skip without it."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("STYLIZED_SHARED_DIR", ROOT.parent / "shared"))


def _need(path: pathlib.Path) -> pathlib.Path:
  if not path.exists():
    pytest.skip(f"needs {path} (the project's ../shared data); absent on this machine")
  return path


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
  return _need(SHARED)


@pytest.fixture(scope="session")
def magenta_tflite_dir() -> pathlib.Path:
  return _need(SHARED / "models" / "magenta_v1_256_tflite")


@pytest.fixture(scope="session")
def coco_images_dir() -> pathlib.Path:
  return _need(SHARED / "data" / "coco256" / "images")


@pytest.fixture(scope="session")
def paintings_dir() -> pathlib.Path:
  return _need(SHARED / "data" / "paintings_aic" / "images")
