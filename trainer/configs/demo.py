"""The README demo's training: small CNN on the generated sample, CPU.

    python -m beam_jobs.demo --out out/demo          # the dataset (scripts/demo.sh)
    python -m trainer.task --config=demo             # pretrain + probe + report

Data out/demo/stylized, outputs out/demo/run (override with --data / --job-dir).
scripts/demo.sh runs exactly this recipe after the dataset job.

Expected runtime: about 1 minute on 2 cores (400 steps ~55 s, then the probe and the
report; `bash scripts/demo.sh` with the dataset job: 1m40s on an idle machine,
2026-12-03); 2-3 minutes on busy cores. The figures below vary by a few hundredths
between runs (the loss ended at 1.8140 on 12-01, 1.8286 and 1.7521 on busy runs;
pretrained bal.acc 0.343, 0.336, 0.348): the README's "Expected" table lists the runs.
Expected result, as printed by `bash scripts/demo.sh` on a freshly generated dataset
(2026-12-03, idle machine, record schema v3: the demo's labels are image-level, so the
view label is the photo's):

    pretrained 400 steps; loss 7.0726 -> 1.7521; model: out/demo/run/model
    online monitor (256 val images, step 0 -> 400): kNN accuracy 0.207 -> 0.289
      (majority class 0.203); content mAP 0.027 -> 0.433 (chance 0.032); 1.0 s of 55.1 s
    linear probe on view_primary_label (6 classes, 1436 train / 452 test images;
      chance balanced accuracy 0.167)
                                acc bal.acc macroF1 kNN acc train acc |   orig   styl ratio
      majority class          0.124   0.167   0.037     nan     0.187 |  0.167  0.167 1.000
      pretrained encoder      0.361   0.348   0.340   0.310     0.554 |  0.432  0.320 0.742
      random-init encoder     0.195   0.203   0.183   0.177     0.380 |  0.265  0.182 0.687
      retrieval   pretrained encoder embedding  style mAP 0.384 R@1 0.593 | content mAP
        0.390 R@1 0.469
      retrieval  random-init encoder embedding  style mAP 0.975 R@1 1.000 | content mAP
        0.023 R@1 0.022
      retrieval               chance -          style mAP 0.260 R@1 0.248 | content mAP
        0.019 R@1 0.007

(long lines wrapped; the kNN robustness columns and the features rows of retrieval
left out; orig / styl: the test split's original views / its views in the 4 styles
never seen in training). The test split's
contents are unseen and its styles held out from pretraining.
"""


def get_config() -> dict:
  return {
      "mode": "all",
      "data": "out/demo/stylized",
      "job_dir": "out/demo/run",
      "backbone": "small_cnn",
      "width": 16,
      "image_size": 64,
      "batch_size": 64,
      "max_steps": 400,
      "log_every": 50,
      "checkpoint_every": 200,
      "monitor_every": 50,
  }
