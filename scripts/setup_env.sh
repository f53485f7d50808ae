#!/usr/bin/env bash
# Create (or reuse) a virtual environment and install the package (editable) with its
# requirements into it.
#
#   bash scripts/setup_env.sh                                   # .venv, CPU Paddle 3.x
#   PADDLE_PACKAGE="paddlepaddle==2.6.2" VENV=.venv26 bash scripts/setup_env.sh   # Paddle 2.6
#   PADDLE_PACKAGE=paddlepaddle-gpu bash scripts/setup_env.sh   # PyPI's GPU build (Paddle 2.6.2)
#   PADDLE_PACKAGE=none bash scripts/setup_env.sh               # keep the Paddle in $VENV
#
# Environment: VENV (default .venv), PYTHON (interpreter for a new venv, default python3),
# PADDLE_PACKAGE (which Paddle; see setup.py: an installed paddlepaddle-gpu is never replaced
# by the CPU build), EXTRAS (default dev,deploy: with deploy the export and onnxruntime tests
# run). Reinstalls when the requirement files, the packaging or the choice changed since the
# last install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-dev,deploy}
CHOICE="PADDLE_PACKAGE=${PADDLE_PACKAGE:-} EXTRAS=$EXTRAS"
MARK="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
stale=0
[ -f "$MARK" ] && [ "$(cat "$MARK")" = "$CHOICE" ] || stale=1
for f in pyproject.toml setup.py requirements*.txt; do
  [ "$f" -nt "$MARK" ] && stale=1
done
if [ "$stale" = 1 ] || ! "$VENV/bin/python" -c "import paddleseg_panoptic" >/dev/null 2>&1; then
  echo "[setup] installing paddleseg_panoptic[$EXTRAS] into $VENV ($CHOICE)"
  "$VENV/bin/python" -m pip install --upgrade --quiet pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
  echo "$CHOICE" > "$MARK"
fi
"$VENV/bin/python" -c "import paddle; print('[setup] $VENV: Paddle', paddle.__version__)" \
  2>/dev/null || echo "[setup] $VENV: Paddle is not installed (PADDLE_PACKAGE=none)"
