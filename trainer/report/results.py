"""What a run hands its report, in memory: the report reads no file of the run.

The stages keep their own records (probe.json, metrics.json, the dataset's metadata) as
plain JSON documents; `Results` only says which of them the report gets, so the report
can lay them out without knowing where they were written or read.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional, Sequence


@dataclasses.dataclass(frozen=True)
class Run:
  """Who ran what: the report's header. Empty fields show as '—'."""
  title: str = "Run report"
  created: str = ""
  job_dir: str = ""
  data: str = ""
  command: str = ""
  config: dict = dataclasses.field(default_factory=dict)

  @classmethod
  def of(cls, cfg) -> "Run":
    """The header of a `python -m trainer.task` run (cfg: trainer.config.Config)."""
    return cls(title=f"Run report: {os.path.basename(cfg.job_dir.rstrip('/'))}",
               created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               job_dir=cfg.job_dir, data=cfg.data,
               command="python -m trainer.task " + " ".join(cfg.argv),
               config={k: v for k, v in dataclasses.asdict(cfg).items()
                       if k not in ("argv", "explicit")})


@dataclasses.dataclass(frozen=True)
class Results:
  """Everything one report shows; a stage that did not run is None (the report says
  'not run'), and a comparison that was not made is left out.

  dataset: the dataset's stylized_metadata.json as read (None: not a stylized dataset).
  contact_sheet: the dataset's contact_sheet.png bytes, shown as its samples.
  pretrain: what pretraining returned (the content of its metrics.json).
  probe: the "probe" entry of probe.json (trainer.probe.run_probe).
  retrieval_examples: queries with their top results and thumbnails
    (trainer.probe.retrieval_examples).
  comparison, supervised_comparison: trainer.compare's tables over seeds.
  """
  run: Run = dataclasses.field(default_factory=Run)
  dataset: Optional[dict] = None
  contact_sheet: Optional[bytes] = None
  pretrain: Optional[dict] = None
  probe: Optional[dict] = None
  retrieval_examples: Sequence[dict] = ()
  comparison: Optional[dict] = None
  supervised_comparison: Optional[dict] = None
