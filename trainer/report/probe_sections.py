"""The report's probe and retrieval sections, and the plain-language reasons not to
trust a headline (model not beating its baselines, collapse onto the majority class,
overfitting the probe's training images)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from trainer.report.markup import esc, fmt, fmt_int, img, num, table
from trainer.report.plots import confusion_png, png_uri_from_array

OVERFIT_GAP = 0.3  # train minus test accuracy above this is flagged
_EPS = 1e-9


def _bal(row: dict) -> Optional[float]:
  return num((row.get("linear") or {}).get("balanced_accuracy"))


def _acc(row: dict) -> Optional[float]:
  return num((row.get("linear") or {}).get("accuracy"))


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
    out.append(f"{esc(best.get('name'))} does not beat the best baseline "
               f"({esc(base.get('name'))}) in balanced accuracy: "
               f"{fmt(_bal(best))} vs {fmt(_bal(base))}.")
  if best is not None and majority is not None and None not in (_acc(best), _acc(majority)):
    if abs(_acc(best) - _acc(majority)) < 1e-6:
      out.append(f"{esc(best.get('name'))} has exactly the majority-class baseline's "
                 f"accuracy ({fmt(_acc(best))}): it most likely predicts the majority "
                 f"class for (nearly) every image.")
  if best is not None:
    cm = np.asarray((best.get("linear") or {}).get("confusion") or [])
    if cm.ndim == 2 and cm.size and cm.sum() > 0 and cm.shape[0] > 1 \
        and int((cm.sum(axis=0) > 0).sum()) == 1:
      out.append(f"{esc(best.get('name'))} predicts a single class for every test image.")
  for r in rows:
    train, test = num(r.get("train_accuracy")), _acc(r)
    if train is not None and test is not None and train - test > OVERFIT_GAP:
      out.append(f"Overfitting: {esc(r.get('name'))} reaches {fmt(train)} accuracy on the "
                 f"probe's training images but {fmt(test)} on the test split "
                 f"(gap {fmt(train - test)} &gt; {OVERFIT_GAP}).")
  return out


def linear_probe(probe: dict) -> str:
  """The probe table with its baselines, the headline in words, the checks, then the
  best model's per-class numbers and confusion matrix."""
  out = []
  names = [str(c) for c in probe.get("class_names") or []]
  rows = list(probe.get("rows") or [])
  nc = len(names)
  facts = [("label", probe.get("label_field")), ("classes", nc or None),
           ("trained on",
            f"{probe.get('train_split', '?')} ({fmt_int(probe.get('n_train'))} images)"),
           ("tested on",
            f"{probe.get('test_split', '?')} ({fmt_int(probe.get('n_test'))} images)")]
  out.append("<p>" + " · ".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in facts
                                if v is not None) + "</p>")
  if probe.get("note"):
    out.append(f'<p class="muted">{esc(probe["note"])}</p>')
  best, base = _best(rows, "model"), _best(rows, "baseline")
  trs = []
  for r in rows:
    lin, knn = r.get("linear") or {}, r.get("knn") or {}
    kind = r.get("kind", "model")
    tag = (f'<span class="tag">baseline</span>' if kind == "baseline"
           else '<span class="tag model">model</span>')
    cls = "baseline" if kind == "baseline" else ("best" if r is best else "")
    knn_txt = "—" if not knn else f"{fmt(knn.get('accuracy'))} <span class='muted'>" \
        f"(bal {fmt(knn.get('balanced_accuracy'))}, k={esc(knn.get('k', '?'))})</span>"
    rob = (r.get("robustness") or {}).get("linear") or {}
    trs.append((cls, [esc(r.get("name")) + tag, fmt(lin.get("accuracy")),
                      f"<b>{fmt(lin.get('balanced_accuracy'))}</b>", fmt(lin.get("macro_f1")),
                      knn_txt, fmt(r.get("train_accuracy")),
                      fmt((rob.get("original") or {}).get("balanced_accuracy")),
                      fmt((rob.get("stylized") or {}).get("balanced_accuracy")),
                      fmt(rob.get("ratio"))]))
  out.append(table(["encoder / baseline", "accuracy", "balanced accuracy", "macro-F1",
                    "kNN accuracy", "train accuracy", "bal. acc. originals",
                    "bal. acc. stylized", "stylized / originals"], trs))
  info = probe.get("robustness")
  if info:
    out.append(f'<p class="muted">Style robustness (last three columns): the linear '
               f"probe's balanced accuracy on the test split's "
               f"{fmt_int(info.get('n_original'))} "
               f"original views and on its {fmt_int(info.get('n_stylized'))} stylized views "
               f"(in {esc(info.get('stylized_styles'))}), and their ratio.</p>")
  chance = f"chance is 1/{nc} = {1 / nc:.2f}" if nc else "chance unknown (no class names)"
  majority = _find(rows, "majority")
  if best is not None and base is not None:
    maj = "" if majority is None else (
        f" Accuracy alone is not the headline: always predicting the majority class "
        f"scores {fmt(_acc(majority), 2)} accuracy here.")
    out.append(f'<p class="summary"><b>{esc(best.get("name"))}</b>: balanced accuracy '
               f"<b>{fmt(_bal(best), 2)}</b> vs {fmt(_bal(base), 2)} for the best baseline "
               f"({esc(base.get('name'))}); {chance}.{maj}</p>")
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
      out.append(f"<h3>Per class: {esc(best.get('name'))}</h3>")
      out.append(table(["class", "precision", "recall", "support"],
                       [("", [esc(names[i] if i < nc else i), fmt(get(prec, i)),
                              fmt(get(rec, i)), fmt_int(get(sup, i))]) for i in range(n)]))
    if lin.get("confusion"):
      out.append(f"<h3>Confusion matrix: {esc(best.get('name'))}</h3>")
      out.append('<p class="muted">Rows are true classes, columns predictions; colour is '
                 "the share of the true class, numbers are counts.</p>")
      out.append(img(confusion_png(lin["confusion"], names), "confusion matrix"))
  return "\n".join(out)


