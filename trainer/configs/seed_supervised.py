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

Expected runtime: about 1 minute on 2 cores (300 steps ~25 s, then the evaluation
and the export; 2026-12-01, shared machine). Expected result, as printed by that run:

    trained the classifier 300 steps; loss 1.9532 -> 0.7444; model: out/demo/supervised/model
    supervised classifier on content_primary_label (6 classes; trained on all views of
      circle 57, cross 59, ring 67, square 50, star 65, triangle 61 contents; tested on
      113 original test views; chance balanced accuracy 0.167)
                                acc bal.acc macroF1 |   orig   styl ratio
      majority class          0.124   0.167   0.037 |  0.167  0.167 1.000
      random-init network     0.168   0.174   0.081 |  0.174  0.161 0.927
      trained classifier      0.637   0.656   0.652 |  0.656  0.501 0.763
      orig / styl: balanced accuracy on the test split's 113 original views / 339
      stylized views in 4 styles never seen in training; ratio = styl / orig

(long lines wrapped). Over seeds 0,1,2 (the compare command above): 0.630 +- 0.060 on
the test originals vs 0.536 +- 0.065 trained on originals only; on stylized views in
held-out styles 0.507 +- 0.023 vs 0.234 +- 0.020 (README "Training").
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
