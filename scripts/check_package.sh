#!/usr/bin/env bash
# Build the sdist, build the wheel from that sdist, install the wheel (with its dev extra) into
# a clean virtual environment and run every tool's --help with it. The tools run from outside
# the checkout, so they import the installed package, not the source tree.
#
#   bash scripts/check_package.sh                       # clean .venv-pkg, newest Paddle
#   PKG_PADDLE="paddlepaddle==2.6.2" PKG_VENV=.venv26 bash scripts/check_package.sh
#       # installs that Paddle first; the wheel keeps it, as `pip install` keeps any
#       # Paddle>=2.6. CI then runs the suite in .venv26 against the installed wheel.
#
# Environment: VENV (venv with `build`, default .venv, from scripts/setup_env.sh), PKG_VENV
# (the clean venv, default .venv-pkg, replaced), PKG_PADDLE (a Paddle requirement to install
# first), PKG_EXTRAS (the extras installed with the wheel, default dev), PADDLE_PACKAGE
# (passed to the build: the wheel's Paddle requirement, see setup.py).
# Artifacts go to dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
PKG_VENV=${PKG_VENV:-.venv-pkg}
PKG_EXTRAS=${PKG_EXTRAS:-dev}
start=$(date +%s)

rm -rf dist
mkdir dist
# Without --sdist/--wheel, build makes the sdist and then the wheel from the unpacked sdist.
"$VENV/bin/python" -m build --outdir dist . > dist/build.log 2>&1 || { cat dist/build.log; exit 1; }
sdist=$(ls dist/*.tar.gz)
wheel=$(ls dist/*.whl)
listing=$(tar -tzf "$sdist")
for f in pyproject.toml setup.py requirements*.txt tools/train.py configs; do
  grep -q "^[^/]*/$f/\?\$" <<< "$listing" || { echo "[package] $sdist lacks $f"; exit 1; }
done
echo "[package] built $sdist and $wheel"

rm -rf "$PKG_VENV"
"$VENV/bin/python" -m venv "$PKG_VENV"
PY="$ROOT/$PKG_VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
if [ -n "${PKG_PADDLE:-}" ]; then
  "$PY" -m pip install --quiet "$PKG_PADDLE"
fi
"$PY" -m pip install --quiet "$wheel[$PKG_EXTRAS]"
echo "[package] installed $(basename "$wheel")[$PKG_EXTRAS] into a clean $PKG_VENV" \
     "($("$PY" -m pip list 2>/dev/null | grep -i '^paddlepaddle' | tr -s ' '))"

cd "$(mktemp -d)"
"$PY" -c "import sys, paddleseg_panoptic as p; assert p.__file__.startswith(sys.prefix), p.__file__"
for tool in "$ROOT"/tools/[!_]*.py; do  # tools/_package.py is a helper, not a tool
  out=$("$PY" "$tool" --help 2>help.err) || { cat help.err; echo "[package] $tool --help failed"; exit 1; }
  echo "[package] $(basename "$tool") --help: $(echo "$out" | head -n 1)"
done
echo "[package] wheel check passed in $(( $(date +%s) - start )) s"
