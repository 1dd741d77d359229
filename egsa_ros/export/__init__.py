"""Export of the EGSA network to ONNX (TensorRT engines come from the ONNX graph)."""
from .onnx_export import OPSET, export_network_onnx, onnx_op_types, onnx_parity

__all__ = ["OPSET", "export_network_onnx", "onnx_op_types", "onnx_parity"]
