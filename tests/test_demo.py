"""The README's command 1 (after set-up): the whole chain on the generated sample."""

import json
import re
import subprocess

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_demo_chain_beats_both_baselines_on_held_out_styles(tmp_path):
  proc = subprocess.run(["bash", "scripts/demo.sh", str(tmp_path / "demo")], cwd=ROOT,
                        capture_output=True, text=True, timeout=1200)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  # The console holds the job's and the trainer's own lines: no TensorFlow/absl log line.
  framework = re.findall(r"^[IWEF]\d{4} \d\d:\d\d:\d\d.*$", proc.stdout + proc.stderr, re.M)
  assert not framework and "cuInit" not in proc.stderr, framework[:3]
  last = proc.stdout.strip().splitlines()[-1]
  assert re.fullmatch(r"report: /.*report\.html", last), last
  report = tmp_path / "demo" / "run" / "report.html"
  assert str(report) == last.split(": ", 1)[1]
  html = report.read_text()
  assert html.count("data:image/png;base64,") >= 5  # samples, curves, confusion, ...
  probe = json.loads((tmp_path / "demo" / "run" / "probe.json").read_text())["probe"]
  assert "held out" in probe["note"]  # the test split's styles were never trained on
  rows = {r["name"]: r["linear"]["balanced_accuracy"] for r in probe["rows"]}
  best_baseline = max(rows["majority class"], rows["random-init encoder"])
  assert rows["pretrained encoder"] > best_baseline + 0.05, rows
  retrieval = {(r["encoder"], r["representation"]): r for r in probe["retrieval"]}
  assert (retrieval[("pretrained encoder", "embedding")]["content"]["map"]
          > 2 * retrieval[("random-init encoder", "embedding")]["content"]["map"])
