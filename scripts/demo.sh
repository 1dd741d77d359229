#!/usr/bin/env bash
# The main job on the bundled defaults (creates the virtual environment on first use).
# Extra arguments go to egsa-demo, e.g. scripts/demo.sh --frames 10
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements.txt | tail -n 1)
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)
exec "$PY" -m egsa_ros.demo "$@"
