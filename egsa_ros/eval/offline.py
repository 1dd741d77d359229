"""Offline replay: every frame of a bag (or of a rendered split folder) through the pipeline,
metrics against ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.synthetic_frames import frame_dirs
from ..geometry import GlassConfig
from ..runtime.depth_completion import complete_depth
from ..runtime.frame_geometry import completed_on_glass, glass_objects
from ..runtime.support_plane_scale import pose_up_and_height, support_plane_scale
from ..viz import panel
from .accumulate import EvalAccumulator
from .bag_frames import EvalTopics, count_frames, read_bag_frames
from .family_recall import FamilyRecall
from .glass_geometry_eval import GlassGeometryAccumulator, add_geometry_frame
from .report import write_report
from .split_frames import is_split_folder, read_split_frames

DEFAULT_TOPICS = EvalTopics()


def evaluate_offline(
    bag: Path,
    pipeline,
    out_dir: Path,
    *,
    topics: EvalTopics = DEFAULT_TOPICS,
    panels: int = 4,
    limit: int | None = None,
    progress: bool = True,
    sensor_veto: bool = True,
) -> dict:
    """Run ``pipeline`` on the frames of ``bag`` (a ROS 2 bag, or a folder of frames rendered by
    ``egsa-synth``, see :mod:`egsa_ros.eval.split_frames`); write the report; return the result dict.
    ``sensor_veto``: the glass geometry's depth-camera veto (the node's ``geometry_sensor_veto``)."""
    geometry_config = GlassConfig() if sensor_veto else GlassConfig(sensor_veto=None)
    acc = EvalAccumulator()
    geometry = GlassGeometryAccumulator()
    families = FamilyRecall()
    images, series = [], {"pipeline total": []}
    cfg = pipeline.config
    if is_split_folder(bag):
        total, frames = len(frame_dirs(bag)), read_split_frames(bag, limit=limit)
    else:
        total, frames = count_frames(bag, topics), read_bag_frames(bag, topics, limit=limit)
    total = min(total, limit) if limit else total
    for frame in tqdm(frames, total=total, desc="egsa-eval offline", unit="frame", disable=not progress):
        if not series["pipeline total"]:
            pipeline.prepare(frame.rgb.shape[:2])  # build the graph for this size outside the timing
        pred = pipeline(frame.rgb, fx=frame.focal_px())
        completed = None
        if frame.sensor_depth is not None and frame.sensor_depth.shape == pred.depth.shape:
            completed = _completed_as_the_node_does(frame, pred, sensor_veto)
        acc.add(
            pred.depth,
            pred.mask,
            frame.gt_depth,
            frame.gt_mask,
            inference_ms=pred.timings["total"],
            completed=completed,
            sensor=frame.sensor_depth,
        )
        if frame.camera_in_support is not None and frame.K is not None and frame.gt_depth is not None:
            up, height = pose_up_and_height(frame.camera_in_support)
            estimate = support_plane_scale(pred.depth, frame.K, up, height, exclude=pred.mask > 0)
            acc.add_support_plane(pred.depth * np.float32(estimate.scale), estimate.ok, frame.gt_depth, frame.gt_mask)
        add_geometry_frame(geometry, frame, pred.mask, pred.depth, completed, geometry_config)
        if getattr(frame, "gt_instances", None) is not None and getattr(frame, "gt_objects", None):
            families.add(pred.mask, frame.gt_instances, frame.gt_objects)
        series["pipeline total"].append(pred.timings["total"])
        if len(images) < panels:
            images.append(panel(frame.rgb, pred.depth, pred.mask, cfg.d_min, cfg.d_max, frame.gt_depth))
    result = dict(acc.result(), mode="offline", bag=str(bag), model=pipeline.model_name, backend=pipeline.backend_name)
    result.update(geometry.result())
    if families.glass or families.opaque:
        result["families"] = families.result()
    result["report"] = str(write_report(out_dir, result, images, series))
    return result


def _completed_as_the_node_does(frame, pred, sensor_veto: bool) -> np.ndarray:
    """``depth_completed`` as egsa_node publishes it with its defaults: the sensor depth with the
    network's depth on glass, and the glass geometry's depth on the objects it accepts when its
    table plane is metric (from the sensor depth)."""
    completed = complete_depth(frame.sensor_depth, pred.depth, pred.mask)
    if frame.K is None:
        return completed
    try:
        objects = glass_objects(pred, frame.K, sensor_depth=frame.sensor_depth, rgb=frame.rgb, sensor_veto=sensor_veto)
    except ValueError:  # intrinsics that do not fit the frame: completion without the geometry
        return completed
    on_glass = completed_on_glass(completed, objects)
    return completed if on_glass is None else on_glass
