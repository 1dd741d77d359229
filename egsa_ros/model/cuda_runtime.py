"""The few CUDA runtime calls the TensorRT path needs, through NVIDIA's ``cuda-python`` (no torch).

Written against the documented cuda-python API (``cudart`` functions return a tuple whose first
element is the error code). Both module layouts are accepted: ``cuda.bindings.runtime``
(cuda-python >= 12.6) and the older ``cuda.cudart``. Nothing here runs on a machine without a
CUDA device; :func:`cuda_status` says why in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _cudart():
    """The cuda-python runtime module, or None when cuda-python is not installed."""
    try:
        from cuda.bindings import runtime  # noqa: PLC0415 - optional cuda-python (>= 12.6 layout)

        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart  # noqa: PLC0415 - optional cuda-python (older layout)

        return cudart
    except ImportError:
        return None


def _check(result: tuple, what: str) -> Any:
    """Unpack a cudart result tuple; raise RuntimeError naming the call on an error code."""
    err, *values = result
    if int(err) != 0:
        raise RuntimeError(f"CUDA {what} failed: {err}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether cuda-python is installed and sees a CUDA device."""
    cudart = _cudart()
    if cudart is None:
        return False, "the cuda-python package is not installed (pip install cuda-python)"
    try:
        count = _check(cudart.cudaGetDeviceCount(), "cudaGetDeviceCount")
    except RuntimeError as exc:
        return False, f"no usable CUDA device ({exc})"
    if not count:
        return False, "no CUDA device visible"
    return True, "ok"


def device_identity(device: int = 0) -> dict[str, str]:
    """``gpu_name`` and ``gpu_compute_capability`` (e.g. ``8.7``) of a CUDA device."""
    cudart = _cudart()
    if cudart is None:
        raise RuntimeError("the cuda-python package is not installed (pip install cuda-python)")
    props = _check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return {"gpu_name": name.rstrip("\x00"), "gpu_compute_capability": f"{props.major}.{props.minor}"}


class DeviceBuffer:
    """One device allocation of ``nbytes`` bytes (freed by :meth:`free`)."""

    def __init__(self, nbytes: int) -> None:
        self.cudart = _cudart()
        self.nbytes = int(nbytes)
        self.ptr = int(_check(self.cudart.cudaMalloc(self.nbytes), "cudaMalloc"))

    def free(self) -> None:
        if self.ptr:
            self.cudart.cudaFree(self.ptr)
            self.ptr = 0


class CudaStream:
    """A CUDA stream with host <-> device copies of numpy arrays."""

    def __init__(self) -> None:
        self.cudart = _cudart()
        self.handle = _check(self.cudart.cudaStreamCreate(), "cudaStreamCreate")

    def upload(self, buffer: DeviceBuffer, array: np.ndarray) -> None:
        """Copy a C-contiguous host array into ``buffer`` (asynchronous on this stream)."""
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        _check(
            self.cudart.cudaMemcpyAsync(buffer.ptr, array.ctypes.data, array.nbytes, kind, self.handle),
            "cudaMemcpyAsync (host to device)",
        )

    def download(self, array: np.ndarray, buffer: DeviceBuffer) -> None:
        """Copy ``buffer`` into a C-contiguous host array (asynchronous on this stream)."""
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _check(
            self.cudart.cudaMemcpyAsync(array.ctypes.data, buffer.ptr, array.nbytes, kind, self.handle),
            "cudaMemcpyAsync (device to host)",
        )

    def synchronize(self) -> None:
        _check(self.cudart.cudaStreamSynchronize(self.handle), "cudaStreamSynchronize")

    @property
    def address(self) -> int:
        """The stream handle as an integer (for ``execute_async_v3``)."""
        return int(self.handle)
