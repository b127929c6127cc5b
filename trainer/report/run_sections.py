"""The report's run-level sections: the header (who ran what, with which settings), the
dataset, pretraining with the online monitor, and the comparisons over seeds."""

from __future__ import annotations

import io
from typing import Optional

import numpy as np

from trainer.report.markup import esc, fmt, fmt_int, img, not_run, num, table
from trainer.report.plots import png_uri_from_array, training_curves_png
from trainer.report.results import Run

KEY_CONFIG = ("mode", "backbone", "weights", "image_size", "embedding_dim",
              "projection_dim", "loss", "temperature", "style_head", "style_loss_weight",
              "pair_mode", "batch_size", "epochs", "max_steps", "learning_rate",
              "weight_decay", "augment", "strategy", "mixed_precision", "seed")


def header(run: Run) -> str:
  cfg = run.config or {}
  key = [(k, cfg[k]) for k in KEY_CONFIG if k in cfg and cfg[k] not in (None, "")]
  parts = [f"<h1>{esc(run.title or 'Run report')}</h1>",
           table(["", ""], [("", [f"<b>{esc(k)}</b>", v]) for k, v in (
               ("created", esc(run.created or "—")),
               ("job dir", f"<code>{esc(run.job_dir or '—')}</code>"),
               ("data", f"<code>{esc(run.data or '—')}</code>"),
               ("command", f"<code>{esc(run.command or '—')}</code>"))],
                 numeric_from=99)]
  if key:
    parts.append("<h3>Key configuration</h3>")
    parts.append(table(["setting", "value"],
                       [("", [esc(k), f"<code>{esc(v)}</code>"]) for k, v in key],
                       numeric_from=99))
  if cfg:
    full = "\n".join(f"{k} = {v!r}" for k, v in sorted(cfg.items()))
    parts.append(f"<details><summary>full configuration ({len(cfg)} settings)</summary>"
                 f"<pre>{esc(full)}</pre></details>")
  return "\n".join(parts)


def _facts(meta: dict) -> dict:
  """The dataset's summary from its metadata. Views per content as the job's console
  counts them: K styles (at most the styles listed), and the original when included."""
  plan = meta.get("plan") or {}
  k = plan.get("styles_per_content")
  if k is not None:
    k = min(k, (meta.get("inputs") or {}).get("styles_listed", float("inf")))
  return {"name": meta.get("dataset_name"), "splits": meta.get("splits") or {},
          "stylizer": (meta.get("stylizer") or {}).get("version"),
          "styles_per_content": k, "include_original": plan.get("include_original")}


def dataset(meta: Optional[dict], contact_sheet: Optional[bytes]) -> str:
  """Name, stylizer, views per content and split sizes, then the contact sheet."""
  out = ["<h2>Dataset</h2>"]
  ds = _facts(meta) if meta else None
  if not ds:
    out.append(not_run("Dataset summary"))
  else:
    k = ds.get("styles_per_content")
    views = (f"{k + 1} ({k} styles + the original)" if ds.get("include_original")
             else f"{k} ({k} styles)") if k is not None else None
    facts = [("name", ds.get("name")), ("stylizer", ds.get("stylizer")),
             ("views per content", views)]
    out.append("<p>" + " · ".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in facts
                                  if v is not None) + "</p>")
    splits = ds.get("splits") or {}
    if splits:
      out.append(table(["split", "contents", "records"],
                       [("", [esc(s), fmt_int(v.get("contents")), fmt_int(v.get("records"))])
                        for s, v in splits.items()]))
  if contact_sheet:
    from PIL import Image
    grid = np.asarray(Image.open(io.BytesIO(contact_sheet)).convert("RGB"))
    out.append("<h3>Samples</h3>" + img(png_uri_from_array(grid), "dataset samples"))
  return "\n".join(out)


def pretrain(pt: dict) -> str:
  """Steps, time and throughput, the loss and monitor curves, the monitor's table."""
  secs = num(pt.get("train_seconds"))
  facts = [("steps", fmt_int(pt.get("steps"))),
           ("train time", "—" if secs is None else f"{secs:,.1f} s ({secs / 60:.1f} min)"),
           ("pairs/s", fmt(pt.get("pairs_per_second"), 1)),
           ("strategy", esc(pt.get("strategy") or "—"))]
  out = ["<p>" + " · ".join(f"<b>{k}</b>: {v}" for k, v in facts) + "</p>"]
  curve = pt.get("loss_curve") or []
  mon = pt.get("monitor") or {}
  uri = training_curves_png(curve, mon) if curve else None
  if uri:
    first, last = num(curve[0].get("loss")), num(curve[-1].get("loss"))
    out.append(f"<p>loss {fmt(first)} at step {fmt_int(curve[0].get('step'))} → "
               f"{fmt(last)} at step {fmt_int(curve[-1].get('step'))}</p>")
    out.append(img(uri, "pretraining loss and online monitor curves"))
  else:
    out.append('<p class="notrun">No loss curve logged.</p>')
  out.append(monitor(mon))
  return "\n".join(out)


