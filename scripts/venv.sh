#!/usr/bin/env bash
# Installs tenantry into build/venv with pip, the way a user installs it:
# Debian's python3 in a venv that sees Debian's packages (numpy, pytest,
# hypothesis, mypy), then `pip install --no-build-isolation .` (offline: no
# package index is reachable here, and none is needed). `--fresh` starts
# from a new venv. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/venv
if [ "${1:-}" = "--fresh" ]; then
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# --no-index: nothing is fetched; numpy comes from Debian (system site packages).
"$venv/bin/pip" install --quiet --no-index --no-build-isolation --force-reinstall --no-deps . >&2
"$venv/bin/python" -c "import numpy, tenantry" >&2
echo "$venv/bin/python"
