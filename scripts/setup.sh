#!/usr/bin/env bash
# Sets up a fresh machine: a virtualenv in .venv with the pinned dependencies and this
# package installed editable. Idempotent; needs Python 3.10-3.12 and a package index.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12), sys.version' \
  || { echo "setup.sh: need Python 3.10-3.12 (set PYTHON=...)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup.sh: ready (.venv)"
