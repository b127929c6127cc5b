"""What the validator found: each problem, the report and its summary.

Kinds (`Problem.kind`) are stable short codes for scripts; the summary lists at most
MAX_PER_KIND problems per (file, kind) and counts the rest, so a shard corrupt in every
record stays one readable block.
"""

from __future__ import annotations

import collections
import dataclasses

from tfrecords_schema.fields import SCHEMA_VERSION

#: Problems listed per (file, kind); the rest are only counted, to keep reports readable.
MAX_PER_KIND = 5


class DatasetNotFoundError(FileNotFoundError):
  """The folder is not a dataset at all (a usage error, not a dataset problem)."""


@dataclasses.dataclass(frozen=True)
class Problem:
  file: str  # full path, or "" when the dataset as a whole is at fault
  kind: str  # short code, e.g. "truncated_shard"; stable for scripts
  message: str


@dataclasses.dataclass
class Report:
  dataset_dir: str
  decode_images: bool = True
  problems: list[Problem] = dataclasses.field(default_factory=list)
  records_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  contents_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  shards_by_split: dict[str, int] = dataclasses.field(default_factory=dict)
  dataset_name: str = ""

  @property
  def ok(self) -> bool:
    return not self.problems

  def _name(self, file: str) -> str:
    # Relative names keep the summary readable; the header names the folder.
    root = self.dataset_dir.rstrip("/") + "/"
    if not file:
      return "(dataset)"
    return file[len(root):] if file.startswith(root) else file

  def summary(self) -> str:
    total = sum(self.records_by_split.values())
    images = "decoded" if self.decode_images else "not decoded"
    lines = [f"dataset {self.dataset_name or '?'} at {self.dataset_dir} (reader schema "
             f"v{SCHEMA_VERSION}; images {images})"]
    for split in sorted(self.records_by_split):
      lines.append(f"  {split:<6} {self.records_by_split[split]:>8} records, "
                   f"{self.contents_by_split.get(split, 0)} contents, "
                   f"{self.shards_by_split.get(split, 0)} shards")
    if self.ok:
      lines.append(f"OK: {total} records, no problems")
      return "\n".join(lines)
    lines.append(f"FAILED: {len(self.problems)} problem(s)")
    for p in sorted(self.problems, key=lambda p: p.file):  # stable: grouped by file
      lines.append(f"  [{p.kind}] {self._name(p.file)}: {p.message}")
    return "\n".join(lines)

  def to_json(self) -> dict:
    return {"dataset_dir": self.dataset_dir, "dataset_name": self.dataset_name,
            "ok": self.ok, "decode_images": self.decode_images,
            "records_by_split": self.records_by_split,
            "contents_by_split": self.contents_by_split,
            "shards_by_split": self.shards_by_split,
            "problems": [dataclasses.asdict(p) for p in self.problems]}


class Problems:
  """Collects problems, listing at most MAX_PER_KIND per (file, kind)."""

  def __init__(self):
    self.listed: list[Problem] = []
    self.counts: collections.Counter = collections.Counter()

  def add(self, file: str, kind: str, message: str) -> None:
    self.counts[file, kind] += 1
    if self.counts[file, kind] <= MAX_PER_KIND:
      self.listed.append(Problem(file, kind, message))

  def finish(self) -> list[Problem]:
    extra = [Problem(f, k, f"... and {n - MAX_PER_KIND} more {k} problem(s) in this file")
             for (f, k), n in self.counts.items() if n > MAX_PER_KIND]
    return self.listed + extra

