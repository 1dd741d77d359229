"""What the ``v2`` generator may draw, per split family (``train`` or ``ood``).

The ``ood`` (out-of-distribution) family holds out, from every ``train`` draw:

- glass families :data:`HELDOUT_GLASS` (carafes, cocktail glasses, lidded jars), never drawn in
  ``train`` as glass nor as opaque look-alike shapes;
- table materials :data:`HELDOUT_TABLES` (marble, tiles);
- one room/light setting: the ``corner`` room (back wall and a side wall with a window) lit by
  ``warm_spots`` (two spot lights of 2000-2800 K), with colour temperatures below every
  ``train`` light's.

An ``ood`` frame draws its glass, table, room and light only from the held-out sets; look-alikes,
cameras, photos and liquids are common to both. Val/test splits of the training distribution use
``train`` with other seeds.

``train_tables`` is ``train`` with the table drawn from other materials: :data:`TABLES_EXTRA`
(granite, terrazzo, concrete, planks; none veined or grouted like the held-out marble and tiles)
and photo tables that also draw from photo set 2's training photos, rendered so the glass refracts
them. Mixed with ``train`` frames it widens the training tables; validation stays ``train``.

``train_lights`` is ``train`` lit mainly by 2-3 hard lights (spot and point lights at the training
colour temperatures, the environment dimmed to 0.3 of its strength), so hard shadows and caustics
on the table are common, with the tables of ``train`` and ``train_tables`` together. It holds out
the same as ``train``: the warm (2000-2800 K) colour temperatures and the corner room stay
``ood``-only.

``ood_glass``, ``ood_tables`` and ``ood_room`` are diagnostic splits (never for training): each
draws ONE of ``ood``'s held-out factors (the held-out glass families; the held-out tables; the
corner room with its warm spot lights and colour temperatures) and ``train``'s draws for the
rest, so that rendered with ``ood``'s seed they tell which held-out factor costs what.
``ood_corner`` (the corner room under ``train``'s lights) and ``ood_warm`` (``train``'s rooms under
the warm spot lights) split ``ood_room`` in two; ``ood_spots`` is ``ood_warm`` at ``train``'s colour
temperatures (the two spots' placement and the dimmed environment without their warm colour).
"""

from __future__ import annotations

from dataclasses import dataclass

GLASS_TRAIN = (
    "wine_glass",
    "tumbler",
    "bottle",
    "flask",
    "bowl",
    "sphere",
    "block",
    "vase",
    "beaker",
    "measuring_cup",
    "test_tube",
    "graduated_cylinder",
    "mug",
    "flute",
    "goblet",
    "random_vessel",
    "whisky_tumbler",
    "glass_box",
)
"""Glass families drawn in the training distribution (the v1 seven plus eleven new)."""

HELDOUT_GLASS = ("carafe", "cocktail_glass", "jar")
"""Glass families only the ``ood`` split family draws."""

LOOKALIKES = (
    "ceramic_mug",
    "ceramic_cup",
    "ceramic_bowl",
    "plastic_bottle",
    "can",
    "metal_cup",
    "mirror_sphere",
    "glossy_block",
    "white_vase",
    "opaque_glass_shape",
    "cylinder",
)
"""Opaque hard negatives; ``opaque_glass_shape`` takes a glass family of the split, opaque."""

TABLES_TRAIN = ("wood", "checker", "noise", "cloth", "metal", "glossy", "stripes", "dots", "photo")
HELDOUT_TABLES = ("marble", "tiles")
TABLES_EXTRA = ("granite", "terrazzo", "concrete", "planks")
"""Table materials only ``train_tables`` draws (with photo tables)."""

ROOMS_TRAIN = ("open", "wall", "window_wall", "shelf_wall")
HELDOUT_ROOMS = ("corner",)

LIGHTS_TRAIN = ("area", "spot", "point", "window_sun", "env_only")
HELDOUT_LIGHTS = ("warm_spots",)

COLOUR_TEMPERATURE_TRAIN_K = (3000.0, 7500.0)
COLOUR_TEMPERATURE_HELDOUT_K = (2000.0, 2800.0)

