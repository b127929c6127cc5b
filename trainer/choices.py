"""The trainer's choices: every setting that takes one of a fixed set of values, here
and nowhere else.

The modules that act on a choice (trainer.model's backbones, trainer.data's pair modes,
...) import its values from here; trainer.steps' loss registry registers one function
per name of LOSSES (tests/test_choices.py holds the two equal). trainer.config and
trainer.config_files check every flag and every config-file key against `CHOICES` while
they parse, so a wrong value fails with one line naming the flag and its valid values
before TensorFlow starts. Pure Python on purpose: importing this module (or the config
modules) must never start TensorFlow; tests/test_choices.py holds it to that.
"""

from __future__ import annotations

from typing import Optional

MODES = ("pretrain", "probe", "all", "supervised")
BACKBONES = ("small_cnn", "mobilenet_v2", "resnet50")
#: The content objectives; trainer.steps.CONTENT_LOSSES registers one function per name.
LOSSES = ("ntxent", "supcon", "pairwise", "pair_classifier")
#: styles: two stylized views of one content; augment: one view, augmented twice.
PAIR_MODES = ("styles", "augment")
AUGMENT_STRENGTHS = ("light", "strong")
#: Supervised mode: originals (unstylized views only) or all views of a content.
TRAIN_VIEWS = ("originals", "all")
#: Labels the supervised mode classifies: the view's (what the image shows; default)
#: or the whole photo's (schema v3 fields; v2 called the latter content_*).
SUPERVISED_LABELS = ("view_primary_label", "view_supercategory", "photo_primary_label",
                     "photo_supercategory")
#: Labels the probe reads from stylized records -> the record field holding each.
PROBE_LABEL_FIELDS = {
    "view_primary_label": "view_primary_label",
    "photo_primary_label": "photo_primary_label",
    "style": "style_id",
    "style_name": "style_name",
    "artist": "style_artist",
}
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
MIXED_PRECISIONS = ("none", "float16", "bfloat16")

#: Flag (Config field) -> its valid values.
CHOICES: dict[str, tuple] = {
    "mode": MODES,
    "backbone": BACKBONES,
    "loss": LOSSES,
    "pair_mode": PAIR_MODES,
    "augment_strength": AUGMENT_STRENGTHS,
    "train_views": TRAIN_VIEWS,
    "label": SUPERVISED_LABELS,
    "probe_label": tuple(PROBE_LABEL_FIELDS),
    "strategy": STRATEGIES,
    "mixed_precision": MIXED_PRECISIONS,
}
#: Schema v2 label names -> what to use instead, for a clear error.
RENAMED_LABELS = {"content_primary_label": "view_primary_label (or photo_primary_label)",
                  "content_supercategory": "view_supercategory (or photo_supercategory)"}


class ConfigError(ValueError):
  """A wrong setting (flag, recipe or config file); trainer.task turns it into one
  `error: ...` line and a non-zero exit."""


def problem(name: str, value) -> Optional[str]:
  """Why `value` is wrong for the setting `name` (None: fine, or not a choice)."""
  valid = CHOICES.get(name)
  if valid is None or value in valid:
    return None
  if value in RENAMED_LABELS and "label" in name:
    return (f"--{name} {value} was renamed in record schema v3: use "
            f"{RENAMED_LABELS[value]}")
  return f"--{name} must be one of {', '.join(valid)} (got {value!r})"
