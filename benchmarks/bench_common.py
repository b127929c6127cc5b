"""What every benchmark script shares: where the repository and ../shared are.

Imported beside the scripts (`python benchmarks/X.py` puts this folder on sys.path);
importing it puts the repository on sys.path too, so the scripts import the project's
names (file names, counter names) instead of repeating their literals.
"""

from __future__ import annotations

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: The real model and images (/work/shared/README.md); STYLIZED_SHARED_DIR moves it.
SHARED = pathlib.Path(os.environ.get("STYLIZED_SHARED_DIR", ROOT.parent / "shared"))
MODEL_DIR = SHARED / "models" / "magenta_v1_256_tflite"
PHOTOS = SHARED / "data" / "coco256" / "images"
PAINTINGS = SHARED / "data" / "paintings_aic" / "images"
IMAGENETTE = SHARED / "data" / "imagenette"

if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))
