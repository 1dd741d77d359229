#!/usr/bin/env bash
# Create or reuse the project's virtual environment (.venv) with the pinned dependencies.
# Usage: scripts/setup_venv.sh [requirements file]   (default: requirements-test.txt)
# Prints the venv's python path on the last line. Re-runs pip only when the requirements
# or setup.py changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ="${1:-requirements-test.txt}"
VENV="${EGSA_VENV:-.venv}"

pick_python() {
  # 3.11 first: a local CPU wheel of torch 2.13.0 exists for it on the project machines.
  for py in python3.11 python3.12 python3.10 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "error: egsa_ros needs Python 3.10-3.12 (python3.11 preferred); none found" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY=$(pick_python)
  echo "[setup] creating $VENV with $($PY --version 2>&1)" >&2
  "$PY" -m venv "$VENV" >&2 || {
    echo "error: '$PY -m venv' failed; on Debian/Ubuntu: sudo apt install python3-venv" >&2; exit 1; }
fi

stamp="$VENV/.egsa-install-stamp"
want=$(cat "$REQ" requirements*.txt setup.py package.xml | sha256sum | cut -d' ' -f1)-$REQ
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned dependencies from $REQ (first run: a few minutes)" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade "pip>=23.2" >&2 2> >(grep -v "is ignored" >&2)
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" >&2 2> >(grep -v "is ignored" >&2)
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps . >&2 2> >(grep -v "is ignored" >&2)
  echo "$want" > "$stamp"
else
  echo "[setup] reusing $VENV (dependencies up to date)" >&2
fi
echo "$VENV/bin/python"
