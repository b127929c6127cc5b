"""Training recipes, one file each: `python -m trainer.task --config=NAME`.

Each module defines `get_config() -> dict` (keys are the trainer's flag names with _)
and says in its docstring the command, the expected runtime and the expected result,
as a run printed it. Flags given beside `--config` override single keys.
"""
