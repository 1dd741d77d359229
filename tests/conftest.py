"""Test-suite wide setup.

- Every test process keeps ROS 2 discovery on loopback: the variables are set here, at
  import time, before any test module can import rclpy, and every child process inherits
  them.
- Each test gets its own ROS_DOMAIN_ID (fixture ``ros_domain``) so parallel or leftover
  participants never meet.
- torch uses at most 2 threads, like the target CPU.
"""

from __future__ import annotations

import glob
import itertools
import os
import tempfile

import pytest

from egsa_ros.ros.loopback import loopback_environment

os.environ.setdefault("HOME", tempfile.gettempdir())
loopback_environment(os.environ)

# Domains 10..99, offset by the pid so two suites on one machine rarely collide.
_DOMAINS = itertools.cycle(range(10, 100))
for _ in range(os.getpid() % 90):
    next(_DOMAINS)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~20 s on 2 CPU cores")
    config.addinivalue_line("markers", "ros: starts real rclpy participants (loopback only)")
    try:
        import torch

        torch.set_num_threads(min(2, torch.get_num_threads()))
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def more_ros_domains():
    """Draw further fresh ROS_DOMAIN_IDs (``more_ros_domains(n)``), for nodes a test runs side by
    side that must not discover one another."""
    return lambda n: [next(_DOMAINS) for _ in range(n)]


@pytest.fixture
def ros_domain(monkeypatch):
    """A fresh ROS_DOMAIN_ID for this test (set in os.environ); cleans Fast DDS SHM files after."""
    domain = next(_DOMAINS)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    before = set(glob.glob("/dev/shm/fastdds_*")) | set(glob.glob("/dev/shm/fast_datasharing*"))
    yield domain
    for path in set(glob.glob("/dev/shm/fastdds_*")) - before:
        try:
            os.remove(path)
        except OSError:
            pass
