"""Save several ONNX graphs so that equal weight tensors are stored once, in one shared file.

The bundled model ships a static 480x640 graph and a dynamic-size graph exported from the same
weights; stored separately they would hold every weight twice. Here each graph keeps its own
structure and small constants, and every large initializer points (ONNX external data: location,
offset, length) into one ``weights.bin`` beside them, written once per distinct tensor.
ONNX Runtime reads external data relative to the graph file, so the folder must stay together.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
from onnx import external_data_helper, numpy_helper

ALIGNMENT = 4096  # bytes; page-aligned offsets let ONNX Runtime memory-map the weights


def save_sharing_weights(
    graphs: dict[str, onnx.ModelProto], folder: str | Path, *, data_name: str = "weights.bin", min_bytes: int = 1024
) -> dict[str, int]:
    """Write ``{file name: graph}`` into ``folder`` with shared external weights.

    Args:
        graphs: ONNX graphs keyed by the file name to write (e.g. ``frame_480x640.onnx``).
        folder: output folder (created); ``data_name`` is written there.
        data_name: the shared weights file.
        min_bytes: initializers smaller than this stay inside their graph.

    Returns:
        ``{"tensors": distinct tensors stored, "bytes": size of the weights file, "shared": tensor
        references that reused an already stored tensor}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored: dict[str, tuple[int, int]] = {}
    shared = 0
    with open(folder / data_name, "wb") as data:
        for name, proto in graphs.items():
            for tensor in proto.graph.initializer:
                raw = numpy_helper.to_array(tensor).tobytes()
                if len(raw) < min_bytes:
                    continue
                key = hashlib.sha256(raw + str(tensor.data_type).encode() + str(list(tensor.dims)).encode()).hexdigest()
                if key in stored:
                    shared += 1
                else:
                    offset = data.tell()
                    data.write(raw)
                    data.write(b"\0" * (-data.tell() % ALIGNMENT))
                    stored[key] = (offset, len(raw))
                offset, length = stored[key]
                replacement = numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name)
                tensor.CopyFrom(replacement)
                external_data_helper.set_external_data(tensor, location=data_name, offset=offset, length=length)
                tensor.ClearField("raw_data")
                tensor.data_location = onnx.TensorProto.EXTERNAL
            onnx.save(proto, str(folder / name))
        size = data.tell()
    return {"tensors": len(stored), "bytes": size, "shared": shared}
