"""ResNet-50 at 224 px on one GPU, mixed precision: the accelerator recipe.

    python -m trainer.task --config=gpu_resnet50 --data=gs://BUCKET/stylized \\
        --job-dir=gs://BUCKET/runs/r50 [--weights=resnet50_imagenet_notop.h5]

Data: a dataset job output stored at 256 px or more (the views are cropped from the
stored JPEG and resized to 224). 128 contents per step (256 images), AdamW with a
1,000-step linear warmup then cosine decay, 100 epochs, online monitor every 500 steps.
Input: benchmarks/trainer_throughput.py --image_size 224 --backbone resnet50 prints the
cores that feed 1,000 pairs/s; give the VM at least that many (plus 2 for the step's
own host work).

Expected runtime and result: UNMEASURED until run on a GPU (this project's machines have
none). An A100/H100 trains ResNet-50 at roughly 500-1,500 pairs/s in mixed precision,
so an epoch of COCO train2017 (118k contents) would take about 1.5-4 minutes if the
input keeps up; the linear probe and kNN figures will be filled in from that run.
"""


def get_config() -> dict:
  return {
      "mode": "all",
      "backbone": "resnet50",
      "image_size": 224,
      "embedding_dim": 128,
      "projection_dim": 2048,
      "batch_size": 128,
      "epochs": 100,
      "learning_rate": 1e-3,
      "weight_decay": 1e-4,
      "warmup_steps": 1000,
      "temperature": 0.1,
      "augment_strength": "light",
      "mixed_precision": "float16",
      "shuffle_buffer": 4096,
      "checkpoint_every": 1000,
      "log_every": 100,
      "monitor_every": 500,
      "monitor_samples": 1024,
      "probe_steps": 500,
  }