_MONITOR_COLUMNS = (("knn/accuracy", "kNN accuracy", "majority/accuracy"),
                    ("knn/balanced_accuracy", "kNN balanced acc.",
                     "majority/balanced_accuracy"),
                    ("retrieval/content_map", "content mAP", "chance/content_map"),
                    ("retrieval/style_map", "style mAP", "chance/style_map"))


def monitor(mon: dict) -> str:
  """The online monitor's values at its first, middle and last evaluation, with the
  baselines as the last row."""
  points = mon.get("curve") or []
  if not points:
    return ('<p class="notrun">Online monitor: off (--monitor_every=0) or no '
            f"{esc(mon.get('split') or 'val')} split.</p>")
  shown = [points[0]] + ([points[len(points) // 2]] if len(points) > 2 else []) + (
      [points[-1]] if len(points) > 1 else [])
  base = mon.get("baselines") or {}
  trs = [("", [f"step {fmt_int(p.get('step'))}" + (" (random init)" if p.get("step") == 0
                                                    else ""),
               *[fmt(p.get(k)) for k, _, _ in _MONITOR_COLUMNS]]) for p in shown]
  trs.append(("baseline", ["majority class / chance",
                           *[fmt(base.get(b)) for _, _, b in _MONITOR_COLUMNS]]))
  secs, every = num(mon.get("seconds")), mon.get("every")
  return ("<h3>Online monitor</h3>"
          f"<p class=\"muted\">Every {esc(every)} steps, the encoder embeds the same "
          f"{fmt_int(mon.get('images'))} held-out {esc(mon.get('split'))} images (whole "
          "contents); kNN on backbone features, leave-one-content-out; retrieval on the "
          f"embedding. {len(points)} evaluations took {fmt(secs, 1)} s in all.</p>"
          + table(["", *[c for _, c, _ in _MONITOR_COLUMNS]], trs))


def comparison(cmp: Optional[dict], title: str = "Comparison over seeds") -> str:
  """Mean ± std and per-seed values of the headline metric, every other column's
  mean ± std (e.g. the style robustness columns), then the per-seed differences."""
  if not cmp:
    return ""
  seeds = cmp.get("seeds") or []
  out = [f"<h2>{esc(title)}</h2><p><b>metric</b>: {esc(cmp.get('metric', '?'))}"
         f" · <b>seeds</b>: {esc(', '.join(str(s) for s in seeds) or '—')}</p>"]
  rows = cmp.get("rows") or []
  columns = list(next((r["columns"] for r in rows if r.get("columns")), {}))
  trs = [("", [esc(r.get("setting")), f"{fmt(r.get('mean'))} ± {fmt(r.get('std'))}",
               esc(", ".join(fmt(v) for v in r.get("values") or [])),
               *[f"{fmt(c.get('mean'))} ± {fmt(c.get('std'))}"
                 for c in ((r.get("columns") or {}).get(k) or {} for k in columns)]])
         for r in rows]
  out.append(table(["setting", "mean ± std", "values", *columns], trs))
  if any(k.startswith(("orig", "styl")) for k in columns):
    out.append('<p class="muted">orig / styl: balanced accuracy on the test split\'s '
               "original views / on its stylized views (in styles held out of training "
               "when the dataset has them); styl/orig: their ratio.</p>")
  diffs = cmp.get("differences") or []
  if diffs:
    out.append("<h3>Per-seed differences</h3><p class=\"muted\">Each setting minus a "
               "baseline, seed by seed; the spread is the larger of the two settings' "
               "standard deviations over seeds.</p>")
    out.append(table(["difference", "per seed", "mean", "verdict"], [
        ("", [esc(f"{d.get('setting')} − {d.get('baseline')}"),
              esc(", ".join(f"{v:+.3f}" for v in d.get("per_seed") or [])),
              fmt(d.get("mean")), esc(d.get("words"))]) for d in diffs], numeric_from=2))
  return "\n".join(out)
