"""Launch egsa_node next to a camera driver (defaults: the RealSense ROS 2 wrapper 4.x).

    ros2 launch realsense2_camera rs_launch.py align_depth.enable:=true     # the camera, aligned depth on
    ros2 launch egsa_ros egsa.launch.py                                     # /camera/camera/color/image_raw
    ros2 launch egsa_ros egsa.launch.py use_sensor_depth:=true              # + depth_completed
    ros2 launch egsa_ros egsa.launch.py camera:=/my_cam image:=image_raw camera_info:=camera_info
    ros2 launch egsa_ros egsa.launch.py backend:=tensorrt engine:=/path/model.engine
    ros2 launch egsa_ros egsa.launch.py autostart:=false   # a lifecycle manager configures/activates it

RealSense 4.x publishes under /<camera_namespace>/<camera_name> = /camera/camera; its depth
registered to colour (aligned_depth_to_color/image_raw) exists only with align_depth.enable:=true.
Outputs appear under the node's namespace (default /egsa): depth/image, mask/image,
depth_completed/image, each with camera_info beside it, transparent_points; plus /diagnostics.
Launch arguments override the parameters file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("egsa_ros")
    arguments = [
        ("camera", "/camera/camera", "namespace of the camera driver's topics (RealSense 4.x: /camera/camera)"),
        ("image", "color/image_raw", "colour image topic, relative to the camera namespace"),
        ("camera_info", "color/camera_info", "camera info topic, relative to the camera namespace"),
        (
            "sensor_depth",
            "aligned_depth_to_color/image_raw",
            "depth registered to colour, relative to camera (RealSense: needs align_depth.enable:=true)",
        ),
        ("namespace", "egsa", "namespace of egsa_node and its outputs"),
        ("params_file", os.path.join(share, "launch", "egsa.params.yaml"), "egsa_node parameters (YAML)"),
        ("backend", "auto", "auto, onnxruntime, torch or tensorrt"),
        ("model", "", "checkpoint directory, .onnx or preset; empty = bundled model"),
        ("engine", "", "TensorRT engine file"),
        ("use_sensor_depth", "false", "subscribe to sensor_depth and publish depth_completed"),
        ("autostart", "true", "configure and activate at start (false: wait for lifecycle transitions)"),
        ("use_sim_time", "false", "use /clock (bag replay with --clock)"),
        ("log_level", "info", "egsa_node's log level: debug, info, warn, error or fatal"),
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
        arguments=["--ros-args", "--log-level", config["log_level"]],
        parameters=[
            config["params_file"],
            {
                "backend": config["backend"],
                "model": config["model"],
                "engine": config["engine"],
                "use_sensor_depth": ParameterValue(config["use_sensor_depth"], value_type=bool),
                "autostart": ParameterValue(config["autostart"], value_type=bool),
                "use_sim_time": ParameterValue(config["use_sim_time"], value_type=bool),
            },
        ],
        remappings=[
            ("image", topic(config["image"])),
            ("image/compressed", topic(config["image"], "/compressed")),
            ("camera_info", topic(config["camera_info"])),
            ("sensor_depth", topic(config["sensor_depth"])),
        ],
    )
    return LaunchDescription(
        [DeclareLaunchArgument(n, default_value=d, description=t) for n, d, t in arguments] + [node]
    )
