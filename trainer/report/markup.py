"""HTML building blocks shared by the report's sections: the style sheet, escaping,
number formatting (missing or NaN shows as '—', never 'nan'), tables and sections.

Public names, because every section module of the package builds from them; what the
package offers the rest of the trainer is only `trainer.report.write`.
"""

from __future__ import annotations

import html
import math
from typing import Any, Callable, Iterable, Optional

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;
 max-width:1100px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;
 margin-top:32px}h3{margin-bottom:6px}
table{border-collapse:collapse;margin:8px 0 12px}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{background:#f4f6fb;color:#445;font-style:italic}
tr.best td{font-weight:600}
.tag{display:inline-block;font-size:.75em;font-style:normal;padding:0 6px;
 border-radius:8px;margin-left:6px;background:#dde3f0;color:#334}
.tag.model{background:#d8efd8;color:#153}
.muted{color:#777}.notrun{color:#999;font-style:italic}
.summary{font-size:1.1em;background:#f7f7f7;border-left:4px solid #888;padding:8px 12px}
.warning{background:#fff0f0;border:2px solid #c00;color:#600;padding:10px 14px;
 margin:12px 0;border-radius:4px}
.warning b.w{color:#c00;font-size:1.1em}
.ok{background:#effaef;border:1px solid #6a6;color:#254;padding:6px 12px;margin:12px 0}
img.plot{max-width:100%;border:1px solid #eee}
code,pre{background:#f5f5f5;padding:1px 4px;font-size:.9em}
pre{padding:8px;white-space:pre-wrap;word-break:break-all}
.rx{display:flex;gap:8px;align-items:flex-start;margin:8px 0;flex-wrap:wrap}
.rx figure{margin:0;text-align:center;font-size:.75em;max-width:120px;word-break:break-word}
.rx img{width:112px;height:112px;object-fit:cover;display:block}
.rx .q img{border:4px solid #555}.rx .hit img{border:4px solid #2a2}
.rx .miss img{border:4px solid #d22}.rx .sep{width:14px}
"""


def num(x: Any) -> Optional[float]:
  """A finite float, or None for missing/NaN."""
  try:
    v = float(x)
  except (TypeError, ValueError):
    return None
  return v if math.isfinite(v) else None


def esc(x: Any) -> str:
  return html.escape("" if x is None else str(x), quote=True)


def fmt(x: Any, digits: int = 3) -> str:
  v = num(x)
  return "—" if v is None else f"{v:.{digits}f}"


def fmt_int(x: Any) -> str:
  v = num(x)
  return "—" if v is None else f"{int(round(v)):,}"


def table(header: list[str], rows: Iterable[tuple[str, list[str]]],
          numeric_from: int = 1) -> str:
  """rows: (tr class, already-escaped cells); columns from numeric_from are right-aligned."""
  head = "".join(f"<th>{esc(h)}</th>" for h in header)
  out = ["<table>" + (f"<tr>{head}</tr>" if any(header) else "")]
  for cls, cells in rows:
    tds = "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    out.append(f'<tr class="{esc(cls)}">{tds}</tr>')
  return "\n".join(out) + "</table>"


def not_run(what: str) -> str:
  return f'<p class="notrun">{esc(what)}: not run.</p>'


def img(uri: str, alt: str, cls: str = "plot") -> str:
  return f'<img class="{cls}" alt="{esc(alt)}" src="{uri}">'


def section(title: str, data: Any, body: Callable[[Any], str],
            what: Optional[str] = None) -> str:
  """An <h2> section: body(data) under the title, or '<what>: not run.' when there is
  no data, so an absent stage is said rather than silently left out."""
  head = f"<h2>{esc(title)}</h2>"
  return head + not_run(what or title) if not data else head + "\n" + body(data)
