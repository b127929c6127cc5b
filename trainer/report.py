"""One self-contained HTML report per run: the file a person opens to judge it.

It exists to make the original student mistakes impossible to miss: a headline accuracy
is never shown without the majority-class baseline and a random-initialised encoder
beside it, balanced accuracy and macro-F1 are always shown, and a WARNING box says so
in plain words when the model does not beat its baselines, collapses onto the majority
class, or overfits the probe's training images.

Everything is embedded (images as base64 PNG data URIs, inline CSS, no JavaScript, no
network), so the file can be mailed, archived next to the run on gs:// and opened
offline years later. All text that comes from data is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any, Optional

import numpy as np

# Config fields shown in the header; the full config sits in a collapsed <details>.
KEY_CONFIG = ("mode", "backbone", "weights", "image_size", "embedding_dim",
              "projection_dim", "loss", "temperature", "style_head", "style_loss_weight",
              "pair_mode", "batch_size", "epochs", "max_steps", "learning_rate",
              "weight_decay", "augment", "strategy", "mixed_precision", "seed")
OVERFIT_GAP = 0.3  # train minus test accuracy above this is flagged
_EPS = 1e-9

_CSS = """
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


# --- formatting -------------------------------------------------------------------------

def _esc(x: Any) -> str:
  return html.escape("" if x is None else str(x), quote=True)


def _num(x: Any) -> Optional[float]:
  """A finite float, or None for missing/NaN, so '—' is shown instead of 'nan'."""
  try:
    v = float(x)
  except (TypeError, ValueError):
    return None
  return v if math.isfinite(v) else None


def _f(x: Any, digits: int = 3) -> str:
  v = _num(x)
  return "—" if v is None else f"{v:.{digits}f}"


def _int(x: Any) -> str:
  v = _num(x)
  return "—" if v is None else f"{int(round(v)):,}"


def _table(header: list[str], rows: Iterable[tuple[str, list[str]]],
           numeric_from: int = 1) -> str:
  """rows: (tr class, already-escaped cells); columns from numeric_from are right-aligned."""
  head = "".join(f"<th>{_esc(h)}</th>" for h in header)
  out = ["<table>" + (f"<tr>{head}</tr>" if any(header) else "")]
  for cls, cells in rows:
    tds = "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    out.append(f'<tr class="{_esc(cls)}">{tds}</tr>')
  return "\n".join(out) + "</table>"


def _not_run(what: str) -> str:
  return f'<p class="notrun">{_esc(what)}: not run.</p>'


# --- images -----------------------------------------------------------------------------

