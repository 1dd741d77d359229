"""ROS-free inference: backends, the camera-frame pipeline and glass objects in 3-D."""

from .frame_geometry import GlassObjects, glass_objects
from .pipeline import Pipeline, load_pipeline
from .prediction import Prediction

__all__ = ["Prediction", "Pipeline", "load_pipeline", "GlassObjects", "glass_objects"]