def retrieval(entries: list[dict]) -> str:
  """Style and content retrieval of each encoder, with the chance row."""
  out = ["<p>ALADIN-NST protocol: each test image queries all others by cosine "
         "similarity. <b>Style</b> retrieval counts images in the same style as "
         "relevant, <b>content</b> retrieval images of the same photo. High style "
         "retrieval means the embedding groups images by painting style whatever the "
         "photo; high content retrieval means it recognises the photo whatever the "
         "style (what same-content/different-style positives teach). Compare each "
         "number with the chance row.</p>"]
  trs = []
  for e in entries:
    st, ct = e.get("style") or {}, e.get("content") or {}
    is_chance = str(e.get("encoder", "")).lower() == "chance"
    name = esc(e.get("encoder")) + ('<span class="tag">baseline</span>' if is_chance else "")
    trs.append(("baseline" if is_chance else "",
                [name, esc(e.get("representation") or "—"), fmt(st.get("map")),
                 fmt(st.get("recall_at_1")), fmt(ct.get("map")), fmt(ct.get("recall_at_1")),
                 fmt_int(st.get("queries", ct.get("queries")))]))
  out.append(table(["encoder", "representation", "style mAP", "style R@1", "content mAP",
                    "content R@1", "queries"], trs, numeric_from=2))
  return "\n".join(out)


def retrieval_examples(examples: Optional[list[dict]]) -> str:
  if not examples:
    return ""
  out = ["<h3>Retrieval examples</h3>",
         '<p class="muted">Query (grey border), then its top 5 by cosine similarity. '
         'A <b>content</b> query counts views of the same content (the same photo, in '
         'any style) as relevant; a <b>style</b> query, views in the same style (any '
         'photo). <span style="color:#2a2">Green ✓</span> = relevant, '
         '<span style="color:#d22">red ✗</span> = not; captions: same or other '
         'content/style, then the probe label / style name.</p>']
  for ex in examples:
    figs = [f'<figure class="q">{img(png_uri_from_array(ex["query"]), "query", "")}'
            f'<figcaption><b>{esc(ex.get("kind", ""))} query</b><br>'
            f'{esc(ex.get("query_caption", ""))}</figcaption></figure>',
            '<div class="sep"></div>']
    for i, r in enumerate(ex.get("results") or [], 1):
      cls, mark = ("hit", "✓") if r.get("relevant") else ("miss", "✗")
      figs.append(f'<figure class="{cls}">{img(png_uri_from_array(r["image"]), "result", "")}'
                  f'<figcaption>{i}. {mark} {esc(r.get("caption", ""))}</figcaption></figure>')
    out.append('<div class="rx">' + "".join(figs) + "</div>")
  return "\n".join(out)
