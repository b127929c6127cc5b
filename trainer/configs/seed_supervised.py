"""The seed work's experiment as a recipe: a small CNN classifier on the content label,
trained on the original views + their stylized views (style transfer as data
augmentation), on CPU, evaluated on the test split's original views and, beside them,
on its stylized views in held-out styles.

    python -m beam_jobs.demo --out out/demo                 # the dataset
    python -m trainer.task --config=seed_supervised         # train + evaluate
    python -m trainer.task --config=seed_supervised --train_views=originals  # no styles
    python -m trainer.task --config=seed_supervised --imbalance_fraction=0.2  # imbalanced
    python -m trainer.task --config=seed_supervised --scarce_fraction=0.25    # scarce

and all of them over seeds, side by side (README "Training"):

    python -m trainer.compare --config=seed_supervised --settings=supervised \\
        --seeds=0,1,2 --job-dir=out/demo/compare_supervised

Expected runtime: about 1 minute on 2 cores (300 steps, then the evaluation).
Expected result, as printed by that run (2026-12-01, shared machine):

RESULT_PLACEHOLDER
"""


def get_config() -> dict:
  return {
      "mode": "supervised",
      "train_views": "all",
      "data": "out/demo/stylized",
      "job_dir": "out/demo/supervised",
      "backbone": "small_cnn",
      "width": 16,
      "image_size": 64,
      "batch_size": 64,
      "max_steps": 300,
      "learning_rate": 2e-3,
      "log_every": 50,
      "checkpoint_every": 300,
      "monitor_every": 0,
  }
