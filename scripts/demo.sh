#!/usr/bin/env bash
# The main job: the bundled sample bag (24 rendered glassware frames with ground truth) played
# live into egsa_node (a separate process, loopback-only private ROS domain) with the bundled
# model; prints a summary and writes the report to out/eval/ (report.md, panels, latency plot).
# Creates the virtual environment on first use. Extra arguments go to egsa-eval, e.g.
#   scripts/demo.sh --offline      (pipeline only, no ROS graph)
#   scripts/demo.sh my_bag/ --image-topic /camera/color/image_raw
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/setup_venv.sh requirements.txt | tail -n 1)
"$PY" -m pip install --disable-pip-version-check -q --no-deps . 2> >(grep -v "is ignored" >&2)
exec "$PY" -m egsa_ros.eval.cli "$@"
