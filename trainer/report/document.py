"""The report's layout: its sections in order, one HTML document, one file."""

from __future__ import annotations

from trainer.report import probe_sections, run_sections
from trainer.report.markup import CSS, esc, section
from trainer.report.results import Results


def render(results: Results) -> str:
  """The report as one HTML string (see write)."""
  probe = results.probe or {}
  body = [run_sections.header(results.run),
          run_sections.dataset(results.dataset, results.contact_sheet),
          section("Pretraining", results.pretrain, run_sections.pretrain),
          section("Linear probe", results.probe, probe_sections.linear_probe),
          section("Retrieval", probe.get("retrieval"), probe_sections.retrieval),
          probe_sections.retrieval_examples(results.retrieval_examples),
          run_sections.comparison(results.comparison),
          run_sections.comparison(results.supervised_comparison,
                                  "Supervised training: originals only vs + stylized views")]
  title = esc(results.run.title or "Run report")
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{title}</title>"
          f"<style>{CSS}</style></head><body>\n" + "\n".join(b for b in body if b)
          + "\n</body></html>\n")


def write(path: str, results: Results) -> str:
  """Writes ONE self-contained HTML file and returns path.

  All images are embedded as base64 PNG data URIs (no external files, no JS, no
  network), so the file stays readable wherever it is copied. Written through
  tf.io.gfile, so `path` may be local or gs://.
  """
  import tensorflow as tf
  text = render(results)
  parent = path.rsplit("/", 1)[0] if "/" in path else ""
  if parent and not tf.io.gfile.exists(parent):
    tf.io.gfile.makedirs(parent)
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(text)
  return path
