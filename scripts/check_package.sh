#!/usr/bin/env bash
# Build the sdist, build the wheel from that sdist, install the wheel into a clean virtual
# environment and run every tool's --help with it. The tools run from outside the checkout,
# so they import the installed package, not the source tree.
#
#   bash scripts/check_package.sh        (after scripts/setup_env.sh, whose venv has `build`)
#
# Environment: VENV (venv with `build`, default .venv), PKG_VENV (the clean venv, default
# .venv-pkg), PADDLE_PACKAGE (passed to the build: the wheel's Paddle requirement, see
# setup.py). Artifacts go to dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
PKG_VENV=${PKG_VENV:-.venv-pkg}
start=$(date +%s)

rm -rf dist
# Without --sdist/--wheel, build makes the sdist and then the wheel from the unpacked sdist.
"$VENV/bin/python" -m build --outdir dist . > dist.log 2>&1 || { cat dist.log; exit 1; }
rm -f dist.log
sdist=$(ls dist/*.tar.gz)
wheel=$(ls dist/*.whl)
listing=$(tar -tzf "$sdist")
for f in pyproject.toml setup.py requirements*.txt tools/train.py configs; do
  grep -q "^[^/]*/$f/\?\$" <<< "$listing" || { echo "[package] $sdist lacks $f"; exit 1; }
done
echo "[package] built $sdist and $wheel"

rm -rf "$PKG_VENV"
"$VENV/bin/python" -m venv "$PKG_VENV"
"$PKG_VENV/bin/python" -m pip install --quiet "$wheel"
echo "[package] installed $(basename "$wheel") into a clean $PKG_VENV"

PY="$ROOT/$PKG_VENV/bin/python"
cd "$(mktemp -d)"
"$PY" -c "import sys, paddleseg_panoptic as p; assert p.__file__.startswith(sys.prefix), p.__file__"
for tool in "$ROOT"/tools/*.py; do
  out=$("$PY" "$tool" --help 2>help.err) || { cat help.err; echo "[package] $tool --help failed"; exit 1; }
  echo "[package] $(basename "$tool") --help: $(echo "$out" | head -n 1)"
done
echo "[package] wheel check passed in $(( $(date +%s) - start )) s"
