#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created on first use).
# Extra arguments go to pytest, e.g. scripts/test.sh -k canny
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements-test.txt | tail -n 1)
# Reinstall the package itself (cheap, no dependencies) so console scripts match the tree.
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests (exit 5): treating as a failure" >&2
  exit 1
fi
exit "$rc"
