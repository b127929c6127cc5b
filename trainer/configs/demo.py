"""The README demo's training: small CNN on the generated sample, CPU.

    python -m beam_jobs.demo --out out/demo          # the dataset (scripts/demo.sh)
    python -m trainer.task --config=demo             # pretrain + probe + report

Data out/demo/stylized, outputs out/demo/run (override with --data / --job-dir).
TO BE MEASURED.
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
