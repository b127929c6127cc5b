"""ResNet-50 at 224 px on a TPU (v3-8 / v4-8 / v5e-8 host), bfloat16.

    python -m trainer.task --config=tpu_resnet50 --tpu=local \\
        --data=gs://BUCKET/stylized --job-dir=gs://BUCKET/runs/r50_tpu

(--tpu=local on a TPU VM, else the TPU's name.) 1,024 contents per step (2,048 images,
128 per core on 8 cores), AdamW with a 500-step warmup then cosine decay, 100 epochs.
The input runs on the TPU host's CPUs: benchmarks/trainer_throughput.py --image_size 224
--backbone resnet50 says how many pairs/s one core produces; a TPU VM host has 96-240
vCPUs. Data and checkpoints must be on gs:// (TPU workers cannot read local files).

Expected runtime and result: UNMEASURED until run on a TPU (this project has none).
"""


def get_config() -> dict:
  return {
      "mode": "all",
      "strategy": "tpu",
      "backbone": "resnet50",
      "image_size": 224,
      "embedding_dim": 128,
      "projection_dim": 2048,
      "batch_size": 1024,
      "epochs": 100,
      "learning_rate": 2e-3,
      "weight_decay": 1e-4,
      "warmup_steps": 500,
      "temperature": 0.1,
      "mixed_precision": "bfloat16",
      "shuffle_buffer": 8192,
      "checkpoint_every": 500,
      "log_every": 50,
      "monitor_every": 500,
      "monitor_samples": 1024,
      "probe_steps": 500,
      "deterministic": False,
  }
