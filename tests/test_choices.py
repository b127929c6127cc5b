"""trainer.choices: every setting with a fixed set of values has one owner, and a wrong
value, given as a flag or in a config file, fails before `import tensorflow`, in one
line naming the flag and its valid values."""

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT
from trainer import choices, config

#: Runs in a fresh interpreter where importing TensorFlow or Keras raises (and is
#: recorded): for every choice in trainer.choices.CHOICES, trainer.task.main with a
#: wrong value as a flag and as a key of a JSON config file; prints what each said,
#: then runs the issue's example uncaught, as `python -m trainer.task` would.
_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, os, sys, tempfile

    BLOCKED = ("tensorflow", "keras", "tf_keras")
    attempts = []

    class Block:
      def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
          attempts.append(name)
          raise ImportError(f"blocked in this test: {name}")
        return None

    sys.meta_path.insert(0, Block())
    from trainer import choices, task

    tmp = tempfile.mkdtemp()
    base = ["--data=d", f"--job-dir={tmp}"]
    results = []
    for name in choices.CHOICES:
      path = os.path.join(tmp, name + ".json")
      with open(path, "w") as f:
        json.dump({name: "bogus"}, f)
      for how, argv in (("flag", base + [f"--{name}=bogus"]),
                        ("file", base + ["--config", path])):
        stderr = io.StringIO()
        code = None
        with contextlib.redirect_stderr(stderr):
          try:
            task.main(argv)
          except SystemExit as e:
            code = e.code
        results.append({"name": name, "how": how, "path": path, "code": code,
                        "stderr": stderr.getvalue()})
    print(json.dumps({"results": results, "attempts": attempts,
                      "loaded": sorted(m for m in sys.modules
                                       if m.split(".")[0] in BLOCKED)}))
    sys.stdout.flush()
    task.main(base + ["--backbone=resnet", "--pair_mode=bogus"])
""")


def test_every_wrong_choice_fails_before_tensorflow_naming_the_flag():
  proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True,
                        text=True, timeout=300)
  out = json.loads(proc.stdout.splitlines()[-1])
  assert out["attempts"] == [] and out["loaded"] == [], out  # TensorFlow never started
  assert len(out["results"]) == 2 * len(choices.CHOICES) >= 20
  for r in out["results"]:
    name, message = r["name"], r["code"]
    # SystemExit with a message: Python prints it on stderr and exits with status 1.
    assert isinstance(message, str) and message.startswith("error: "), r
    assert "\n" not in message and r["stderr"] == "", r  # one line, nothing else
    assert f"--{name} must be one of " in message, r
    assert all(value in message for value in choices.CHOICES[name]), r
    assert "'bogus'" in message, r
    if r["how"] == "file":
      assert r["path"] in message, r  # names the file too
  # The example, as the command line sees it: status 1, one line, no traceback.
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert proc.stderr == ("error: --backbone must be one of small_cnn, mobilenet_v2, "
                         "resnet50 (got 'resnet')\n"), proc.stderr[-2000:]


def test_every_choice_is_a_flag_whose_default_is_valid():
  defaults = config.Config()
  helps = {a.dest: a.help for a in config.build_parser()._actions}
  for name, valid in choices.CHOICES.items():
    assert name in helps, name
    assert getattr(defaults, name) in valid, name
    assert valid and len(set(valid)) == len(valid), name


def test_a_renamed_label_says_what_to_use():
  for name in ("label", "probe_label"):
    message = choices.problem(name, "content_primary_label")
    assert message.startswith(f"--{name} content_primary_label was renamed") and \
        "use view_primary_label" in message
  assert choices.problem("mode", "content_primary_label").startswith("--mode must be")
  assert choices.problem("mode", "all") is None
  assert choices.problem("data", "anything") is None  # not a choice

