#!/usr/bin/env bash
# Set up the virtual environment (if needed) and run the test suite. Extra arguments go to
# pytest. The environment is .venv, or VENV with PADDLE_PACKAGE as for scripts/setup_env.sh:
#   PADDLE_PACKAGE="paddlepaddle==2.6.2" VENV=.venv26 bash scripts/test.sh   # on Paddle 2.6.2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
