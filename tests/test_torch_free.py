"""Inference without torch: the bundled model runs from the camera-frame graphs it ships.

A child Python gets an import hook that makes ``torch`` unimportable (as on a robot that only
installed the runtime requirements); its outputs must equal the torch path's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from egsa_ros.data.generated import tabletop_frame
from egsa_ros.model.frame_graph import CameraFrameModel
from egsa_ros.model.loading import load_network

REPO = Path(__file__).resolve().parents[1]
SIZES = [(480, 640), (240, 320)]

BLOCK_TORCH = textwrap.dedent('''
    import sys

    class _NoTorch:
        """Refuse torch and every torch submodule, as if it were not installed."""

        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"No module named {name!r} (made unimportable by the test)")
            return None

    sys.meta_path.insert(0, _NoTorch())
''')


def torch_free_env(tmp_path: Path) -> dict:
    """Environment whose Python cannot import torch (a sitecustomize installs the hook)."""
    hook_dir = tmp_path / "no_torch"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(BLOCK_TORCH)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), str(REPO)])
    env.pop("EGSA_MODEL", None)
    return env


def run_without_torch(script: str, tmp_path: Path, timeout_s: float) -> subprocess.CompletedProcess:
    """Run a Python ``script`` in a child that cannot import torch; stdout/stderr as text."""
    return subprocess.run(
        [sys.executable, "-c", script],
        env=torch_free_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=tmp_path,
    )


def test_the_hook_really_blocks_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import torch"], env=torch_free_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "made unimportable" in result.stderr


def test_load_pipeline_runs_the_bundled_model_without_torch_and_matches_the_torch_path(tmp_path):
    out = tmp_path / "outputs.npz"
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from egsa_ros import load_pipeline
        from egsa_ros.data.generated import tabletop_frame
        import egsa_ros.runtime, egsa_ros.runtime.depth_completion, egsa_ros.runtime.point_cloud
        pipe = load_pipeline()
        arrays = {{}}
        for h, w in {SIZES!r}:
            pred = pipe(tabletop_frame(11, h, w))
            arrays[f"depth_{{h}}x{{w}}"] = pred.depth
            arrays[f"mask_{{h}}x{{w}}"] = pred.mask
        np.savez({str(out)!r}, **arrays)
        assert "torch" not in sys.modules, "torch was imported"
        print("MODEL", pipe.model_name, "|", pipe.backend_name, "| trained", pipe.trained)
    """)
    result = run_without_torch(script, tmp_path, timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "default_small (trained" in result.stdout and "trained True" in result.stdout
    got = np.load(out)
    network, options, _ = load_network(None)
    for h, w in SIZES:
        frame_model = CameraFrameModel(network, (h, w), options=options).eval()
        with torch.no_grad():
            depth, mask = frame_model(torch.from_numpy(tabletop_frame(11, h, w)))
        assert np.abs(got[f"depth_{h}x{w}"] - depth.numpy()).max() <= 1e-4
        assert np.array_equal(got[f"mask_{h}x{w}"], mask.numpy())


def test_a_model_without_shipped_graphs_says_torch_is_needed(tmp_path):
    script = textwrap.dedent("""
        from egsa_ros import load_pipeline
        try:
            load_pipeline("tiny")
        except RuntimeError as exc:
            print("REFUSED", exc)
    """)
    result = run_without_torch(script, tmp_path, timeout_s=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REFUSED" in result.stdout and "needs torch" in result.stdout


@pytest.mark.ros
@pytest.mark.slow
def test_egsa_node_runs_the_bundled_model_without_torch_and_matches_the_torch_path(ros_domain, tmp_path, monkeypatch):
    """A live egsa_node whose Python cannot import torch answers a camera frame with the bundled
    model; its depth and mask equal the torch camera-frame graph's on the same frame."""
    rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels (ros-kilted-rclpy) not installed")
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from egsa_ros.ros.conversions import depth_from_msg
    from egsa_ros.ros.node_process import start_node, stop_node

    monkeypatch.setenv("PYTHONPATH", torch_free_env(tmp_path)["PYTHONPATH"])
    monkeypatch.delenv("EGSA_MODEL", raising=False)
    namespace, (h, w) = "/egsa_no_torch", (240, 320)
    frame = tabletop_frame(12, h, w)
    proc = start_node(namespace, {"backend": "onnxruntime", "expected_frame_size": f"{h}x{w}"})
    rclpy.init()
    node = rclpy.create_node("torch_free_harness")
    got = {"depth": [], "mask": []}
    try:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        pub = node.create_publisher(Image, f"{namespace}/image", reliable)
        for name in got:
            node.create_subscription(Image, f"{namespace}/{name}/image", got[name].append, reliable)
        msg = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=frame.tobytes())
        msg.header.frame_id = "camera_color_optical_frame"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (got["depth"] and got["mask"]):
            msg.header.stamp = node.get_clock().now().to_msg()
            pub.publish(msg)  # again until the node is up and answers
            end = time.monotonic() + 1.0
            while time.monotonic() < end and not (got["depth"] and got["mask"]):
                rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        log = stop_node(proc, then=lambda: (node.destroy_node(), rclpy.shutdown()))
    assert got["depth"] and got["mask"], f"no answer from the torch-free node:\n{log[-3000:]}"
    assert "default_small (trained" in log and "Traceback" not in log, log[-3000:]
    network, options, _ = load_network(None)
    with torch.no_grad():
        depth, mask = CameraFrameModel(network, (h, w), options=options).eval()(torch.from_numpy(frame))
    node_depth = depth_from_msg(got["depth"][-1])
    node_mask = np.frombuffer(got["mask"][-1].data, np.uint8).reshape(h, w)
    assert np.abs(node_depth - depth.numpy()).max() <= 1e-4
    assert np.array_equal(node_mask > 0, mask.numpy() > 0)
