"""Glass geometry without ROS or torch: the support plane, transparent object instances, and
per-object contact footprint, surface model, depth, centroid, height and width.

``glass_geometry(mask, depth, K, sensor_depth=..., camera_pose=...)`` does it all for one
frame; the parts are usable alone. Optical frame throughout: x right, y down, z forward,
metres; depth images are z-depth; the plane is ``n . X + d = 0`` with ``n`` pointing towards
the camera (``d`` = camera height above it).
"""

from .glass import GlassConfig, GlassGeometry, glass_geometry
from .instances import InstanceConfig, Instances, InstanceStats, instances_from_labels, transparent_instances
from .objects import ObjectConfig, ObjectDepth, ObjectGeometry, measure_object
from .plane import PLANE_SOURCES, Plane, PlaneEstimate, make_plane
from .plane_choice import PlaneChoice, choose_plane
from .plane_fit import NETWORK_FIT, SENSOR_FIT, PlaneFitConfig, fit_plane_to_depth
from .plane_from_pose import plane_from_camera_pose, plane_from_height, up_from_pitch_roll

__all__ = [
    "GlassConfig",
    "GlassGeometry",
    "glass_geometry",
    "InstanceConfig",
    "Instances",
    "InstanceStats",
    "transparent_instances",
    "instances_from_labels",
    "ObjectConfig",
    "ObjectDepth",
    "ObjectGeometry",
    "measure_object",
    "PLANE_SOURCES",
    "Plane",
    "PlaneEstimate",
    "make_plane",
    "PlaneChoice",
    "choose_plane",
    "NETWORK_FIT",
    "SENSOR_FIT",
    "PlaneFitConfig",
    "fit_plane_to_depth",
    "plane_from_camera_pose",
    "plane_from_height",
    "up_from_pitch_roll",
]
