"""Trainer settings: command-line flags, a recipe or config file, Vertex AI dirs.

Precedence: flags > `--config` (a recipe name from trainer/configs/, or a .py/.json
file: trainer.config_files) > defaults. On Vertex AI custom training the service sets
AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR; when set they win over
the `--job-dir` defaults, so the same command runs locally and there. Imports no
TensorFlow: a wrong flag, or a value not among its choices (trainer.choices), fails
before it starts (a gs:// --config file is read through TensorFlow's filesystem, so
that one case starts TensorFlow first).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Optional

from trainer import choices, config_files


@dataclasses.dataclass
class Config:
  data: str = ""
  job_dir: str = ""
  mode: str = "pretrain"
  split: str = "train"
  # Model.
  backbone: str = "small_cnn"
  image_size: int = 96
  embedding_dim: int = 128
  projection_dim: int = 128
  width: int = 32
  weights: Optional[str] = None
  style_head: bool = False
  # Objective.
  loss: str = "ntxent"
  temperature: float = 0.1
  margin: float = 0.5
  style_loss_weight: float = 0.5
  pair_mode: str = "styles"
  style_probability: float = 0.0
  # Supervised mode and data regimes.
  label: str = "view_primary_label"
  train_views: str = "all"
  scarce_fraction: float = 1.0
  imbalance_classes: str = "half"
  imbalance_fraction: float = 1.0
  # Optimisation.
  batch_size: int = 64
  epochs: int = 10
  steps_per_epoch: int = 0
  max_steps: int = 0
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4
  warmup_steps: int = 0
  seed: int = 0
  shuffle_buffer: int = 512
  augment: bool = True
  augment_strength: str = "light"
  # Probe and evaluation.
  probe_data: str = ""
  probe_label: str = "view_primary_label"
  probe_train_split: str = "train"
  probe_test_split: str = "test"
  probe_steps: int = 300
  probe_l2: float = 1e-2
  knn_k: int = 5
  report: bool = True
  # Online monitor (kNN and retrieval on a held-out sample while training).
  monitor_every: int = 100
  monitor_split: str = "val"
  monitor_samples: int = 256
  # Distribution and operations.
  strategy: str = "auto"
  tpu: str = ""
  mixed_precision: str = "none"
  checkpoint_every: int = 100
  log_every: int = 10
  deterministic: Optional[bool] = None
  model_dir: str = ""
  checkpoint_dir: str = ""
  tensorboard_dir: str = ""
  verbose: bool = False
  argv: list = dataclasses.field(default_factory=list)  # the command line, for reports
  # Keys set by the user (flags or --config), not left at their defaults: a probe
  # checks these against the pretrained model's saved configuration.
  explicit: list = dataclasses.field(default_factory=list)

  def resolve_dirs(self) -> "Config":
    """Fills output dirs from AIP_* variables or from job_dir."""
    env = os.environ
    self.model_dir = self.model_dir or env.get("AIP_MODEL_DIR") or os.path.join(
        self.job_dir, "model")
    self.checkpoint_dir = self.checkpoint_dir or env.get(
        "AIP_CHECKPOINT_DIR") or os.path.join(self.job_dir, "checkpoints")
    self.tensorboard_dir = self.tensorboard_dir or env.get(
        "AIP_TENSORBOARD_LOG_DIR") or os.path.join(self.job_dir, "tensorboard")
    return self


_HELP = {
    "data": "dataset folder written by beam_jobs.stylize, or a glob of shards",
    "split": "split the model trains on",
    "image_size": "side in pixels of the square views the model sees (cropped and "
                  "resized from the stored images)",
    "embedding_dim": "size of the L2-normalised embedding the exported model returns",
    "projection_dim": "hidden size of the projection head",
    "width": "small_cnn: filters of its first block (the blocks have w, 2w, 4w, 8w)",
    "temperature": "ntxent / supcon: softmax temperature",
    "margin": "pairwise: distance below which negatives are penalised",
    "style_loss_weight": "weight of the style head's loss in the total (--style_head)",
    "epochs": "passes over the training contents, unless --max_steps is set",
    "learning_rate": "peak learning rate (AdamW; cosine decay to 0, after "
                     "--warmup_steps)",
    "weight_decay": "AdamW weight decay",
    "seed": "seeds the weights, the batches (the batch at step s is a function of "
            "(seed, s)), augmentation and the data regimes",
    "shuffle_buffer": "contents held in the shuffle buffer",
    "augment": "crop and flip the training views (--no-augment: resize only)",
    "probe_train_split": "split the linear probe is trained on",
    "probe_steps": "optimisation steps of the linear probe",
    "probe_l2": "L2 penalty of the linear probe",
    "tpu": "TPU name, or local on a TPU VM (selects the TPU strategy)",
    "log_every": "steps between console lines and TensorBoard scalars",
    "model_dir": "where the SavedModel goes (default: JOB_DIR/model or $AIP_MODEL_DIR)",
    "checkpoint_dir": "where checkpoints go (default: JOB_DIR/checkpoints or "
                      "$AIP_CHECKPOINT_DIR)",
    "tensorboard_dir": "where TensorBoard logs go (default: JOB_DIR/tensorboard or "
                       "$AIP_TENSORBOARD_LOG_DIR)",
    "job_dir": "where checkpoints, TensorBoard logs, the exported model and "
               "metrics.json go (AIP_* variables override the first three)",
    "mode": "pretrain, probe (linear probe of a trained encoder), all (both), or "
            "supervised (a classifier on --label, evaluated on the test split)",
    "backbone": "small_cnn (CPU), mobilenet_v2 (the original experiments'), resnet50",
    "weights": "local ImageNet weights file for mobilenet_v2/resnet50 (default: none)",
    "style_head": "also train a style embedding (positives: same style id)",
    "loss": "ntxent (SimCLR), supcon (content id labels), pairwise (margin), "
            "pair_classifier (the original work's Siamese classifier)",
    "pair_mode": "styles: positives are two styles of one content; augment: two "
                 "augmentations of one view (the no-stylization baseline)",
    "style_probability": "augment mode: probability that the second view of a pair is "
                         "replaced by a stylized view of the same content, before "
                         "crop/colour augmentation (0: augment-only)",
    "label": "supervised mode: the label to classify: view_primary_label (what the "
             "image shows, the default), view_supercategory, photo_primary_label or "
             "photo_supercategory (the whole photo's, cropped-out objects included)",
    "train_views": "supervised mode: originals (unstylized views only) or all "
                   "(originals + stylized, one view of a content drawn per step)",
    "scarce_fraction": "keep this fraction of every class's training contents "
                       "(seeded, whole contents)",
    "imbalance_classes": "classes thinned by --imbalance_fraction: comma-separated "
                         "names, or half (the first half of the sorted class names)",
    "imbalance_fraction": "keep this fraction of the --imbalance_classes' training "
                          "contents (1: no imbalance)",
    "batch_size": "global batch of contents (pairs) per step",
    "steps_per_epoch": "0: contents in the split / batch size",
    "max_steps": "stop after this many steps in all (0: epochs x steps_per_epoch)",
    "strategy": "auto: tpu with --tpu, multiworker with a TF_CONFIG cluster, "
                "mirrored with >1 GPU, else default",
    "mixed_precision": "none, float16 (GPU) or bfloat16 (TPU)",
    "checkpoint_every": "steps between checkpoints (a restarted run resumes there)",
    "augment_strength": "light (crop + flip) or strong (adds colour jitter, greyscale)",
    "probe_data": "data to probe: a stylized dataset (default: --data), a folder of "
                  "<class>/<image> or a CSV of path,label",
    "probe_label": "for stylized data: view_primary_label (default), "
                   "photo_primary_label, style, style_name, artist",
    "probe_test_split": "split the probe is evaluated on (content-disjoint from train)",
    "knn_k": "neighbours for the cosine kNN accuracy",
    "report": "write report.html into the job dir",
    "warmup_steps": "linear warmup from 0 to --learning_rate, then cosine decay to 0",
    "monitor_every": "steps between online kNN / retrieval evaluations of the encoder "
                     "on a held-out sample (0: off)",
    "monitor_split": "split the monitor's sample comes from (default val; without "
                     "one the monitor is off unless this flag is given)",
    "monitor_samples": "images (whole contents) in the monitor's sample",
    "verbose": "show TensorFlow's, absl's and Keras's own logs on the console (by "
               "default they go to a temporary log file, named if the run fails)",
    "deterministic": "TF op determinism (exact resume, repeatable runs); default: on "
                     "without GPU/TPU, off on accelerators",
}
_NOT_FLAGS = ("argv", "explicit")


def _with_default(name: str, default) -> str:
  """A flag's help with the default it gets without flag or recipe (the parser's own
  default stays None, so that a flag left out is told from one given)."""
  text = _HELP[name]
  if "default" in text:  # the text says it better (a choice made at run time)
    return text
  if isinstance(default, bool):
    shown = "on" if default else "off"
  else:
    shown = "none" if default in (None, "") else default
  return f"{text} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
  recipes = config_files.available()
  p = argparse.ArgumentParser(
      prog="python -m trainer.task",
      description="Siamese contrastive pretraining, linear probing and supervised "
                  "training on stylized TFRecords.",
      epilog="Without --config every setting has the default shown: --mode=pretrain "
             "trains a small_cnn at 96 px with NT-Xent on pairs of two styles of one "
             "content, for 10 epochs; --data and --job-dir are required. A recipe "
             "(" + ", ".join(recipes) + ") sets several keys at once and its file in "
             "trainer/configs/ says its command, runtime and expected result; flags "
             "given beside it override single keys. Boolean flags have a --no- form.")
  p.add_argument("--config", help="a recipe name (" + ", ".join(recipes) + ") or a "
                 ".py/.json file of settings (keys as the flags, with _); flags "
                 "override single keys (default: none, the defaults below)")
  for f in dataclasses.fields(Config):
    if f.name in _NOT_FLAGS:
      continue
    name = "--" + f.name
    aliases = [name] + (["--" + f.name.replace("_", "-")] if "_" in f.name else [])
    default = f.default if f.default is not dataclasses.MISSING else None
    kwargs = {"dest": f.name, "default": None, "help": _with_default(f.name, default)}
    if f.type in ("bool", bool, "Optional[bool]"):
      p.add_argument(*aliases, action=argparse.BooleanOptionalAction, **kwargs)
      continue
    typ = {"int": int, "float": float}.get(str(f.type), str)
    p.add_argument(*aliases, type=typ, **kwargs)
  return p


def _field_types() -> dict:
  return {f.name: str(f.type) for f in dataclasses.fields(Config)
          if f.name not in _NOT_FLAGS}


def _problems(cfg: Config):
  """Every wrong setting, in the order they are told (parse tells the first)."""
  required = [
      (not cfg.data, "--data is required"),
      (not cfg.job_dir and not os.environ.get("AIP_MODEL_DIR"), "--job-dir is required"),
  ]
  yield from (message for bad, message in required if bad)
  yield from filter(None, (choices.problem(name, getattr(cfg, name))
                           for name in choices.CHOICES))
  limits = [
      (cfg.batch_size < 2, "--batch_size must be >= 2 (negatives come from the batch)"),
      (cfg.image_size < 32, "--image_size must be >= 32"),
      (cfg.knn_k < 1 or cfg.probe_steps < 1, "--knn_k and --probe_steps must be >= 1"),
      (min(cfg.epochs, cfg.checkpoint_every, cfg.log_every) < 1,
       "--epochs, --checkpoint_every and --log_every must be >= 1"),
      (cfg.warmup_steps < 0, "--warmup_steps must be >= 0"),
      (cfg.max_steps and cfg.warmup_steps >= cfg.max_steps,
       "--warmup_steps must be < --max_steps"),
      (not 0.0 <= cfg.style_probability <= 1.0, "--style_probability must be in [0, 1]"),
      (cfg.style_probability > 0 and cfg.pair_mode != "augment",
       "--style_probability needs --pair_mode=augment (styles mode pairs two stylized "
       "views already)"),
      (not (0.0 < cfg.scarce_fraction <= 1.0 and 0.0 < cfg.imbalance_fraction <= 1.0),
       "--scarce_fraction and --imbalance_fraction must be in (0, 1]"),
      (cfg.monitor_every < 0 or cfg.monitor_samples < 2,
       "--monitor_every must be >= 0 and --monitor_samples >= 2"),
  ]
  yield from (message for bad, message in limits if bad)


def parse(argv=None) -> Config:
  """Flags > config file > defaults; validated (choices.ConfigError names the flag);
  output dirs resolved."""
  args = build_parser().parse_args(argv)
  values = dataclasses.asdict(Config())
  from_file = config_files.read(args.config, _field_types()) if args.config else {}
  from_flags = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
  values.update(from_file)
  values.update(from_flags)
  values["argv"] = list(argv if argv is not None else __import__("sys").argv[1:])
  values["explicit"] = sorted(set(from_file) | set(from_flags))
  cfg = Config(**values)
  problem = next(_problems(cfg), None)
  if problem:
    raise choices.ConfigError(problem)
  if not cfg.job_dir:
    cfg.job_dir = os.path.dirname(os.environ["AIP_MODEL_DIR"].rstrip("/"))
  return cfg.resolve_dirs()