def _png_uri_from_array(image: np.ndarray) -> str:
  from PIL import Image
  a = np.asarray(image)
  if a.dtype != np.uint8:
    a = np.clip(a if a.max() > 1.0 else a * 255.0, 0, 255).astype(np.uint8)
  if a.ndim == 3 and a.shape[-1] == 1:
    a = a[..., 0]
  buf = io.BytesIO()
  Image.fromarray(a).save(buf, format="PNG", optimize=True)
  return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png_uri_from_figure(fig) -> str:
  import matplotlib.pyplot as plt
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
  plt.close(fig)
  return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot():
  """pyplot on the Agg backend: reports are written on headless training machines."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _img(uri: str, alt: str, cls: str = "plot") -> str:
  return f'<img class="{cls}" alt="{_esc(alt)}" src="{uri}">'


def loss_curve_png(curve: list[dict]) -> Optional[str]:
  """Total loss, and its named parts when logged, against step (data URI)."""
  steps = [_num(p.get("step")) for p in curve]
  parts = [k for k in ("content_loss", "style_loss")
           if any(_num(p.get(k)) is not None for p in curve)]
  if not curve or all(s is None for s in steps):
    return None
  plt = _pyplot()
  ncols = 2 if parts else 1
  fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.4), squeeze=False)

  def series(key):
    pts = [(s, _num(p.get(key))) for s, p in zip(steps, curve)]
    pts = [(s, v) for s, v in pts if s is not None and v is not None]
    return [s for s, _ in pts], [v for _, v in pts]

  ax = axes[0][0]
  ax.plot(*series("loss"), color="#1f5fa8", lw=1.6)
  ax.set_title("total loss")
  for key, color in zip(parts, ("#2a8a2a", "#c0392b")):
    axes[0][1].plot(*series(key), color=color, lw=1.4, label=key.replace("_", " "))
  if parts:
    axes[0][1].set_title("loss parts")
    axes[0][1].legend(frameon=False)
  for a in axes[0]:
    a.set_xlabel("step")
    a.grid(alpha=.3)
  fig.tight_layout()
  return _png_uri_from_figure(fig)


def confusion_png(confusion: list[list[int]], class_names: list[str]) -> str:
  """Heatmap coloured by share of each true class (so small classes show), counts written."""
  cm = np.asarray(confusion, np.int64)
  n = cm.shape[0]
  names = [str(c) for c in class_names][:n] + [str(i) for i in range(len(class_names), n)]
  # Truncate long names; escape '$' so matplotlib does not parse names as mathtext.
  names = [(c if len(c) <= 22 else c[:21] + "…").replace("$", r"\$") for c in names]
  rows = cm.sum(axis=1, keepdims=True)
  frac = np.divide(cm, rows, out=np.zeros(cm.shape, np.float64), where=rows > 0)
  plt = _pyplot()
  side = max(4.0, 0.65 * n + 2.0)
  fig, ax = plt.subplots(figsize=(side + 1.2, side))
  im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
  ax.set_xticks(range(n), names, rotation=40, ha="right")
  ax.set_yticks(range(n), names)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  fs = 10 if n <= 10 else 7
  for i in range(n):
    for j in range(n):
      ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fs,
              color="white" if frac[i, j] > 0.55 else "#222")
  fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
  fig.tight_layout()
  return _png_uri_from_figure(fig)


# --- probe analysis ---------------------------------------------------------------------

def _bal(row: dict) -> Optional[float]:
  return _num((row.get("linear") or {}).get("balanced_accuracy"))


def _acc(row: dict) -> Optional[float]:
  return _num((row.get("linear") or {}).get("accuracy"))


def _best(rows: list[dict], kind: str) -> Optional[dict]:
  cands = [r for r in rows if r.get("kind") == kind and _bal(r) is not None]
  return max(cands, key=_bal) if cands else None


def _find(rows: list[dict], word: str) -> Optional[dict]:
  return next((r for r in rows if r.get("kind") == "baseline"
               and word in str(r.get("name", "")).lower()), None)


def probe_warnings(probe: dict) -> list[str]:
  """Plain-language reasons not to trust the headline (escaped HTML fragments)."""
  rows = list(probe.get("rows") or [])
  best, base = _best(rows, "model"), _best(rows, "baseline")
  majority = _find(rows, "majority")
  out = []
  if majority is None:
    out.append("No majority-class baseline row: accuracy cannot be judged without it.")
  if _find(rows, "random") is None:
    out.append("No random-init encoder row: cannot tell what pretraining added over an "
               "untrained network.")
  if best is None:
    out.append("No model row with a balanced accuracy.")
  if best is not None and base is not None and not _bal(best) > _bal(base) + _EPS:
    out.append(f"{_esc(best.get('name'))} does not beat the best baseline "
               f"({_esc(base.get('name'))}) in balanced accuracy: "
               f"{_f(_bal(best))} vs {_f(_bal(base))}.")
  if best is not None and majority is not None and None not in (_acc(best), _acc(majority)):
    if abs(_acc(best) - _acc(majority)) < 1e-6:
      out.append(f"{_esc(best.get('name'))} has exactly the majority-class baseline's "
                 f"accuracy ({_f(_acc(best))}): it most likely predicts the majority "
                 f"class for (nearly) every image.")
  if best is not None:
    cm = np.asarray((best.get("linear") or {}).get("confusion") or [])
    if cm.ndim == 2 and cm.size and cm.sum() > 0 and cm.shape[0] > 1 \
        and int((cm.sum(axis=0) > 0).sum()) == 1:
      out.append(f"{_esc(best.get('name'))} predicts a single class for every test image.")
  for r in rows:
    train, test = _num(r.get("train_accuracy")), _acc(r)
    if train is not None and test is not None and train - test > OVERFIT_GAP:
      out.append(f"Overfitting: {_esc(r.get('name'))} reaches {_f(train)} accuracy on the "
                 f"probe's training images but {_f(test)} on the test split "
                 f"(gap {_f(train - test)} &gt; {OVERFIT_GAP}).")
  return out


# --- sections ---------------------------------------------------------------------------

def _header(run: dict) -> str:
  cfg = run.get("config") or {}
  key = [(k, cfg[k]) for k in KEY_CONFIG if k in cfg and cfg[k] not in (None, "")]
  parts = [f"<h1>{_esc(run.get('title') or 'Run report')}</h1>",
           _table(["", ""], [("", [f"<b>{_esc(k)}</b>", v]) for k, v in (
               ("created", _esc(run.get("created") or "—")),
               ("job dir", f"<code>{_esc(run.get('job_dir') or '—')}</code>"),
               ("data", f"<code>{_esc(run.get('data') or '—')}</code>"),
               ("command", f"<code>{_esc(run.get('command') or '—')}</code>"))],
                  numeric_from=99)]
  if key:
    parts.append("<h3>Key configuration</h3>")
    parts.append(_table(["setting", "value"],
                        [("", [_esc(k), f"<code>{_esc(v)}</code>"]) for k, v in key],
                        numeric_from=99))
  if cfg:
    full = "\n".join(f"{k} = {v!r}" for k, v in sorted(cfg.items()))
    parts.append(f"<details><summary>full configuration ({len(cfg)} settings)</summary>"
                 f"<pre>{_esc(full)}</pre></details>")
  return "\n".join(parts)


def _dataset(ds: Optional[dict], grid: Optional[np.ndarray]) -> str:
  out = ["<h2>Dataset</h2>"]
  if not ds:
    out.append(_not_run("Dataset summary"))
  else:
    facts = [("name", ds.get("name")), ("stylizer", ds.get("stylizer")),
             ("styles per content", ds.get("styles_per_content"))]
    out.append("<p>" + " · ".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in facts
                                  if v is not None) + "</p>")
    splits = ds.get("splits") or {}
    if splits:
      out.append(_table(["split", "contents", "records"],
                        [("", [_esc(s), _int(v.get("contents")), _int(v.get("records"))])
                         for s, v in splits.items()]))
  if grid is not None:
    out.append("<h3>Samples</h3>" + _img(_png_uri_from_array(grid), "dataset samples"))
  return "\n".join(out)


def _pretrain(pt: Optional[dict]) -> str:
  out = ["<h2>Pretraining</h2>"]
  if not pt:
    return out[0] + _not_run("Pretraining")
  secs = _num(pt.get("train_seconds"))
  facts = [("steps", _int(pt.get("steps"))),
           ("train time", "—" if secs is None else f"{secs:,.1f} s ({secs / 60:.1f} min)"),
           ("pairs/s", _f(pt.get("pairs_per_second"), 1)),
           ("strategy", _esc(pt.get("strategy") or "—"))]
  out.append("<p>" + " · ".join(f"<b>{k}</b>: {v}" for k, v in facts) + "</p>")
  curve = pt.get("loss_curve") or []
  uri = loss_curve_png(curve) if curve else None
  if uri:
    first, last = _num(curve[0].get("loss")), _num(curve[-1].get("loss"))
    out.append(f"<p>loss {_f(first)} at step {_int(curve[0].get('step'))} → {_f(last)} at "
               f"step {_int(curve[-1].get('step'))}</p>")
    out.append(_img(uri, "pretraining loss curve"))
  else:
    out.append('<p class="notrun">No loss curve logged.</p>')
  return "\n".join(out)


def _probe(probe: Optional[dict]) -> str:
  out = ["<h2>Linear probe</h2>"]
  if not probe:
    return out[0] + _not_run("Linear probe")
  names = [str(c) for c in probe.get("class_names") or []]
  rows = list(probe.get("rows") or [])
  nc = len(names)
  facts = [("label", probe.get("label_field")), ("classes", nc or None),
           ("trained on", f"{probe.get('train_split', '?')} ({_int(probe.get('n_train'))} images)"),
           ("tested on", f"{probe.get('test_split', '?')} ({_int(probe.get('n_test'))} images)")]
  out.append("<p>" + " · ".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in facts
                                if v is not None) + "</p>")
  if probe.get("note"):
    out.append(f'<p class="muted">{_esc(probe["note"])}</p>')
  best, base = _best(rows, "model"), _best(rows, "baseline")
  trs = []
  for r in rows:
    lin, knn = r.get("linear") or {}, r.get("knn") or {}
    kind = r.get("kind", "model")
    tag = (f'<span class="tag">baseline</span>' if kind == "baseline"
           else '<span class="tag model">model</span>')
    cls = "baseline" if kind == "baseline" else ("best" if r is best else "")
    knn_txt = "—" if not knn else f"{_f(knn.get('accuracy'))} <span class='muted'>" \
        f"(bal {_f(knn.get('balanced_accuracy'))}, k={_esc(knn.get('k', '?'))})</span>"
    trs.append((cls, [_esc(r.get("name")) + tag, _f(lin.get("accuracy")),
                      f"<b>{_f(lin.get('balanced_accuracy'))}</b>", _f(lin.get("macro_f1")),
                      knn_txt, _f(r.get("train_accuracy"))]))
  out.append(_table(["encoder / baseline", "accuracy", "balanced accuracy", "macro-F1",
                     "kNN accuracy", "train accuracy"], trs))
  chance = f"chance is 1/{nc} = {1 / nc:.2f}" if nc else "chance unknown (no class names)"
  majority = _find(rows, "majority")
  if best is not None and base is not None:
    maj = "" if majority is None else (
        f" Accuracy alone is not the headline: always predicting the majority class "
        f"scores {_f(_acc(majority), 2)} accuracy here.")
    out.append(f'<p class="summary"><b>{_esc(best.get("name"))}</b>: balanced accuracy '
               f"<b>{_f(_bal(best), 2)}</b> vs {_f(_bal(base), 2)} for the best baseline "
               f"({_esc(base.get('name'))}); {chance}.{maj}</p>")
  else:
    out.append(f'<p class="summary">No model-vs-baseline comparison possible; {chance}.</p>')
  warns = probe_warnings(probe)
  if warns:
    out.append('<div class="warning"><b class="w">⚠ WARNING</b><ul>'
               + "".join(f"<li>{w}</li>" for w in warns) + "</ul></div>")
  else:
    out.append('<div class="ok">Checks passed: the best model beats every baseline in '
               'balanced accuracy, does not just match the majority class, and no probe '
               'overfits its training images by more than '
               f'{OVERFIT_GAP}.</div>')
  if best is not None:
    lin = best.get("linear") or {}
    prec, rec, sup = (lin.get(k) or [] for k in ("precision", "recall", "support"))
    n = max(len(prec), len(rec), len(sup))
    if n:
      get = lambda xs, i: xs[i] if i < len(xs) else None  # noqa: E731
      out.append(f"<h3>Per class: {_esc(best.get('name'))}</h3>")
      out.append(_table(["class", "precision", "recall", "support"],
                        [("", [_esc(names[i] if i < nc else i), _f(get(prec, i)),
                               _f(get(rec, i)), _int(get(sup, i))]) for i in range(n)]))
    if lin.get("confusion"):
      out.append(f"<h3>Confusion matrix: {_esc(best.get('name'))}</h3>")
      out.append('<p class="muted">Rows are true classes, columns predictions; colour is '
                 "the share of the true class, numbers are counts.</p>")
      out.append(_img(confusion_png(lin["confusion"], names), "confusion matrix"))
  return "\n".join(out)


def _retrieval(entries: Optional[list[dict]]) -> str:
  out = ["<h2>Retrieval</h2>"]
  if not entries:
    return out[0] + _not_run("Retrieval")
  out.append("<p>ALADIN-NST protocol: each test image queries all others by cosine "
             "similarity. <b>Style</b> retrieval counts images in the same style as "
             "relevant, <b>content</b> retrieval images of the same photo. High style "
             "retrieval means the embedding groups images by painting style whatever the "
             "photo; high content retrieval means it recognises the photo whatever the "
             "style (what same-content/different-style positives teach). Compare each "
             "number with the chance row.</p>")
  trs = []
  for e in entries:
    st, ct = e.get("style") or {}, e.get("content") or {}
    is_chance = str(e.get("encoder", "")).lower() == "chance"
    name = _esc(e.get("encoder")) + ('<span class="tag">baseline</span>' if is_chance else "")
    trs.append(("baseline" if is_chance else "",
                [name, _esc(e.get("representation") or "—"), _f(st.get("map")),
                 _f(st.get("recall_at_1")), _f(ct.get("map")), _f(ct.get("recall_at_1")),
                 _int(st.get("queries", ct.get("queries")))]))
  out.append(_table(["encoder", "representation", "style mAP", "style R@1", "content mAP",
                     "content R@1", "queries"], trs, numeric_from=2))
  return "\n".join(out)


def _retrieval_examples(examples: Optional[list[dict]]) -> str:
  if not examples:
    return ""
  out = ["<h3>Retrieval examples</h3>",
         '<p class="muted">Query (grey border), then the top results: '
         '<span style="color:#2a2">green</span> = relevant, '
         '<span style="color:#d22">red</span> = not relevant.</p>']
  for ex in examples:
    figs = [f'<figure class="q">{_img(_png_uri_from_array(ex["query"]), "query", "")}'
            f'<figcaption><b>{_esc(ex.get("kind", ""))} query</b><br>'
            f'{_esc(ex.get("query_caption", ""))}</figcaption></figure>',
            '<div class="sep"></div>']
    for i, r in enumerate(ex.get("results") or [], 1):
      cls, mark = ("hit", "✓") if r.get("relevant") else ("miss", "✗")
      figs.append(f'<figure class="{cls}">{_img(_png_uri_from_array(r["image"]), "result", "")}'
                  f'<figcaption>{i}. {mark} {_esc(r.get("caption", ""))}</figcaption></figure>')
    out.append('<div class="rx">' + "".join(figs) + "</div>")
  return "\n".join(out)


def _comparison(cmp: Optional[dict]) -> str:
  if not cmp:
    return ""
  seeds = cmp.get("seeds") or []
  out = [f"<h2>Comparison over seeds</h2><p><b>metric</b>: {_esc(cmp.get('metric', '?'))}"
         f" · <b>seeds</b>: {_esc(', '.join(str(s) for s in seeds) or '—')}</p>"]
  trs = [("", [_esc(r.get("setting")), f"{_f(r.get('mean'))} ± {_f(r.get('std'))}",
               _esc(", ".join(_f(v) for v in r.get("values") or []))])
         for r in cmp.get("rows") or []]
  out.append(_table(["setting", "mean ± std", "values"], trs))
  return "\n".join(out)


def render_html(results: dict, *, sample_grid: Optional[np.ndarray] = None,
                retrieval_examples: Optional[list[dict]] = None) -> str:
  """The report as one HTML string (see write_report)."""
  run = results.get("run") or {}
  probe = results.get("probe") or {}
  body = [_header(run), _dataset(results.get("dataset"), sample_grid),
          _pretrain(results.get("pretrain")), _probe(probe),
          _retrieval(probe.get("retrieval")), _retrieval_examples(retrieval_examples),
          _comparison(results.get("comparison"))]
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{_esc(run.get('title') or 'Run report')}</title>"
          f"<style>{_CSS}</style></head><body>\n" + "\n".join(b for b in body if b)
          + "\n</body></html>\n")


def write_report(path: str, results: dict, *, sample_grid: Optional[np.ndarray] = None,
                 retrieval_examples: Optional[list[dict]] = None) -> str:
  """Writes ONE self-contained HTML file and returns path.

  All images are embedded as base64 PNG data URIs (no external files, no JS, no
  network), so the file stays readable wherever it is copied. Written through
  tf.io.gfile, so `path` may be local or gs://.
  """
  import tensorflow as tf
  text = render_html(results, sample_grid=sample_grid, retrieval_examples=retrieval_examples)
  parent = path.rsplit("/", 1)[0] if "/" in path else ""
  if parent and not tf.io.gfile.exists(parent):
    tf.io.gfile.makedirs(parent)
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(text)
  return path
