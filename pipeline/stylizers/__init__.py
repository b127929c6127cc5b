"""Stylizers behind one interface, chosen by a spec string such as the job's `--stylizer`.

    classical                 weight-free colour + texture statistics transfer (TF ops)
    tflite:<dir>              Magenta TF Lite pair (prediction + transfer) through LiteRT
    hub[:<handle-or-dir>]     TF-Hub handle or local SavedModel, `model(content, style)[0]`
"""

from __future__ import annotations

from pipeline.stylizers.base import Stylizer, StylizerConfigError

DEFAULT_HUB_HANDLE = (
    "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2")

SPEC_HELP = "classical | tflite:<dir> | hub[:<handle-or-dir>]"


def from_spec(spec: str) -> Stylizer:
  """Builds (does not load) the stylizer a spec names; raises StylizerConfigError."""
  kind, _, arg = (spec or "").partition(":")
  kind = kind.strip().lower()
  if kind == "classical":
    from pipeline.stylizers.classical import ClassicalStylizer
    return ClassicalStylizer()
  if kind == "tflite":
    if not arg:
      raise StylizerConfigError(f"--stylizer={spec!r}: tflite needs a folder, "
                                "e.g. tflite:../shared/models/magenta_v1_256_tflite")
    from pipeline.stylizers.tflite import TFLiteStylizer
    return TFLiteStylizer(arg)
  if kind == "hub":
    from pipeline.stylizers.hub import HubStylizer
    return HubStylizer(arg or DEFAULT_HUB_HANDLE)
  raise StylizerConfigError(f"unknown stylizer {spec!r}; expected {SPEC_HELP}")


__all__ = ["Stylizer", "StylizerConfigError", "from_spec", "DEFAULT_HUB_HANDLE"]
