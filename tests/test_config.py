"""trainer.config: flags > --config file > defaults; Vertex AI's AIP_* dirs; bad files
fail before any work with one message naming the file and the key."""

import json

import pytest

from trainer import config


def _write(tmp_path, obj, name="cfg.json"):
  path = tmp_path / name
  path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
  return str(path)


def test_file_values_apply_and_flags_win(tmp_path, monkeypatch):
  for var in ("AIP_MODEL_DIR", "AIP_CHECKPOINT_DIR", "AIP_TENSORBOARD_LOG_DIR"):
    monkeypatch.delenv(var, raising=False)
  path = _write(tmp_path, {"data": "gs://b/ds", "batch_size": 32, "temperature": 1,
                           "style_head": True, "weights": None, "loss": "supcon"})
  cfg = config.parse(["--config", path, "--job-dir", str(tmp_path / "job"),
                      "--batch_size", "16"])
  assert cfg.data == "gs://b/ds" and cfg.loss == "supcon" and cfg.style_head is True
  assert cfg.batch_size == 16  # the flag beats the file
  assert cfg.temperature == 1.0 and isinstance(cfg.temperature, float)
  assert cfg.image_size == config.Config().image_size  # untouched default
  assert cfg.checkpoint_dir == str(tmp_path / "job" / "checkpoints")
  assert cfg.argv[:2] == ["--config", path]


def test_vertex_ai_dirs_win_over_job_dir(tmp_path, monkeypatch):
  monkeypatch.setenv("AIP_MODEL_DIR", "gs://b/run/model/")
  monkeypatch.setenv("AIP_CHECKPOINT_DIR", "gs://b/run/checkpoints/")
  monkeypatch.delenv("AIP_TENSORBOARD_LOG_DIR", raising=False)
  cfg = config.parse(["--data", "d"])  # no --job-dir: derived from AIP_MODEL_DIR
  assert cfg.job_dir == "gs://b/run"
  assert cfg.model_dir == "gs://b/run/model/"
  assert cfg.checkpoint_dir == "gs://b/run/checkpoints/"
  assert cfg.tensorboard_dir == "gs://b/run/tensorboard"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{batch_size: 3", "not JSON"),
    ([1, 2], "expected a JSON object"),
    ({"batch_sise": 3}, r"unknown keys .*batch_sise"),
    ({"batch_size": "64"}, "batch_size must be int, got '64'"),
    ({"batch_size": 6.5}, "batch_size must be int"),
    ({"epochs": True}, "epochs must be int, got True"),
    ({"style_head": 1}, "style_head must be bool"),
    ({"learning_rate": "1e-3"}, "learning_rate must be float"),
])
def test_a_bad_config_file_fails_with_one_clear_message(tmp_path, content, message):
  path = str(tmp_path / "missing.json") if content is None else _write(tmp_path, content)
  with pytest.raises(SystemExit, match=message) as e:
    config.parse(["--config", path, "--data", "d", "--job-dir", str(tmp_path)])
  assert path in str(e.value)


def test_values_from_the_file_are_validated_like_flags(tmp_path):
  path = _write(tmp_path, {"loss": "triplet"})
  with pytest.raises(SystemExit, match="--loss must be one of"):
    config.parse(["--config", path, "--data", "d", "--job-dir", str(tmp_path)])
