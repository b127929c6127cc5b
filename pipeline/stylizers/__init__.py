"""Stylizers behind one interface, chosen by a spec string such as the job's `--stylizer`.

    classical                 weight-free colour + texture statistics transfer (TF ops)
    tflite:<dir>[?threads=N]  Magenta TF Lite pair (prediction + transfer) through LiteRT;
                              N interpreter threads (default: $STYLIZE_TFLITE_THREADS,
                              which the local job sets to cores per worker, else all cores)
    hub[:<handle-or-dir>]     TF-Hub handle or local SavedModel, `model(content, style)[0]`;
                              its predict_bottleneck/transfer halves when it has them
                              (the Magenta port: python -m pipeline.stylizers.magenta_tf)
"""

from __future__ import annotations

from pipeline.stylizers.base import Stylizer, StylizerConfigError

DEFAULT_HUB_HANDLE = (
    "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2")

SPEC_HELP = "classical | tflite:<dir>[?threads=N] | hub[:<handle-or-dir>]"


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
    model_dir, threads = arg, None
    if "?" in arg:
      model_dir, _, query = arg.rpartition("?")
      key, _, value = query.partition("=")
      if key != "threads" or not value.isdigit() or int(value) < 1 or not model_dir:
        raise StylizerConfigError(f"--stylizer={spec!r}: the only option is ?threads=N "
                                  "(N >= 1), e.g. tflite:models/magenta?threads=1")
      threads = int(value)
    return TFLiteStylizer(model_dir, num_threads=threads)
  if kind == "hub":
    from pipeline.stylizers.hub import HubStylizer
    return HubStylizer(arg or DEFAULT_HUB_HANDLE)
  raise StylizerConfigError(f"unknown stylizer {spec!r}; expected {SPEC_HELP}")


__all__ = ["Stylizer", "StylizerConfigError", "from_spec", "DEFAULT_HUB_HANDLE"]
