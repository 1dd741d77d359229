"""The EGSA network family: config, encoders, decoder blocks and the full model."""
from .config import PRESETS, ModelConfig, get_preset
from .net import EGSANet, build_model, edge_pyramid

__all__ = ["ModelConfig", "PRESETS", "get_preset", "EGSANet", "build_model", "edge_pyramid"]
