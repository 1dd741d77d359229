#!/usr/bin/env bash
# The ROS 2 tests again on ROS 2 Jazzy's rclpy wheels (the main environment uses Kilted).
# Creates or reuses .venv-jazzy: requirements.txt with its ros-kilted-* pins swapped for the
# Jazzy pins below, requirements-train.txt (the ROS tests export tiny random networks) and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
PYTEST_PIN=$(grep '^pytest==' requirements-test.txt)
sed -e 's/^ros-kilted-rclpy\[fastrtps\]==.*/ros-jazzy-rclpy[fastrtps]==7.1.6/' \
    -e 's/^ros-kilted-sensor-msgs==.*/ros-jazzy-sensor-msgs==5.3.6/' \
    -e 's/^ros-kilted-diagnostic-msgs==.*/ros-jazzy-diagnostic-msgs==5.3.6/' \
    -e 's/^ros-kilted-visualization-msgs==.*/ros-jazzy-visualization-msgs==5.3.6/' \
    -e 's/^ros-kilted-lifecycle-msgs==.*/ros-jazzy-lifecycle-msgs==2.0.3/' requirements.txt > build/requirements-jazzy.txt
sed -i 's#^-r requirements-python.txt#-r ../requirements-python.txt#' build/requirements-jazzy.txt
grep -v '^-r ' requirements-train.txt >> build/requirements-jazzy.txt
echo "$PYTEST_PIN" >> build/requirements-jazzy.txt
if grep -q '^ros-kilted' build/requirements-jazzy.txt; then
  echo "error: a ros-kilted pin in requirements.txt has no Jazzy counterpart in scripts/test_jazzy.sh" >&2
  exit 1
fi
PY=$(EGSA_VENV=.venv-jazzy scripts/setup_venv.sh build/requirements-jazzy.txt | tail -n 1)
"$PY" -c 'import rclpy, importlib.metadata as m; print("[jazzy] rclpy", m.version("ros-jazzy-rclpy"))'
"$PY" -m pytest tests/test_ros_loopback.py tests/test_node_ros.py tests/test_node_lifecycle.py tests/test_fuzz_node.py tests/test_frame_processing.py tests/test_eval.py "$@"
