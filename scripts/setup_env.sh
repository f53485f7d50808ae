#!/usr/bin/env bash
# Create (or reuse) a local virtual environment in .venv and install the package into it.
# Usage: bash scripts/setup_env.sh   (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import paddleseg_panoptic" >/dev/null 2>&1 \
   || [ setup.py -nt .venv/.installed ] || [ requirements.txt -nt .venv/.installed ] \
   || [ requirements-deploy.txt -nt .venv/.installed ]; then
  echo "[setup] installing paddleseg_panoptic and its requirements into .venv"
  .venv/bin/python -m pip install --upgrade --quiet pip
  # The deploy extra too, so that the export / onnxruntime tests run.
  .venv/bin/python -m pip install --quiet -e ".[dev,deploy]"
  touch .venv/.installed
fi