HARD_LIGHTS = ("spot", "point")
"""Light kinds ``train_lights`` draws its 2-3 lights from."""

OOD_FACTOR_FAMILIES = ("ood_glass", "ood_tables", "ood_room", "ood_corner", "ood_warm", "ood_spots")
"""Diagnostic split families: one held-out factor each, ``train``'s draws for the rest."""

_FACTORS = ("glass", "tables", "room", "spots", "warm")
HELD_OUT_FACTORS = {
    "ood": frozenset(_FACTORS),
    "ood_glass": frozenset({"glass"}),
    "ood_tables": frozenset({"tables"}),
    "ood_room": frozenset({"room", "spots", "warm"}),
    "ood_corner": frozenset({"room"}),
    "ood_warm": frozenset({"spots", "warm"}),
    "ood_spots": frozenset({"spots"}),
}
"""Which of ood's factors each held-out family draws from the held-out sets (the rest as ``train``):
glass families, tables, the corner room, the warm spot lights' placement, their colour temperatures."""

SPLIT_FAMILIES = ("train", "ood", "train_tables", "train_lights", *OOD_FACTOR_FAMILIES)
TRAINING_FAMILIES = ("train", "train_tables", "train_lights")
"""Split families of the training distribution (no held-out draw; some frames without glass)."""


@dataclass(frozen=True)
class Choices:
    """The sets one split family draws from."""

    glass: tuple
    tables: tuple
    rooms: tuple
    lights: tuple
    colour_temperature_k: tuple
    table_photo_set: int = 1
    """Photo set whose training photos photo tables draw from (1: set 1's scenery only)."""
    light_count: tuple | None = None
    """Inclusive range of how many lights the scene draws (None: one, as ``train`` draws)."""

    def to_dict(self) -> dict:
        out = {
            "glass": list(self.glass),
            "tables": list(self.tables),
            "rooms": list(self.rooms),
            "lights": list(self.lights),
            "colour_temperature_k": list(self.colour_temperature_k),
        }
        if self.table_photo_set != 1:  # recorded only where it differs (earlier splits' profiles unchanged)
            out["table_photo_set"] = self.table_photo_set
        if self.light_count is not None:
            out["light_count"] = list(self.light_count)
        return out


def choices(split_family: str) -> Choices:
    """The :class:`Choices` of ``split_family`` (one of :data:`SPLIT_FAMILIES`)."""
    if split_family == "train":
        return Choices(GLASS_TRAIN, TABLES_TRAIN, ROOMS_TRAIN, LIGHTS_TRAIN, COLOUR_TEMPERATURE_TRAIN_K)
    if split_family == "train_tables":
        tables = TABLES_EXTRA + ("photo",)
        return Choices(GLASS_TRAIN, tables, ROOMS_TRAIN, LIGHTS_TRAIN, COLOUR_TEMPERATURE_TRAIN_K, table_photo_set=2)
    if split_family == "train_lights":
        tables = TABLES_TRAIN + TABLES_EXTRA
        return Choices(
            GLASS_TRAIN,
            tables,
            ROOMS_TRAIN,
            HARD_LIGHTS,
            COLOUR_TEMPERATURE_TRAIN_K,
            table_photo_set=2,
            light_count=(2, 3),
        )
    if split_family in HELD_OUT_FACTORS:
        glass, tables, room, spots, warm = (factor in HELD_OUT_FACTORS[split_family] for factor in _FACTORS)
        return Choices(
            HELDOUT_GLASS if glass else GLASS_TRAIN,
            HELDOUT_TABLES if tables else TABLES_TRAIN,
            HELDOUT_ROOMS if room else ROOMS_TRAIN,
            HELDOUT_LIGHTS if spots else LIGHTS_TRAIN,
            COLOUR_TEMPERATURE_HELDOUT_K if warm else COLOUR_TEMPERATURE_TRAIN_K,
        )
    raise ValueError(f"unknown split family {split_family!r}; expected one of {SPLIT_FAMILIES}")
