"""Export to ONNX (one camera-frame graph) with checks, TensorRT parser rules, shipped graphs, engines."""
