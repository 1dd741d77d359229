"""Rosbag replay evaluation (``egsa-eval``): offline through the pipeline, or live through egsa_node."""
