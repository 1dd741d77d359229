"""ament_python package setup for egsa_ros (also a plain pip-installable package)."""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "egsa_ros"


def _files(pattern):
    return [f for f in glob(pattern) if os.path.isfile(f)]


def _requirements(name):
    """The pins of one requirements file (its own lines, without the files it includes)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        lines = [line.split("#")[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith("-")]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests", "tests.*"]),
    package_data={PACKAGE: ["py.typed", "ros/*.xml", "train/configs/*.yaml", "export/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.py") + _files("launch/*.yaml")),
        (f"share/{PACKAGE}/models", _files("models/*")),
        (f"share/{PACKAGE}/models/default_small", _files("models/default_small/*")),
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
        "dev": _requirements("requirements-train.txt") + _requirements("requirements-test.txt"),
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
