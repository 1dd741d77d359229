"""ament_python package setup for egsa_ros (also a plain pip-installable package)."""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "egsa_ros"


def _files(pattern):
    return [f for f in glob(pattern) if os.path.isfile(f)]


def _requirements(name):
    """The pins of a requirements file, following its ``-r`` includes."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    if not os.path.isfile(path):
        return []
    pins = []
    with open(path) as handle:
        for line in (raw.split("#")[0].strip() for raw in handle):
            if line.startswith("-r "):
                pins += _requirements(line[3:].strip())
            elif line and not line.startswith("-"):
                pins.append(line)
    return pins


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests", "tests.*"]),
    package_data={PACKAGE: ["py.typed", "ros/*.xml", "train/configs/*.yaml", "export/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "LICENSE", "CHANGELOG.rst"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.py") + _files("launch/*.yaml")),
        (f"share/{PACKAGE}/models", _files("models/*")),
        (f"share/{PACKAGE}/models/default_small", _files("models/default_small/*")),
        # The bundled model's camera-frame graphs: the runtime runs them without torch.
        (f"share/{PACKAGE}/models/default_small/graphs", _files("models/default_small/graphs/*")),
        (f"share/{PACKAGE}/data/egsa_sample", _files("data/egsa_sample/*")),
    ],
    python_requires=">=3.10",
    # Dependencies come from rosdep (package.xml) in a ROS workspace, or from the pinned
    # requirements files with pip: runtime = requirements.txt; extras "train" (torch, rendering,
    # export) and "dev" (tests, lint).
    install_requires=["setuptools"],
    extras_require={
        "runtime": _requirements("requirements.txt"),
        "train": _requirements("requirements-train.txt"),
        "dev": _requirements("requirements-test.txt"),
    },
    zip_safe=True,
    maintainer="egsa_ros team",
    maintainer_email="egsa-ros@example.com",
    description="Metric depth and transparent-object masks from one RGB camera (EGSA network).",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "egsa-demo = egsa_ros.demo:main",
            "egsa-synth = egsa_ros.data.synth.cli:main",
            "egsa-train = egsa_ros.train.cli:main",
            "egsa-export = egsa_ros.export.cli:main",
            "egsa-build-engine = egsa_ros.export.engine_cli:main",
            "egsa-bench = egsa_ros.bench.latency:main",
            "egsa_node = egsa_ros.ros.node:main",
            "egsa-eval = egsa_ros.eval.cli:main",
        ],
    },
)
