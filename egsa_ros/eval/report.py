"""Write an evaluation report: JSON, Markdown, PNG panels and a latency plot."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..viz import pyplot
from .family_recall import family_markdown

DEPTH_SECTIONS = (
    ("depth_all", "predicted depth, all pixels"),
    (
        "depth_all_scale_aligned",
        "predicted depth, all pixels, each frame divided by its "
        "median scale ratio (a diagnostic: needs the true depth)",
    ),
    ("depth_transparent", "predicted depth, transparent pixels"),
    ("depth_all_support_plane", "predicted depth x scale from the camera's known height above the table, all pixels"),
    (
        "depth_transparent_support_plane",
        "predicted depth x scale from the camera's known height above the table, transparent pixels",
    ),
    ("sensor_depth_transparent", "sensor depth, transparent pixels (what the camera gives)"),
    ("depth_completed_transparent", "depth_completed, transparent pixels"),
    ("depth_completed_transparent_sensor_valid", "depth_completed, transparent pixels where the sensor has a value"),
)

GLASS_SOURCE_TITLES = {
    "network": "network depth",
    "geometry_sensor_plane": "geometry, plane from the depth camera",
    "geometry_sensor_plane_or_network": "geometry (depth camera plane), else network",
    "geometry_pose_plane": "geometry, plane from the camera pose",
    "geometry_pose_plane_or_network": "geometry (camera pose plane), else network",
    "sensor": "depth camera",
    "depth_completed": "depth_completed",
}
"""Rows of the "Glass depth by source" table (``glass_depth_by_source`` keys)."""

GLASS_SOURCE_LABELS = {
    "network": "network",
    "geometry_sensor_plane": "geometry\n(sensor plane)",
    "geometry_sensor_plane_or_network": "geometry\n(sensor plane)\nelse network",
    "geometry_pose_plane": "geometry\n(pose plane)",
    "geometry_pose_plane_or_network": "geometry\n(pose plane)\nelse network",
    "sensor": "depth\ncamera",
    "depth_completed": "depth_\ncompleted",
}
"""Short bar labels of the glass-depth plot."""

OBJECT_VARIANT_TITLES = {
    "geometry_sensor_plane": "plane from the depth camera",
    "geometry_pose_plane": "plane from the camera pose",
}
"""Rows of the "Per-object 3D" table (``objects_3d`` keys)."""


def coverage(metrics: dict) -> float:
    """Fraction of a section's pixels that have a depth value (RMSE, MAE and REL use only those;
    the delta columns count a missing value as a miss)."""
    return 1.0 - metrics["invalid_pred"] / metrics["count"] if metrics["count"] else float("nan")


def markdown(result: dict) -> str:
    """The report as Markdown (tables of metrics and latency)."""
    lines = [
        f"# egsa-eval: {result.get('bag', '')}",
        "",
        f"Mode **{result.get('mode')}**, model {result.get('model')}, backend {result.get('backend')}; "
        f"{result['frames']} frames ({result['frames_with_ground_truth']} with ground truth).",
        "",
    ]
    if "dropped_frames" in result:
        lines += [
            f"Frames played {result['frames_played']}, outputs received {result['frames']}, "
            f"dropped {result['dropped_frames']}.",
            "",
        ]
    rows = [(title, result[key]) for key, title in DEPTH_SECTIONS if key in result]
    if rows:
        lines += [
            "| depth | pixels | with a value | RMSE (m) | MAE (m) | REL | d<1.05 | d<1.10 | d<1.25 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for title, m in rows:
            lines.append(
                f"| {title} | {m['count']} | {coverage(m):.1%} | {m['rmse']:.3f} | {m['mae']:.3f} | "
                f"{m['rel']:.3f} | {m['delta_1.05']:.3f} | {m['delta_1.10']:.3f} | {m['delta_1.25']:.3f} |"
            )
        lines += [
            "",
            "RMSE, MAE and REL are over the pixels with a value; the delta columns count a "
            "missing value as a miss. Compare the sensor with depth_completed on the same pixels "
            "(the last row).",
            "",
        ]
    if "frame_scale" in result:
        lines += [scale_sentence(result["frame_scale"]), ""]
    if "support_plane" in result:
        plane = result["support_plane"]
        after = result.get("frame_scale_support_plane")
        after_text = (
            ""
            if after is None
            else f" With that scale, scale error |log ratio| p50 {after['abs_log_p50']:.3f}, p95 "
            f"{after['abs_log_p95']:.3f}; {after['failures']} of {after['frames']} frames off by more than 25 %."
        )
        lines += [
            f"Scale from the support plane (egsa_ros.runtime.support_plane_scale, camera pose from the "
            f"frames' metadata): refused on {plane['refused']} of {plane['frames']} frames (scored "
            f"unscaled).{after_text}",
            "",
        ]
    if "mask" in result:
        m = result["mask"]
        lines += [
            f"Mask: transparent IoU **{m['transparent_iou']:.3f}**, background IoU {m['background_iou']:.3f}, "
            f"mIoU {m['miou']:.3f}.",
            "",
        ]
    lines += glass_geometry_markdown(result)
    if result.get("families", {}).get("glass"):
        lines += ["### Mask per object family (rendered splits)", ""] + family_markdown(result["families"]) + [""]
    for key, title in (("latency_ms", "end-to-end latency"), ("inference_ms", "pipeline time")):
        if key in result:
            s = result[key]
            lines.append(
                f"{title.capitalize()} (ms): p50 {s['p50']:.1f}, p90 {s['p90']:.1f}, p99 {s['p99']:.1f}, "
                f"max {s['max']:.1f} over {s['count']} frames."
            )
    lines += ["", "Panels: RGB | predicted depth | ground-truth depth | predicted mask over RGB.", ""]
    return "\n".join(lines)


def glass_geometry_markdown(result: dict) -> list[str]:
    """The "Glass depth by source" and "Per-object 3D" tables (empty when the run has neither)."""
    lines: list[str] = []
    by_source = result.get("glass_depth_by_source", {})
    if by_source:
        lines += [
            "## Glass depth by source",
            "",
            "On the true glass pixels, with the model's own mask. RMSE, MAE, REL and the deltas are over "
            "the pixels where the source has a value; a missing value lowers the coverage instead.",
            "",
            "| source | glass pixels | coverage | RMSE (m) | MAE (m) | REL | d<1.05 | d<1.10 | d<1.25 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key, m in by_source.items():
            lines.append(
                f"| {GLASS_SOURCE_TITLES.get(key, key)} | {m['pixels']} | {m['coverage']:.1%} | "
                f"{m['rmse']:.3f} | {m['mae']:.3f} | {m['rel']:.3f} | {m['delta_1.05']:.3f} | "
                f"{m['delta_1.10']:.3f} | {m['delta_1.25']:.3f} |"
            )
        lines.append("")
    objects = result.get("objects_3d", {})
    if objects:
        lines += [
            "## Per-object 3D",
            "",
            "Each measured object matched to the true transparent instance it overlaps most; errors in cm "
            "as p50 / p90. Centroid: the point half the height above the footprint centre, measured and "
            "true; centre of mass: the modelled solid's, against the same true point; footprint centre: "
            "against the true base centre; base point: against the true footprint circle's point nearest "
            "the camera. Unmatched: overlaps no true transparent object.",
            "",
            "| plane | plane found in frames | true objects seen | found | matched | unmatched | refused "
            "| centroid | centre of mass | footprint centre | base point | height |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for key, o in objects.items():
            refusals = ", ".join(f"{code} {n}" for code, n in o["refusals"].items())
            errors = " | ".join(
                _p50_p90(o[name])
                for name in ("centroid_cm", "mass_centroid_cm", "footprint_centre_cm", "base_point_cm", "height_cm")
            )
            plane = o["plane"]
            plane_refusals = ", ".join(f"{code} {n}" for code, n in plane["refusals"].items())
            plane_cell = f"{plane['found']} of {plane['frames']}" + (
                f" (refused: {plane_refusals})" if plane_refusals else ""
            )
            refused_cell = f"{o['refused']}" + (f" ({refusals})" if refusals else "")
            lines.append(
                f"| {OBJECT_VARIANT_TITLES.get(key, key)} | {plane_cell} | {o['gt_visible']} | "
                f"{o['gt_found']} | {o['matched']} | {o['unmatched']} | {refused_cell} | {errors} |"
            )
        lines.append("")
        lines += _lowest_row_table(objects)
    for note in result.get("glass_geometry_notes", []):
        lines.append(f"- {note}")
    if result.get("glass_geometry_notes"):
        lines.append("")
    return lines


LOWEST_ROW_TITLES = {
    "lowest_row_right": "right (within 2 px or 5 % of the object's height)",
    "lowest_row_below": "below the true one (mask on the table in front)",
    "lowest_row_above": "above the true one (base missed)",
}


def _lowest_row_table(objects: dict) -> list[str]:
    """Per-object errors split by where each matched instance's lowest row lies (the footprint's
    source) against its true object's."""
    if not any("by_lowest_row" in o for o in objects.values()):
        return []
    lines = [
        "Matched objects by where the instance's lowest image row lies against the true object's "
        "(the footprint is taken from those pixels): objects, then centroid / footprint centre / height "
        "error p50 in cm.",
        "",
        "| plane | " + " | ".join(LOWEST_ROW_TITLES.values()) + " |",
        "|---|" + "---|" * len(LOWEST_ROW_TITLES),
    ]
    for key, o in objects.items():
        cells = []
        for kind in LOWEST_ROW_TITLES:
            part = o.get("by_lowest_row", {}).get(kind, {"matched": 0})
            errors = " / ".join(
                "-" if part.get(name, {}).get("p50") is None else f"{part[name]['p50']:.1f}"
                for name in ("centroid_cm", "footprint_centre_cm", "height_cm")
            )
            cells.append(f"{part['matched']}: {errors}")
        lines.append(f"| {OBJECT_VARIANT_TITLES.get(key, key)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _p50_p90(stats: dict) -> str:
    return "-" if not stats["count"] else f"{stats['p50']:.1f} / {stats['p90']:.1f}"


def plot_glass_geometry(result: dict, out: Path) -> Path:
    """Glass delta<1.05 and coverage per depth source (left) and the CDF of the per-object
    centroid error per plane source (right)."""
    plt = pyplot()
    fig, (bars, cdf) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    by_source = result.get("glass_depth_by_source", {})
    names = list(by_source)
    x = np.arange(len(names))
    bars.bar(x - 0.2, [by_source[n]["delta_1.05"] for n in names], 0.4, label="d<1.05 (covered pixels)")
    bars.bar(x + 0.2, [by_source[n]["coverage"] for n in names], 0.4, label="coverage")
    bars.set_xticks(x, [GLASS_SOURCE_LABELS.get(n, n) for n in names], fontsize=7)
    bars.set_ylim(0, 1.25)
    bars.set_yticks(np.linspace(0, 1, 6))
    bars.legend(fontsize=8, loc="upper left", ncol=2)
    bars.set_title("depth on glass pixels", fontsize=10)
    for key, o in result.get("objects_3d", {}).items():
        values = np.sort(o["centroid_cm"].get("values", []))
        if values.size:
            cdf.step(
                np.maximum(values, 0.1),
                np.arange(1, values.size + 1) / values.size,
                where="post",
                label=OBJECT_VARIANT_TITLES.get(key, key),
            )
    cdf.axvline(2.0, color="red", ls="--", lw=1)
    cdf.set_xscale("log")
    cdf.set_xlim(0.1, 100.0)
    cdf.set_xlabel("centroid error (cm)")
    cdf.set_ylabel("fraction of matched objects")
    cdf.set_title("per-object centroid error", fontsize=10)
    if cdf.get_legend_handles_labels()[0]:
        cdf.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def scale_sentence(scale: dict) -> str:
    """One Markdown paragraph on the per-frame metric scale (see ``EvalAccumulator``)."""
    return (
        f"Metric scale per frame (median predicted / true depth): p5 {scale['p05']:.2f}, "
        f"p50 {scale['p50']:.2f}, p95 {scale['p95']:.2f}; scale error |log ratio| p50 "
        f"{scale.get('abs_log_p50', float('nan')):.3f}, p95 {scale.get('abs_log_p95', float('nan')):.3f}; "
        f"**{scale['failures']} of {scale['frames']} "
        f"frames** off by more than 25 % ({scale['too_far']} too far, {scale['too_near']} too near), "
        f"{scale['off_by_10pct']} by more than 10 %. A frame with the wrong scale misses delta<1.25 on "
        "most of its pixels even when its shape is right (compare the scale-aligned row); on a robot "
        "with a depth camera, depth_completed takes the scale from the sensor."
    )


def plot_scale(ratios: list[float], out: Path, plane_ratios: list[float] | None = None) -> Path:
    """Histogram of the per-frame median predicted / true depth ratio (log x axis), with the same
    ratio after the support plane's scale when given."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.0))
    bins = np.geomspace(0.5, 2.0, 41)
    ax.hist(np.clip(ratios, bins[0], bins[-1]), bins=bins, color="tab:blue", label="network")
    if plane_ratios:
        clipped = np.clip(plane_ratios, bins[0], bins[-1])
        ax.hist(clipped, bins=bins, histtype="step", lw=1.5, color="tab:orange", label="x scale from the table")
        ax.legend(loc="upper right", fontsize=8)
    for x in (1 / 1.25, 1.25):
        ax.axvline(x, color="red", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xticks([0.5, 0.8, 1.0, 1.25, 1.5, 2.0], ["0.5", "0.8", "1", "1.25", "1.5", "2"])
    ax.set_xlabel("median predicted / true depth in the frame")
    ax.set_ylabel("frames")
    ax.set_title("egsa-eval metric scale per frame (outside the red lines: scale failure)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_latency(series: dict[str, list[float]], out: Path) -> Path:
    """Latency per frame over the run, one line per series (ms)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, values in series.items():
        if values:
            ax.plot(np.arange(len(values)), values, lw=1, label=name)
    ax.axhline(1000 / 30, color="red", ls="--", lw=1, label="33 ms")
    ax.set_xlabel("frame")
    ax.set_ylabel("ms")
    ax.legend(fontsize=8)
    ax.set_title("egsa-eval latency per frame", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_report(out_dir: Path, result: dict, panels: list[np.ndarray], series: dict[str, list[float]]) -> Path:
    """Write report.json, report.md, panel_NN.png and latency.png into ``out_dir``; return report.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(result, indent=2))
    for i, image in enumerate(panels):
        cv2.imwrite(str(out_dir / f"panel_{i:02d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if any(series.values()):
        plot_latency(series, out_dir / "latency.png")
    ratios = result.get("frame_scale", {}).get("ratios", [])
    if ratios:
        plot_scale(ratios, out_dir / "scale.png", result.get("frame_scale_support_plane", {}).get("ratios"))
    geometry_plot = "glass_depth_by_source" in result or "objects_3d" in result
    if geometry_plot:
        plot_glass_geometry(result, out_dir / "glass_geometry.png")
    text = markdown(result)
    text += "".join(f"![panel {i}](panel_{i:02d}.png)\n" for i in range(len(panels)))
    if any(series.values()):
        text += "\n![latency](latency.png)\n"
    if ratios:
        text += "\n![metric scale per frame](scale.png)\n"
    if geometry_plot:
        text += "\n![glass depth by source and per-object centroid error](glass_geometry.png)\n"
    (out_dir / "report.md").write_text(text)
    return out_dir / "report.md"
