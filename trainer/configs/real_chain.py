"""The whole chain on real data, training part: COCO x AIC paintings, small CNN, CPU.

    bash benchmarks/real_chain.sh [OUT_DIR]      # job + validation + this recipe
    python -m trainer.task --config=real_chain --data=OUT/stylized --job-dir=OUT/run

The data: the 128 COCO train2017 photos of ../shared/data/coco256 x 191 AIC paintings,
real Magenta TF Lite stylizer, 2 styles + the original per photo, 128 px, splits
0.7/0.1/0.2, 20% of the styles held out (benchmarks/real_chain.sh). Probe label: the
COCO primary category of the view (view_primary_label, schema v3: the largest visible
category after the crop; 34 of the 48 classes occur in train; person dominates). The
figures below are from schema v2 (content_primary_label, the photo's); v3's, beside
the photo label's on the same model, are in benchmarks/README.md.

Expected runtime: about 40 s for this recipe on 2 cores (the whole real_chain.sh:
~1.5 minutes; 2026-12-01, shared machine). Expected result, as printed by that run
(and identically by a second run of this recipe on the same data):

    pretrained 300 steps; loss 5.9285 -> 0.3062
    online monitor (36 val images, step 0 -> 300): kNN accuracy 0.212 -> 0.242
      (majority class 0.364); content mAP 0.216 -> 0.583 (chance 0.144)
    linear probe on content_primary_label (34 classes, 261 train / 66 test images;
      chance balanced accuracy 0.029)
                                acc bal.acc macroF1 kNN acc train acc
      majority class          0.409   0.083   0.048     nan     0.276
      pretrained encoder      0.258   0.077   0.066   0.167     0.992
      random-init encoder     0.227   0.071   0.071   0.167     0.946
      retrieval   pretrained encoder embedding  style mAP 0.290 R@1 0.139 | content mAP
        0.482 R@1 0.512
      retrieval  random-init encoder embedding  style mAP 0.397 R@1 0.222 | content mAP
        0.239 R@1 0.202
      retrieval               chance -          style mAP 0.084 R@1 0.018 | content mAP
        0.072 R@1 0.024

(long lines wrapped; the features rows of retrieval left out). 88 training photos are
far too few for a 34-class probe: the encoder does NOT beat the majority class in
balanced accuracy (the report's WARNING says so), nor does the 36-image val sample make
the online kNN meaningful; what pretraining does learn shows in content retrieval
(mAP 0.48 vs 0.24 random-init, 0.07 chance).
"""


def get_config() -> dict:
  return {
      "mode": "all",
      "data": "out/real_chain/stylized",
      "job_dir": "out/real_chain/run",
      "backbone": "small_cnn",
      "width": 16,
      "image_size": 64,
      "batch_size": 32,
      "max_steps": 300,
      "log_every": 50,
      "checkpoint_every": 150,
      "monitor_every": 50,
      "probe_label": "view_primary_label",
  }
