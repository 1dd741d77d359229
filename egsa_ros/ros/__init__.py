"""ROS 2 side of egsa_ros (conversions, node, bag player); the pipeline never imports it."""
