"""ROS-free inference: backends and the camera-frame pipeline."""

from .pipeline import Pipeline, load_pipeline
from .prediction import Prediction

__all__ = ["Prediction", "Pipeline", "load_pipeline"]
