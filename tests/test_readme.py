"""README.md stays true to the code: every flag its commands and the job's flag table
name exists in the `--help` of the program it is given to (Beam's own options for the
dataset job count too: the job passes unknown flags to PipelineOptions)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Program (as in `python -m PROGRAM`) -> a function giving its --help text.
PROGRAMS = ("beam_jobs.stylize", "trainer.task", "trainer.compare",
            "pipeline.stylizers.magenta_tf export", "tfrecords_schema.validate")
#: The training section's prose names the trainer's and trainer.compare's flags, and
#: the dataset job's that make the data it needs (`--include_original`).
TRAINING = "the training section"


def _commands() -> list[str]:
  """Commands in code blocks (continuation lines joined) and in `inline code`."""
  blocks = re.findall(r"```(?:bash)?\n(.*?)```", README, re.S)
  lines = []
  for block in blocks:
    lines += block.replace("\\\n", " ").splitlines()
  prose = re.sub(r"```.*?```", "", README, flags=re.S).replace("\n", " ")
  inline = re.findall(r"`([^`]*python -m [^`]*)`", prose)
  return [c for c in lines + inline if "-m " in c]


def _flags_by_program() -> dict[str, set[str]]:
  found: dict[str, set[str]] = {}
  for command in _commands():
    for program in PROGRAMS:
      if f"-m {program}" in command:
        tail = re.split(r"&&|;|\|", command.split(f"-m {program}", 1)[1])[0]
        found.setdefault(program, set()).update(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", tail))
  # The job's flag table: rows of `--flag` in its reference section.
  section = README.split("## Reference: the dataset job", 1)[1].split("\n## ", 1)[0]
  for row in re.findall(r"^\| (`--.*?) \|", section, re.M):
    found["beam_jobs.stylize"].update(re.findall(r"`(--[a-z_]+)`", row))
  # The training section's prose: flags of the trainer (and of trainer.compare, which
  # passes the trainer's on).
  section = README.split("## Training (`python -m trainer.task`)", 1)[1].split("\n## ", 1)[0]
  prose = re.sub(r"```.*?```", "", section, flags=re.S)
  found[TRAINING] = set(re.findall(r"`(--[a-z][\w-]*)", prose))
  return found


def _help(program: str, capsys) -> str:
  if program == TRAINING:
    return "".join(_help(p, capsys) for p in ("trainer.compare", "beam_jobs.stylize"))
  if program == "beam_jobs.stylize":
    from beam_jobs import flags
    return flags.build_parser().format_help() + _beam_options()
  if program == "trainer.task":
    from trainer import config
    return config.build_parser().format_help()
  import importlib
  module, *sub = program.split()
  with pytest.raises(SystemExit):
    importlib.import_module(module).main(sub + ["--help"])
  text = capsys.readouterr().out
  if "python -m trainer.task --help lists them" in text:  # passed on to the trainer
    text += _help("trainer.task", capsys)
  return text


def _beam_options() -> str:
  from apache_beam.options import pipeline_options as po
  parser = po._BeamArgumentParser(allow_abbrev=False)
  todo = list(po.PipelineOptions.__subclasses__())
  while todo:
    cls = todo.pop()
    todo += cls.__subclasses__()
    cls._add_argparse_args(parser)
  return " ".join(parser._option_string_actions)


def test_the_readme_names_commands_of_every_program():
  found = _flags_by_program()
  assert set(found) == {*PROGRAMS, TRAINING}, set(PROGRAMS) - set(found)
  assert len(found["beam_jobs.stylize"]) > 25 and len(found[TRAINING]) > 25


@pytest.mark.parametrize("program", [*PROGRAMS, TRAINING])
def test_every_flag_the_readme_gives_a_program_is_in_its_help(program, capsys):
  flags = _flags_by_program()[program]
  text = _help(program, capsys)
  known = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text))
  missing = sorted(f for f in flags if f not in known)
  assert not missing, f"README gives {program} flags its --help does not know: {missing}"


def test_the_layout_says_where_every_test_file_is():
  """The Layout section's "where each part is tested" table names every test file, and
  only files that exist, so a new test file (or a renamed one) updates the map."""
  layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
  named = set(re.findall(r"`(test_\w+)`", layout))
  files = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
  assert named, "no test file named in the Layout section"
  assert not files - named, f"not in the README's Layout table: {sorted(files - named)}"
  assert not named - files, f"named in the README but missing: {sorted(named - files)}"
