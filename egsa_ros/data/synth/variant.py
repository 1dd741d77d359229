"""Choosing and setting the Mitsuba variant.

``llvm_ad_rgb`` is ~4x faster on the CPU but needs an LLVM >= 16 shared library (Debian:
``apt-get install libllvm19``) named by ``DRJIT_LIBLLVM_PATH``; with the system LLVM 15 the
process aborts, so it is probed in a child process. ``scalar_rgb`` needs nothing.
``cuda_ad_rgb`` renders on an NVIDIA GPU (its driver's CUDA); only on request, never by ``auto``
(the model card's splits are ``llvm_ad_rgb`` renders), and refused with a reason where no GPU works.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

VARIANTS = ("auto", "scalar_rgb", "llvm_ad_rgb", "cuda_ad_rgb")
LLVM_LIBRARY_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.19*",
    "/usr/lib/x86_64-linux-gnu/libLLVM-19.so",
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.2*",
    "/usr/lib/aarch64-linux-gnu/libLLVM.so.19*",
    "/usr/lib/llvm-1[6-9]/lib/libLLVM*.so*",
    "/usr/lib/llvm-2*/lib/libLLVM*.so*",
)

_PROBE = (
    "import mitsuba as mi; mi.set_variant('{variant}'); import drjit as dr; "
    "s = mi.load_dict({{'type': 'scene', 'sphere': {{'type': 'sphere'}}}}, optimize=False); "
    "r = mi.Ray3f(mi.Point3f(0, 0, -5), mi.Vector3f(0, 0, 1)); "
    "t = s.ray_intersect(r).t; dr.eval(t); assert abs(t[0] - 4) < 1e-3"
)


def llvm_environment(environ=None) -> dict:
    """A copy of ``environ`` with ``DRJIT_LIBLLVM_PATH`` set to a usable LLVM if one is found."""
    env = dict(os.environ if environ is None else environ)
    if not env.get("DRJIT_LIBLLVM_PATH"):
        for pattern in LLVM_LIBRARY_GLOBS:
            hits = sorted(glob.glob(pattern))
            if hits:
                env["DRJIT_LIBLLVM_PATH"] = hits[0]
                break
    return env


def _traces_a_ray(variant: str, env: dict, timeout_s: float) -> bool:
    """True if ``variant`` traces one ray in a child process (a bad LLVM or CUDA may abort it)."""
    try:
        res = subprocess.run(
            [sys.executable, "-c", _PROBE.format(variant=variant)],
            env=env,
            timeout=timeout_s,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return res.returncode == 0


def llvm_works(timeout_s: float = 120.0) -> bool:
    """True if ``llvm_ad_rgb`` can trace a ray, tried in a child process (a bad LLVM aborts)."""
    env = llvm_environment()
    if not env.get("DRJIT_LIBLLVM_PATH"):
        return False
    return _traces_a_ray("llvm_ad_rgb", env, timeout_s)


def cuda_works(timeout_s: float = 120.0) -> bool:
    """True if ``cuda_ad_rgb`` can trace a ray here (an NVIDIA GPU and driver), in a child process."""
    return _traces_a_ray("cuda_ad_rgb", dict(os.environ), timeout_s)


def resolve_variant(name: str = "auto") -> str:
    """``auto`` -> ``llvm_ad_rgb`` if it works here, else ``scalar_rgb``; ``cuda_ad_rgb`` only
    where it traces a ray (else ValueError with the reason); others pass through."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {VARIANTS}")
    if name == "auto":
        return "llvm_ad_rgb" if llvm_works() else "scalar_rgb"
    if name == "cuda_ad_rgb" and not cuda_works():
        raise ValueError(
            "variant cuda_ad_rgb: no NVIDIA GPU with a working CUDA driver here (Mitsuba could not "
            "trace a ray with it); use --variant auto (llvm_ad_rgb on the CPU)"
        )
    return name


def set_variant(name: str):
    """Set Mitsuba's variant (one of :data:`VARIANTS` but ``auto``) and return the ``mitsuba`` module.

    For ``llvm_ad_rgb`` this sets ``DRJIT_LIBLLVM_PATH`` in this process when it is unset
    and a library is found. Do not call ``dr.set_thread_count()`` afterwards.
    """
    if name == "llvm_ad_rgb":
        os.environ.update(llvm_environment())
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only when a variant is chosen

    mi.set_variant(name)
    return mi


def is_vectorized(mi) -> bool:
    """True for JIT (llvm/cuda) variants, whose arrays hold many lanes."""
    return not mi.variant().startswith("scalar")
