"""The package installs as an ament_python package: manifest, wheel contents, entry points."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_package_xml_is_format_3_ament_python_with_the_runtime_dependencies():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "egsa_ros"
    assert root.find("export/build_type").text == "ament_python"
    exec_deps = {e.text for e in root.findall("exec_depend")}
    for dep in ("rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "lifecycle_msgs",
                "python3-numpy", "python3-opencv", "python3-torch"):
        assert dep in exec_deps, f"package.xml lacks exec_depend {dep}"
    assert (ROOT / "resource" / "egsa_ros").is_file()
    setup_cfg = (ROOT / "setup.cfg").read_text()
    assert "install_scripts=$base/lib/egsa_ros" in setup_cfg


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("egsa_ros-*.whl")
    return path


def test_wheel_installs_the_ament_index_marker_manifest_and_dds_profile(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    data = "egsa_ros-0.1.0.data/data/"
    assert data + "share/ament_index/resource_index/packages/egsa_ros" in names
    assert data + "share/egsa_ros/package.xml" in names
    assert "egsa_ros/ros/fastdds_loopback.xml" in names
    assert "egsa_ros/model/net.py" in names
    assert "egsa_ros/export/tensorrt_onnx_ops.yaml" in names  # the TensorRT parser rules (data)
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_declares_the_console_scripts(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (ep,) = [n for n in zf.namelist() if n.endswith("entry_points.txt")]
        entry_points = zf.read(ep).decode()
    import importlib

    for script in ("egsa-demo", "egsa-synth", "egsa-train", "egsa-export", "egsa-build-engine", "egsa-bench",
                   "egsa-eval", "egsa_node"):
        assert f"{script} = " in entry_points, script
        module, func = entry_points.split(f"{script} = ")[1].split()[0].split(":")
        assert callable(getattr(importlib.import_module(module), func)), script


def test_colcon_builds_the_package_in_a_ros2_workspace(tmp_path):
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        pytest.skip("colcon is not installed in this environment (requirements-test.txt installs it)")
    src = tmp_path / "ws" / "src" / "egsa_ros"
    src.mkdir(parents=True)
    for item in ("package.xml", "setup.py", "setup.cfg", "resource", "egsa_ros", "launch", "models", "README.md"):
        target = src / item
        if (ROOT / item).is_dir():
            import shutil

            shutil.copytree(ROOT / item, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.write_bytes((ROOT / item).read_bytes())
    proc = subprocess.run([str(colcon), "build", "--packages-select", "egsa_ros"], cwd=tmp_path / "ws",
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    install = tmp_path / "ws" / "install" / "egsa_ros"
    # `ros2 run egsa_ros <exe>` looks in lib/<package>; the ament index marks the package.
    assert (install / "lib" / "egsa_ros" / "egsa-demo").is_file()
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "egsa_ros").is_file()
    assert (install / "share" / "egsa_ros" / "package.xml").is_file()
