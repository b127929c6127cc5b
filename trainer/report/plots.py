"""The report's pictures: embedded PNGs of arrays and matplotlib figures, the training
curves (loss beside the online monitor) and the confusion matrix."""

from __future__ import annotations

import base64
import io
from typing import Optional

import numpy as np

from trainer.report.markup import num


def png_uri_from_array(image: np.ndarray) -> str:
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


def _series(points: list[dict], key: str):
  pts = [(num(p.get("step")), num(p.get(key))) for p in points]
  pts = [(s, v) for s, v in pts if s is not None and v is not None]
  return [s for s, _ in pts], [v for _, v in pts]


# Online monitor lines: (key, label, colour, baseline key).
MONITOR_LINES = (("knn/accuracy", "kNN accuracy", "#1f5fa8", "majority/accuracy"),
                 ("retrieval/content_map", "content mAP", "#2a8a2a", "chance/content_map"),
                 ("retrieval/style_map", "style mAP", "#c0392b", "chance/style_map"))


def training_curves_png(curve: list[dict], monitor: Optional[dict] = None) -> Optional[str]:
  """The loss against step, its named parts when logged, and beside them the online
  monitor (kNN accuracy, retrieval mAP) with its baselines dashed (data URI)."""
  if not curve or not _series(curve, "loss")[0]:
    return None
  # The parts only when there is more than one (with a style head): else the content
  # loss is the total loss, drawn twice.
  parts = [k for k in ("content_loss", "style_loss") if _series(curve, k)[0]]
  parts = parts if len(parts) > 1 else []
  mon = (monitor or {}).get("curve") or []
  panels = ["loss"] + (["parts"] if parts else []) + (["monitor"] if mon else [])
  plt = _pyplot()
  fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.4),
                           squeeze=False)
  axes = dict(zip(panels, axes[0]))
  axes["loss"].plot(*_series(curve, "loss"), color="#1f5fa8", lw=1.6)
  axes["loss"].set_title("total loss")
  for key, color in zip(parts, ("#2a8a2a", "#c0392b")):
    axes["parts"].plot(*_series(curve, key), color=color, lw=1.4,
                       label=key.replace("_", " "))
  if parts:
    axes["parts"].set_title("loss parts")
    axes["parts"].legend(frameon=False)
  if mon:
    ax, base = axes["monitor"], monitor.get("baselines") or {}
    for key, label, color, base_key in MONITOR_LINES:
      steps, values = _series(mon, key)
      if not steps:
        continue
      ax.plot(steps, values, color=color, lw=1.6, marker="o", ms=3, label=label)
      if num(base.get(base_key)) is not None:
        ax.axhline(base[base_key], color=color, lw=1, ls="--")
    ax.set_title(f"online monitor ({monitor.get('split', '?')} sample; dashed: baselines)")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8)
  for a in axes.values():
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
