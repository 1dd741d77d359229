"""ROS-free inference: backends and the camera-frame pipeline."""
from .pipeline import Prediction, Pipeline, load_pipeline

__all__ = ["Prediction", "Pipeline", "load_pipeline"]
