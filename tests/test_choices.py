"""trainer.choices: every setting with a fixed set of values has one owner, and a wrong
value, given as a flag or in a config file, fails before `import tensorflow`, in one
line naming the flag and its valid values."""

import json
import re
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


def test_every_choice_is_a_flag_whose_default_is_valid_and_help_names_its_values():
  defaults = config.Config()
  helps = {a.dest: a.help for a in config.build_parser()._actions}
  for name, valid in choices.CHOICES.items():
    assert name in helps, name
    assert getattr(defaults, name) in valid, name
    assert valid and len(set(valid)) == len(valid), name
    missing = [v for v in valid if not re.search(rf"\b{v}\b", helps[name])]
    assert not missing, (name, missing, helps[name])


def test_a_renamed_label_says_what_to_use():
  for name in ("label", "probe_label"):
    message = choices.problem(name, "content_primary_label")
    assert message.startswith(f"--{name} content_primary_label was renamed") and \
        "use view_primary_label" in message
  assert choices.problem("mode", "content_primary_label").startswith("--mode must be")
  assert choices.problem("mode", "all") is None
  assert choices.problem("data", "anything") is None  # not a choice


def test_the_loss_registry_is_the_loss_choice():
  from trainer import steps
  assert tuple(steps.CONTENT_LOSSES) == choices.LOSSES  # same names, same order
  assert set(steps.LOSS_HEADS) <= set(choices.LOSSES)


def test_each_registered_loss_is_the_objective_it_names():
  """Objective through the registry gives what the named function of trainer.losses
  gives on the same batch (the if-chain it replaced called exactly these)."""
  import numpy as np
  import tensorflow as tf

  from trainer import losses, steps
  rng = np.random.default_rng(0)
  za, zb = (tf.constant(rng.normal(size=(6, 8)), tf.float32) for _ in range(2))
  cid = tf.constant([0, 1, 2, 3, 4, 0], tf.int64)  # a repeated content
  batch = {"content_id": cid, "style_a": tf.constant([0, 1, -1, 2, 0, 1], tf.int64),
           "style_b": tf.constant([1, 2, 0, -1, 2, 0], tf.int64)}
  z, ids = tf.concat([za, zb], 0), tf.concat([cid, cid], 0)
  styles = tf.concat([batch["style_a"], batch["style_b"]], 0)
  for name in choices.LOSSES:
    cfg = config.Config(loss=name, embedding_dim=8, temperature=0.2, margin=0.7)
    head = steps.LOSS_HEADS[name](cfg) if name in steps.LOSS_HEADS else None
    expected = {
        "ntxent": lambda: losses.nt_xent(za, zb, cid, temperature=0.2),
        "supcon": lambda: losses.supcon(z, ids, temperature=0.2, cross_replica=True),
        "pairwise": lambda: losses.pairwise_contrastive(z, ids, styles, margin=0.7)[0],
        "pair_classifier": lambda: losses.pair_classifier_loss(head, z, ids, styles)[0],
    }[name]()
    total, parts = steps.Objective(cfg, head)({"embedding": za}, {"embedding": zb}, batch)
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-6, err_msg=name)
    assert float(parts["content_loss"]) == float(total), name
