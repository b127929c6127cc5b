"""One self-contained HTML report per run: the file a person opens to judge it.

It exists to make the original student mistakes impossible to miss: a headline accuracy
is never shown without the majority-class baseline and a random-initialised encoder
beside it, balanced accuracy and macro-F1 are always shown, and a WARNING box says so
in plain words when the model does not beat its baselines, collapses onto the majority
class, or overfits the probe's training images.

Everything is embedded (images as base64 PNG data URIs, inline CSS, no JavaScript, no
network), so the file can be mailed, archived next to the run on gs:// and opened
offline years later. All text that comes from data is escaped.

One entry point: a stage hands its results in memory and the package owns the layout.

  from trainer import report
  report.write(path, report.Results(run=report.Run.of(cfg), probe=..., pretrain=...))

  results.py         Run and Results: what a report is given
  document.py        the layout: the sections in order, the HTML document, the file
  run_sections.py    header, dataset, pretraining with the online monitor, comparisons
  probe_sections.py  the probe table, its warnings, retrieval and its examples
  plots.py           the embedded pictures (curves, confusion matrix, arrays)
  markup.py          the style sheet, escaping, number formatting, tables, sections
"""

from trainer.report.document import write
from trainer.report.results import Results, Run

__all__ = ["Results", "Run", "write"]
