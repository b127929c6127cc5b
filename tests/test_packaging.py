"""Dataflow readiness, checked offline: the package Dataflow workers install holds every
module, its modules use only each other's public names, and the job's graph builds with
Dataflow options (every transform labelled)."""

import ast
import importlib.util
import subprocess
import sys
import tarfile
import zipfile

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs import flags, graph, launch, local_runner
from tests.conftest import ROOT, write_photos, write_styles

PACKAGES = ("tfrecords_schema", "pipeline", "beam_jobs", "trainer")


def tracked_modules() -> set[str]:
  out = subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True,
                       text=True, check=True).stdout.split()
  return {p for p in out if p.endswith(".py")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  dist = tmp_path_factory.mktemp("dist")
  # What --setup_file does on Dataflow (an sdist), and what pip installs (a wheel).
  subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(dist)], cwd=ROOT,
                 check=True, capture_output=True)
  # The wheel is built from the sdist, as pip builds one on a worker: a build/ folder an
  # older build left in the checkout cannot slip deleted modules into it.
  (sdist,) = dist.glob("*.tar.gz")
  subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "--no-build-isolation", "-w", str(dist), str(sdist)], cwd=dist,
                 check=True, capture_output=True)
  return dist


def test_sdist_and_wheel_hold_every_module(built):
  modules = tracked_modules()
  assert {"beam_jobs/stylize.py", "pipeline/stylizers/tflite.py",
          "tfrecords_schema/codec.py", "trainer/task.py"} <= modules
  (sdist,) = built.glob("*.tar.gz")
  with tarfile.open(sdist) as t:
    names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
  assert modules <= names, sorted(modules - names)
  assert {"setup.py", "README.md", "tfrecords_schema/README.md"} <= names
  (wheel,) = built.glob("*.whl")
  with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
  assert modules <= names, sorted(modules - names)
  shipped = {n for n in names if n.endswith(".py") and n.split("/")[0] in PACKAGES}
  assert shipped == modules, f"shipped but not tracked: {sorted(shipped - modules)}"
  assert "tests/conftest.py" not in names


def _private_names_of_other_modules(path: str) -> list[str]:
  """`from ours.x import _name` and `x._name` (x one of our modules imported here)."""
  tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
  modules, found = set(), []
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGES):
      for a in node.names:
        if a.name.startswith("_") and not a.name.startswith("__"):
          found.append(f"{path}:{node.lineno}: from {node.module} import {a.name}")
        modules.add(a.asname or a.name)
    elif isinstance(node, ast.Import):
      modules.update(a.asname for a in node.names if a.asname and a.name.startswith(PACKAGES))
  found += [f"{path}:{node.lineno}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in modules and node.attr.startswith("_")
            and not node.attr.startswith("__")]
  return found


def test_no_module_uses_another_modules_private_names():
  """A `_` name is its module's own business: what another module needs is public, so
  it can be found, tested and kept stable (the report once imported 11 private helpers)."""
  found = [f for path in sorted(tracked_modules()) for f in _private_names_of_other_modules(path)]
  assert not found, "\n".join(found)


@pytest.fixture
def no_google_cloud(tmp_path, monkeypatch):
  """Beam's Dataflow set-up asks Google Cloud for credentials and the temp bucket's
  policy; offline that costs minutes of retries. An emulator answers both at once."""
  if importlib.util.find_spec("gcp_storage_emulator") is None:
    yield
    return
  from beam_jobs import remote
  from tests.gcs_services import Services
  with Services(tmp_path / "logs", deadline_s=300) as svc:
    for k in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "NO_GCE_CHECK"):
      monkeypatch.setenv(k, svc.env[k])
    remote.anonymous_on_emulator()
    yield


def test_job_graph_builds_with_dataflow_options(tmp_path, no_google_cloud):
  write_photos(tmp_path / "content", 3)
  write_styles(tmp_path / "styles", 2)
  argv = [f"--content={tmp_path / 'content'}", f"--styles={tmp_path / 'styles'}",
          f"--output={tmp_path / 'out'}", "--styles_per_content=2", "--stylizer=classical",
          "--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
          "--temp_location=gs://my-bucket/tmp", "--setup_file=./setup.py",
          "--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1;"
          "install-nvidia-driver", "--machine_type=g2-standard-4"]
  args, beam_args = flags.build_parser().parse_known_args(argv)
  options = local_runner.pipeline_options(beam_args)
  assert local_runner.runner_for(options) is None  # the user's runner is kept
  prep = launch.prepare(args, flags.validate_args(args))
  p = beam.Pipeline(options=options)
  assert type(p.runner).__name__ == "DataflowRunner"
  graph.build_pipeline(p, prep, prep.tasks)
  proto = p.to_runner_api()
  labels = [t.unique_name for t in proto.components.transforms.values()]
  top = {l for l in labels if "/" not in l}
  assert {"StyleStates", "StylePools", "ShardTasks", "RenderShards"} <= top
  assert {"StyleStates/StyleStep", "RenderShards/BalanceShards",
          "RenderShards/RenderShard"} <= set(labels)
  composites = {"StyleStates", "StylePools", "RenderShards"}  # ours; the rest are Beam's
  ours = top | {l for l in labels if l.count("/") == 1 and l.split("/")[0] in composites}
  unlabelled = [l for l in ours if l.rsplit("/", 1)[-1].startswith(("ParDo(", "Map("))]
  assert not unlabelled, unlabelled
  assert not (tmp_path / "out").exists()  # building the graph wrote no dataset
  assert not (tmp_path / "out.incomplete").exists()
