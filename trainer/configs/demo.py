"""The README demo's training: small CNN on the generated sample, CPU.

    python -m beam_jobs.demo --out out/demo          # the dataset (scripts/demo.sh)
    python -m trainer.task --config=demo             # pretrain + probe + report

Data out/demo/stylized, outputs out/demo/run (override with --data / --job-dir).
scripts/demo.sh runs exactly this recipe after the dataset job.

Expected runtime: about 1-2 minutes on 2 cores (400 steps ~1 min, then the probe and
the report ~30 s; 2026-12-01, shared machine). Expected result, as printed by that run
(and, identically, by `bash scripts/demo.sh` on a freshly generated dataset):

    pretrained 400 steps; loss 7.0728 -> 1.8564; model: out/demo/run/model
    online monitor (256 val images, step 0 -> 400): kNN accuracy 0.207 -> 0.297
      (majority class 0.203); content mAP 0.027 -> 0.439 (chance 0.032); 1.0 s of 55.4 s
    linear probe on content_primary_label (6 classes, 1436 train / 452 test images;
      chance balanced accuracy 0.167)
                                acc bal.acc macroF1 kNN acc train acc
      majority class          0.124   0.167   0.037     nan     0.187
      pretrained encoder      0.350   0.345   0.331   0.274     0.543
      random-init encoder     0.197   0.204   0.186   0.175     0.383
      retrieval   pretrained encoder embedding  style mAP 0.384 R@1 0.593 | content mAP
        0.403 R@1 0.478
      retrieval  random-init encoder embedding  style mAP 0.975 R@1 1.000 | content mAP
        0.023 R@1 0.022
      retrieval               chance -          style mAP 0.260 R@1 0.248 | content mAP
        0.019 R@1 0.007

(long lines wrapped; the features rows of retrieval left out). The test split's
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
