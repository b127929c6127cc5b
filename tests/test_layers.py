"""The one-way doors between the four packages, read from the source (no imports run).

`tfrecords_schema` is the contract other teams read: it imports nothing of ours.
`pipeline` holds pure pieces and may use only the contract; `beam_jobs` wires pipeline
pieces into Beam graphs; the trainer reads shards through the contract alone, so it can
be installed and read without Beam or the stylizers. A lazy import inside a function
counts as much as one at the top: it is the same dependency, paid later.
"""

import ast
import pathlib

from tests.conftest import ROOT

ALLOWED = {
    "tfrecords_schema": set(),
    "pipeline": {"tfrecords_schema"},
    "beam_jobs": {"pipeline", "tfrecords_schema"},
    "trainer": {"tfrecords_schema"},
}


def imported_packages(path: pathlib.Path) -> dict[str, int]:
  """Our top-level packages a module imports, each with the first line that does."""
  found = {}
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names = [node.module]
    else:
      continue  # relative imports stay inside their package
    for name in names:
      top = name.split(".")[0]
      if top in ALLOWED:
        found.setdefault(top, node.lineno)
  return found


def test_every_package_imports_only_what_is_below_it():
  wrong = []
  for package, allowed in ALLOWED.items():
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    for path in files:
      for top, line in imported_packages(path).items():
        if top != package and top not in allowed:
          wrong.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
  assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path):
  module = tmp_path / "m.py"
  module.write_text("def f():\n  from beam_jobs import graph\n  import trainer.task\n")
  assert imported_packages(module) == {"beam_jobs": 2, "trainer": 3}
