"""Where the package's data lives: bundled model, sample bag, launch and params files.

Looked up, in order:

1. the source tree this module sits in (a git checkout or ``colcon build --symlink-install``);
2. the ROS package share directory through ``ament_index_python`` (a colcon install space:
   ``install/egsa_ros/share/egsa_ros``), when that library is importable and the package is
   on ``AMENT_PREFIX_PATH``;
3. ``<prefix>/share/egsa_ros`` for the interpreter's prefixes (``pip install .`` into a venv or
   the system, colcon's install space when this module was loaded from it).

Only the standard library is needed; ``ament_index_python`` is used when present.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "egsa_ros"


def _ament_share_directory() -> Path | None:
    """The package's share directory from the ament index, or None."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory  # noqa: PLC0415 - optional (ROS only)
    except ImportError:  # not a ROS environment: the other locations still apply
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (PackageNotFoundError, ValueError, LookupError, OSError):  # OSError: AMENT_PREFIX_PATH unset
        return None


def _prefix_of_this_module() -> Path | None:
    """``<prefix>`` when this file is installed as ``<prefix>/lib/pythonX.Y/site-packages/egsa_ros``."""
    here = Path(__file__).resolve().parent
    for parent in here.parents:
        if parent.name == "lib" or parent.name == "lib64":
            return parent.parent
    return None


def share_roots() -> list[Path]:
    """Candidate roots, most specific first (source tree, ament share, prefix shares)."""
    roots: list[Path] = [Path(__file__).resolve().parents[1]]
    ament = _ament_share_directory()
    if ament is not None:
        roots.append(ament)
    for prefix in (_prefix_of_this_module(), Path(sys.prefix), Path(sys.base_prefix)):
        if prefix is not None:
            roots.append(prefix / "share" / PACKAGE)
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def find_data(relative: str, *, marker: str | None = None) -> Path | None:
    """The first existing ``<root>/<relative>`` over :func:`share_roots`, or None.

    Args:
        relative: a path inside the package's share directory, e.g. ``models/default_small``.
        marker: a file that must exist inside ``relative`` (a directory) for it to count,
            e.g. ``checkpoint.json``; None: the path itself must exist.
    """
    for root in share_roots():
        path = root / relative
        if (path / marker).is_file() if marker else path.exists():
            return path
    return None


def searched_locations(relative: str) -> list[str]:
    """Every location :func:`find_data` looks at for ``relative`` (for error messages)."""
    return [str(root / relative) for root in share_roots()]
