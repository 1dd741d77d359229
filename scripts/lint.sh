#!/usr/bin/env bash
# Style and layer gate (CI runs it before the tests): ruff lint, ruff format check, import layers.
# Uses the project's virtual environment (created on first use). `scripts/lint.sh --fix` applies
# ruff's fixes and formatting instead of only checking.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements-test.txt | tail -n 1)
BIN=$(dirname "$PY")
if [ "${1:-}" = "--fix" ]; then
  "$BIN/ruff" check --fix .
  "$BIN/ruff" format .
fi
echo "[lint] ruff check"
"$BIN/ruff" check .
echo "[lint] ruff format --check"
"$BIN/ruff" format --check .
echo "[lint] lint-imports (layers, no rclpy below ros, no torch in inference)"
"$BIN/lint-imports"
