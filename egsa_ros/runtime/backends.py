"""The backends by name; each module is imported only when its backend is asked for.

- ``onnxruntime`` (:mod:`.onnxruntime_backend`): exported camera-frame graphs; providers
  TensorRT EP -> CUDA -> CPU (whatever is installed). No torch.
- ``tensorrt`` (:mod:`.tensorrt_backend`): a serialized engine. No torch.
- ``torch`` (:mod:`.torch_backend`): the module itself on CPU or CUDA; needs torch.
"""

from __future__ import annotations

from .backend import Backend

BACKENDS = ("torch", "onnxruntime", "tensorrt")


def make_backend(name: str, **options) -> Backend:
    """Build backend ``name``; ``options`` go to its constructor (see each backend class)."""
    if name == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend  # noqa: PLC0415 - onnxruntime is optional (auto falls back to torch)

        return OnnxRuntimeBackend(**options)
    if name == "tensorrt":
        from .tensorrt_backend import TensorRTBackend  # noqa: PLC0415 - TensorRT machines only

        return TensorRTBackend(**options)
    if name == "torch":
        from .torch_backend import TorchBackend  # noqa: PLC0415 - torch: runtime must import without it

        return TorchBackend(**options)
    raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
