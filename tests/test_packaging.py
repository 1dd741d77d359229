"""The package installs as an ament_python package: manifest, wheel contents, entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# rosdep keys checked against rosdistro (python.yaml / base.yaml, late 2026). onnx, onnxslim and
# safetensors have none (pip, requirements.txt).
VERIFIED_ROSDEP_KEYS = {
    "python3-numpy",
    "python3-opencv",
    "python3-yaml",
    "python3-scipy",
    "python3-tqdm",
    "python3-matplotlib",
    "python3-torch",
    "python3-onnxruntime-pip",
    "python3-rosbags-pip",
    "python3-tensorboardX-pip",
    "python3-pytest",
}
ROS_PACKAGES = {
    "rclpy",
    "ament_index_python",
    "builtin_interfaces",
    "std_msgs",
    "sensor_msgs",
    "geometry_msgs",
    "diagnostic_msgs",
    "lifecycle_msgs",
    "rcl_interfaces",
    "visualization_msgs",
}
PYTHON_KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "yaml": "python3-yaml",
    "scipy": "python3-scipy",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "torch": "python3-torch",
    "onnxruntime": "python3-onnxruntime-pip",
    "rosbags": "python3-rosbags-pip",
    "tensorboardX": "python3-tensorboardX-pip",
}


def _imports_by_file(folder: Path = ROOT / "egsa_ros"):
    """(path, set of absolutely imported module names) for every Python file under ``folder``."""
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        yield path, names


def _imported_top_level_modules():
    return set().union(*(names for _, names in _imports_by_file()))


def test_package_xml_declares_every_import_with_existing_rosdep_keys_only():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "egsa_ros"
    assert root.find("export/build_type").text == "ament_python"
    exec_deps = {e.text for e in root.findall("exec_depend")}
    all_deps = exec_deps | {e.text for e in root.findall("test_depend")} | {e.text for e in root.findall("depend")}
    python_keys = {d for d in all_deps if d.startswith("python3-")}
    assert python_keys <= VERIFIED_ROSDEP_KEYS, f"unverified rosdep keys: {python_keys - VERIFIED_ROSDEP_KEYS}"
    assert {d for d in all_deps if not d.startswith("python3-")} <= ROS_PACKAGES
    imported = _imported_top_level_modules()
    tops = {name.split(".")[0] for name in imported}
    for module in tops & ROS_PACKAGES:
        assert module in exec_deps, f"egsa_ros imports {module} but package.xml does not declare it"
    for module, key in PYTHON_KEYS.items():
        if module in tops:
            assert key in exec_deps, f"egsa_ros imports {module}: package.xml needs {key}"
    # declared ROS packages are used (lifecycle_msgs through rclpy.lifecycle)
    used = tops | ({"lifecycle_msgs"} if "rclpy.lifecycle" in imported else set()) | {"builtin_interfaces"}
    assert {d for d in exec_deps if d in ROS_PACKAGES} <= used
    assert (ROOT / "resource" / "egsa_ros").is_file()
    setup_cfg = (ROOT / "setup.cfg").read_text()
    assert "install_scripts=$base/lib/egsa_ros" in setup_cfg
    assert root.find("license").get("file") == "LICENSE" and root.findtext("license") == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "CHANGELOG.rst").read_text().startswith("^^^")


# Imported only by training, export and benchmarks: rosdep installs them on request only.
TRAINING_ONLY_KEYS = {"python3-torch", "python3-tensorboardX-pip"}


def _python_keys_rosdep_installs(environment: dict) -> set:
    """The python3-* exec dependencies rosdep resolves for ``environment`` (catkin_pkg evaluates
    each ``condition`` attribute against the environment, as rosdep does with os.environ)."""
    from catkin_pkg.package import parse_package

    package = parse_package(str(ROOT / "package.xml"))
    package.evaluate_conditions(environment)
    return {d.name for d in package.exec_depends if d.evaluated_condition and d.name.startswith("python3-")}


def test_rosdep_installs_torch_only_for_training():
    robot = _python_keys_rosdep_installs({"ROS_VERSION": "2", "ROS_DISTRO": "jazzy"})
    trainer = _python_keys_rosdep_installs({"ROS_VERSION": "2", "ROS_DISTRO": "jazzy", "EGSA_ROS_TRAINING": "1"})
    assert not robot & TRAINING_ONLY_KEYS, robot
    assert trainer == robot | TRAINING_ONLY_KEYS
    assert {"python3-onnxruntime-pip", "python3-numpy", "python3-opencv"} <= robot
    # the node's and egsa-eval's layers never import the training-only libraries
    for layer in ("ros", "runtime", "eval", "geometry"):
        for path, names in _imports_by_file(ROOT / "egsa_ros" / layer):
            if path.name == "torch_backend.py":  # loaded only when backend:=torch is asked for
                continue
            assert not any(n.split(".")[0] in ("torch", "tensorboardX") for n in names), path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
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

    for script in (
        "egsa-demo",
        "egsa-synth",
        "egsa-train",
        "egsa-export",
        "egsa-build-engine",
        "egsa-bench",
        "egsa-eval",
        "egsa_node",
    ):
        assert f"{script} = " in entry_points, script
        module, func = entry_points.split(f"{script} = ")[1].split()[0].split(":")
        assert callable(getattr(importlib.import_module(module), func)), script


@pytest.mark.ros
@pytest.mark.slow
def test_colcon_builds_the_package_in_a_ros2_workspace(tmp_path, ros_domain):
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        pytest.skip("colcon is not installed in this environment (requirements-test.txt installs it)")
    src = tmp_path / "ws" / "src" / "egsa_ros"
    src.mkdir(parents=True)
    # What a clone of the repository holds that the build reads.
    for item in (
        "package.xml",
        "setup.py",
        "setup.cfg",
        "resource",
        "egsa_ros",
        "launch",
        "models",
        "data",
        "README.md",
        "LICENSE",
        "CHANGELOG.rst",
        "requirements.txt",
        "requirements-python.txt",
        "requirements-train.txt",
        "requirements-test.txt",
    ):
        target = src / item
        if (ROOT / item).is_dir():
            import shutil

            shutil.copytree(ROOT / item, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.write_bytes((ROOT / item).read_bytes())
    proc = subprocess.run(
        [str(colcon), "build", "--packages-select", "egsa_ros"],
        cwd=tmp_path / "ws",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    install = tmp_path / "ws" / "install" / "egsa_ros"
    # `ros2 run egsa_ros <exe>` looks in lib/<package>; the ament index marks the package.
    assert (install / "lib" / "egsa_ros" / "egsa-demo").is_file()
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "egsa_ros").is_file()
    assert (install / "share" / "egsa_ros" / "package.xml").is_file()
    # The bundled model with the graphs that let it run without torch.
    graphs = install / "share" / "egsa_ros" / "models" / "default_small" / "graphs"
    assert {p.name for p in graphs.iterdir()} >= {"frame_480x640.onnx", "frame_dynamic.onnx", "weights.bin"}
    _installed_node_runs_the_bundled_model(install, tmp_path)


def _python_path_without_egsa_ros(tmp_path: Path) -> Path:
    """A directory with links to everything in this interpreter's site-packages except egsa_ros
    (the installed copy), to be added with site.addsitedir (its .pth files apply)."""
    import sysconfig

    farm = tmp_path / "site_without_egsa_ros"
    farm.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "egsa_ros" not in entry.name:
            (farm / entry.name).symlink_to(entry)
    return farm


def _installed_node_runs_the_bundled_model(install: Path, tmp_path: Path) -> None:
    """The colcon install space's egsa_node, started by a Python that has no egsa_ros of its own,
    finds the bundled model in the package's share directory."""
    import os
    import signal

    from egsa_ros.ros.loopback import loopback_environment

    (site,) = (install / "lib").glob("python3*/site-packages")
    farm = _python_path_without_egsa_ros(tmp_path)
    script = install / "lib" / "egsa_ros" / "egsa_node"
    bootstrap = (
        f"import runpy, site, sys; site.addsitedir({str(site)!r}); site.addsitedir({str(farm)!r}); "
        f"import egsa_ros; assert egsa_ros.__file__.startswith({str(install)!r}), egsa_ros.__file__; "
        f"sys.argv = [{str(script)!r}] + sys.argv[1:]; runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    env = loopback_environment(dict(os.environ))
    env.pop("PYTHONPATH", None)
    env["AMENT_PREFIX_PATH"] = str(install)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-S",
            "-c",
            bootstrap,
            "--ros-args",
            "-r",
            "__ns:=/egsa_colcon",
            "-p",
            "expected_frame_size:=48x64",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "ready:" in line or len(lines) > 200:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    out = "".join(lines) + rest
    ready = [line for line in lines if "ready:" in line]
    assert ready and "default_small" in ready[0] and "random" not in ready[0], out[-3000:]
    assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]
