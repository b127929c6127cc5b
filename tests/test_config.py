"""trainer.config: flags > --config file > defaults; Vertex AI's AIP_* dirs; bad files
fail before any work with one message naming the file and the key."""

import json

import pytest

from trainer import config, config_files
from trainer.choices import ConfigError


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
  with pytest.raises(ConfigError, match=message) as e:
    config.parse(["--config", path, "--data", "d", "--job-dir", str(tmp_path)])
  assert path in str(e.value)


def test_values_from_the_file_are_validated_like_flags(tmp_path):
  path = _write(tmp_path, {"loss": "triplet"})
  with pytest.raises(ConfigError, match="--loss must be one of"):
    config.parse(["--config", path, "--data", "d", "--job-dir", str(tmp_path)])


def test_a_recipe_by_name_and_flags_override_single_keys(tmp_path, monkeypatch):
  for var in ("AIP_MODEL_DIR", "AIP_CHECKPOINT_DIR", "AIP_TENSORBOARD_LOG_DIR"):
    monkeypatch.delenv(var, raising=False)
  cfg = config.parse(["--config=demo", "--max_steps=7", f"--job-dir={tmp_path}"])
  recipe = config_files.load_recipe(config_files.resolve("demo"))[0]
  assert cfg.max_steps == 7 and recipe["max_steps"] != 7  # the flag wins
  assert (cfg.width, cfg.image_size, cfg.batch_size) == (
      recipe["width"], recipe["image_size"], recipe["batch_size"])
  assert cfg.data == recipe["data"] and cfg.job_dir == str(tmp_path)
  # Keys from the recipe count as set by the user (the probe checks them).
  assert {"width", "image_size", "max_steps", "job_dir"} <= set(cfg.explicit)
  assert "style_head" not in cfg.explicit


@pytest.mark.parametrize("name", config_files.available())
def test_every_recipe_parses_and_says_command_runtime_and_result(name, tmp_path):
  settings, doc = config_files.load_recipe(config_files.resolve(name))
  cfg = config.parse([f"--config={name}", "--data=d", f"--job-dir={tmp_path}"])
  for key, value in settings.items():
    if key not in ("data", "job_dir"):
      assert getattr(cfg, key) == value, key
  assert f"--config={name}" in doc
  assert "xpected" in doc  # "Expected ..." runtime and result
  accelerator = cfg.backbone == "resnet50"
  assert ("UNMEASURED" in doc) == accelerator  # measured on CPU, or says it is not
  assert "TO BE MEASURED" not in doc


def test_a_recipe_file_by_path_and_bad_recipes(tmp_path):
  path = tmp_path / "mine.py"
  path.write_text('"""Mine."""\n\ndef get_config():\n  return {"batch_size": 16}\n')
  cfg = config.parse([f"--config={path}", "--data=d", f"--job-dir={tmp_path}"])
  assert cfg.batch_size == 16
  with pytest.raises(ConfigError, match="no such recipe .*demo"):
    config.parse(["--config=dmeo", "--data=d", f"--job-dir={tmp_path}"])
  (tmp_path / "typo.py").write_text("def get_config():\n  return {'batch_sise': 3}\n")
  with pytest.raises(ConfigError, match=r"unknown keys in .*typo.py: \['batch_sise'\]"):
    config.parse([f"--config={tmp_path / 'typo.py'}", "--data=d", f"--job-dir={tmp_path}"])
  (tmp_path / "none.py").write_text("X = 1\n")
  with pytest.raises(ConfigError, match="defines no get_config"):
    config.parse([f"--config={tmp_path / 'none.py'}", "--data=d", f"--job-dir={tmp_path}"])


def test_deterministic_flag_is_tri_state(tmp_path):
  base = ["--data=d", f"--job-dir={tmp_path}"]
  assert config.parse(base).deterministic is None  # auto: on without GPU/TPU
  assert config.parse(base + ["--deterministic"]).deterministic is True
  assert config.parse(base + ["--no-deterministic"]).deterministic is False


def test_warmup_and_monitor_flags_are_checked(tmp_path):
  base = ["--data=d", f"--job-dir={tmp_path}"]
  with pytest.raises(ConfigError, match="--warmup_steps must be < --max_steps"):
    config.parse(base + ["--max_steps=10", "--warmup_steps=10"])
  with pytest.raises(ConfigError, match="--monitor_every must be >= 0"):
    config.parse(base + ["--monitor_every=-1"])
  assert config.parse(base + ["--monitor_every=0"]).monitor_every == 0


def test_supervised_regime_and_style_probability_flags_are_checked(tmp_path):
  base = ["--data=d", f"--job-dir={tmp_path}"]
  for bad, message in [
      (["--style_probability=0.5"], "--style_probability needs --pair_mode=augment"),
      (["--pair_mode=augment", "--style_probability=1.5"], "must be in \\[0, 1\\]"),
      (["--mode=supervised", "--train_views=stylized"], "--train_views must be"),
      (["--scarce_fraction=0"], "must be in \\(0, 1\\]"),
      (["--imbalance_fraction=1.2"], "must be in \\(0, 1\\]"),
      (["--label=style"], "--label must be"),
      (["--label=content_primary_label"], "renamed in record schema v3: use "
       "view_primary_label"),
  ]:
    with pytest.raises(ConfigError, match=message):
      config.parse(base + bad)
  cfg = config.parse(base + ["--mode=supervised", "--train_views=originals",
                             "--imbalance_fraction=0.2", "--imbalance_classes=a,b"])
  assert (cfg.mode, cfg.train_views, cfg.imbalance_fraction, cfg.imbalance_classes) == \
      ("supervised", "originals", 0.2, "a,b")
  cfg = config.parse(base + ["--pair_mode=augment", "--style_probability=0.25"])
  assert cfg.style_probability == 0.25


def test_every_flag_says_what_it_does_and_its_default():
  parser = config.build_parser()
  helps = {a.dest: a.help for a in parser._actions if a.dest != "help"}
  for dest, text in helps.items():
    assert text and len(text) > 15, f"{dest}: no help"
    assert "default" in text, f"{dest}: no default in {text!r}"
  assert set(helps) == set(config._HELP) | {"config"}  # every Config flag, and --config
  shown = {"epochs": "10", "learning_rate": "0.001", "image_size": "96", "seed": "0",
           "split": "train", "augment": "on", "style_head": "off", "weights": "none",
           "mode": "pretrain", "batch_size": "64"}
  for dest, value in shown.items():
    assert helps[dest].endswith(f"(default: {value})"), (dest, helps[dest])
  text = parser.format_help()
  for recipe in config_files.available():  # the recipes, and what runs without one
    assert recipe in text
  assert "Without --config every setting has the default shown" in text


def test_the_jobs_batch_size_is_counted_in_views():
  from beam_jobs import flags
  action = next(a for a in flags.build_parser()._actions if a.dest == "batch_size")
  assert action.help.startswith("stylized views per stylizer call")
