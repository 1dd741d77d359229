"""Launch egsa_node next to a camera driver.

    ros2 launch egsa_ros egsa.launch.py                                   # RealSense-style topics under /camera
    ros2 launch egsa_ros egsa.launch.py camera:=/camera image:=color/image_raw \\
        camera_info:=color/camera_info sensor_depth:=aligned_depth_to_color/image_raw use_sensor_depth:=true
    ros2 launch egsa_ros egsa.launch.py backend:=tensorrt engine:=/path/model.engine

Outputs appear under the node's namespace (default /egsa): depth, mask, depth_completed,
transparent_points; plus /diagnostics. Launch arguments override the parameters file.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("egsa_ros")
    arguments = [
        ("camera", "/camera", "namespace of the camera driver's topics"),
        ("image", "color/image_raw", "colour image topic, relative to the camera namespace"),
        ("camera_info", "color/camera_info", "camera info topic, relative to the camera namespace"),
        ("sensor_depth", "aligned_depth_to_color/image_raw", "depth registered to colour, relative to camera"),
        ("namespace", "egsa", "namespace of egsa_node and its outputs"),
        ("params_file", os.path.join(share, "launch", "egsa.params.yaml"), "egsa_node parameters (YAML)"),
        ("backend", "auto", "auto, onnxruntime, torch or tensorrt"),
        ("model", "", "checkpoint directory, .onnx or preset; empty = bundled model"),
        ("engine", "", "TensorRT engine file"),
        ("use_sensor_depth", "false", "subscribe to sensor_depth and publish depth_completed"),
    ]
    config = {name: LaunchConfiguration(name) for name, _, _ in arguments}
    camera = config["camera"]

    def topic(*parts):
        # Substitution lists are concatenated: no eval of launch arguments.
        return [camera, "/", *parts]

    node = Node(
        package="egsa_ros",
        executable="egsa_node",
        name="egsa_node",
        namespace=config["namespace"],
        output="screen",
        parameters=[config["params_file"], {
            "backend": config["backend"],
            "model": config["model"],
            "engine": config["engine"],
            "use_sensor_depth": ParameterValue(config["use_sensor_depth"], value_type=bool),
        }],
        remappings=[
            ("image", topic(config["image"])),
            ("image/compressed", topic(config["image"], "/compressed")),
            ("camera_info", topic(config["camera_info"])),
            ("sensor_depth", topic(config["sensor_depth"])),
        ],
    )
    return LaunchDescription([DeclareLaunchArgument(n, default_value=d, description=t) for n, d, t in arguments]
                             + [node])
