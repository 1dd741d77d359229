"""The bundling rule of the v2 candidates: six conditions (seven when it reads clean renders) a
retrained model must meet against the bundled one, both measured in the same run
(:mod:`.candidate_check` measures them).

The margins are :class:`BundlingRule`'s fields, as the rules fixed before each run since
2026-12-04 write them (``models/rules/``, e.g. ``2026-12-04_v2r_long_run.md``); the inputs are two
:func:`~egsa_ros.eval.candidate_check.score_model` results.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BundlingRule:
    """Margins of the six conditions; B = the baseline's value in the same run.

    Attributes:
        ood_iou_gain: 1. ood IoU >= B + this.
        val_drop: 2. val IoU and val delta<1.25 >= B - this.
        ood_delta_drop: 3. ood delta<1.25 >= B - this.
        photos_median, photos_max: 4. held-out photos: median <= ``photos_median`` and max <=
            ``photos_max`` (fractions of the pixels, absolute).
        v1_iou_drop, v1_delta_drop: 5. v1 test IoU >= B - ``v1_iou_drop`` and delta<1.25 >= B -
            ``v1_delta_drop``.
        fov_p95_rise: 6. FOV validation pooled scale error p95 <= B + this.
        clean_renders: read the IoUs of 1 and 2 as the mean over the split and its clean-render
            twin (the same scenes at 256 samples per pixel, ``val_spp256``, ``ood_spp256``), and
            add 7: none of those four IoUs below B - ``clean_floor_drop``. A path tracer's noise
            at 32 samples per pixel is a cue no camera gives (rules since 2026-12-05, V2ac).
        clean_decides: (implies reading the clean renders) 1 and 2 read the clean renders alone
            (``ood_spp256`` IoU >= B + ``ood_iou_gain``, ``val_spp256`` IoU >= B - ``val_drop``) and
            7 becomes a floor on the 32-sample val and ood IoUs (>= B - ``clean_floor_drop``): the
            noisy splits may not decide a gain, only veto a loss (rules since V2ah).
    """

    ood_iou_gain: float = 0.010
    val_drop: float = 0.010
    ood_delta_drop: float = 0.010
    photos_median: float = 0.01
    photos_max: float = 0.05
    v1_iou_drop: float = 0.005
    v1_delta_drop: float = 0.010
    fov_p95_rise: float = 0.020
    clean_renders: bool = False
    clean_floor_drop: float = 0.020
    clean_decides: bool = False

    @property
    def reads_clean_renders(self) -> bool:
        """Whether the rule needs the clean-render splits scored."""
        return self.clean_renders or self.clean_decides


@dataclass(frozen=True)
class Condition:
    """One condition: ``value`` against ``bound`` (``at_least``: value >= bound, else <=);
    ``baseline`` is B's value when the bound is relative to it (None for absolute bounds)."""

    number: int
    name: str
    value: float
    bound: float
    at_least: bool
    baseline: float | None = None

    @property
    def holds(self) -> bool:
        return bool(self.value >= self.bound if self.at_least else self.value <= self.bound)


def conditions(candidate: dict, baseline: dict, rule: BundlingRule, photo_set: int) -> list[Condition]:
    """The six conditions of :class:`BundlingRule` (seven when it reads clean renders) for two
    :func:`score_model` results (scored with the clean-render splits when the rule reads them)."""
    photos = candidate["photos"][f"photo_set_{photo_set}"]

    def relative(number: int, name: str, part: str, key: str, margin: float, at_least: bool) -> Condition:
        base = float(baseline[part][key])
        return Condition(number, name, float(candidate[part][key]), base + margin, at_least, base)

    def iou(number: int, split: str, margin: float) -> Condition:
        if rule.clean_decides:
            name = f"{split} IoU on its clean renders"
            return relative(number, name, f"{split}_clean", "transparent_iou", margin, True)
        if not rule.clean_renders:
            return relative(number, f"{split} IoU", split, "transparent_iou", margin, True)
        clean = f"{split}_clean"
        value, base = (
            0.5 * (float(scores[split]["transparent_iou"]) + float(scores[clean]["transparent_iou"]))
            for scores in (candidate, baseline)
        )
        return Condition(number, f"{split} IoU, mean with its clean renders", value, base + margin, True, base)

    checked = [
        iou(1, "ood", rule.ood_iou_gain),
        iou(2, "val", -rule.val_drop),
        relative(2, "val delta<1.25", "val", "delta_1.25", -rule.val_drop, True),
        relative(3, "ood delta<1.25", "ood", "delta_1.25", -rule.ood_delta_drop, True),
        Condition(4, "held-out photos median", photos["median"], rule.photos_median, False),
        Condition(4, "held-out photos max", photos["max"], rule.photos_max, False),
        relative(5, "v1 test IoU", "v1_test", "transparent_iou", -rule.v1_iou_drop, True),
        relative(5, "v1 test delta<1.25", "v1_test", "delta_1.25", -rule.v1_delta_drop, True),
        relative(6, "FOV val scale error p95", "fov_val", "scale_error_p95", rule.fov_p95_rise, False),
    ]
    if rule.reads_clean_renders:
        floored = ("val", "ood") if rule.clean_decides else ("val", "val_clean", "ood", "ood_clean")
        checked += [
            relative(7, f"{split} IoU (floor)", split, "transparent_iou", -rule.clean_floor_drop, True)
            for split in floored
        ]
    return checked


def summary_lines(candidate: dict, baseline: dict, checked: list[Condition]) -> list[str]:
    """A table of the conditions and the reported-only rows, then the verdict."""
    lines = [
        f"candidate {candidate['model']} vs baseline {baseline['model']} ({candidate['backend']}; "
        f"canonical-view inset {candidate['canonical_view_inset']} / {baseline['canonical_view_inset']})"
    ]
    for cond in checked:
        base = "" if cond.baseline is None else f"B {cond.baseline:.4f}, "
        sign = ">=" if cond.at_least else "<="
        verdict = "holds" if cond.holds else "FAILS"
        lines.append(f"  {cond.number}. {cond.name}: {cond.value:.4f} ({base}needs {sign} {cond.bound:.4f}) {verdict}")
    for key, part in candidate["photos"].items():
        base = baseline["photos"][key]
        lines.append(
            f"  reported: {key} median / max {part['median']:.3f} / {part['max']:.3f} "
            f"(B {base['median']:.3f} / {base['max']:.3f})"
        )
    if "train_sample" in candidate:
        lines.append(
            f"  reported: {candidate['train_sample']['frames']} v2 train frames IoU "
            f"{candidate['train_sample']['transparent_iou']:.4f} (B {baseline['train_sample']['transparent_iou']:.4f})"
        )
    failed = sorted({cond.number for cond in checked if not cond.holds})
    lines.append(
        "all conditions hold: replaces the baseline" if not failed else f"conditions {failed} fail: keep the baseline"
    )
    return lines
