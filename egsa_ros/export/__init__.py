"""Export to ONNX (one camera-frame graph), TensorRT parser rules, TensorRT engines."""
from .onnx_export import (OPSET, export_frame_onnx, export_network_onnx, frame_parity, onnx_op_types, onnx_parity,
                          read_frame_metadata)

__all__ = ["OPSET", "export_frame_onnx", "export_network_onnx", "frame_parity", "onnx_op_types", "onnx_parity",
           "read_frame_metadata"]
