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

ROOMS_TRAIN = ("open", "wall", "window_wall", "shelf_wall")
HELDOUT_ROOMS = ("corner",)

LIGHTS_TRAIN = ("area", "spot", "point", "window_sun", "env_only")
HELDOUT_LIGHTS = ("warm_spots",)

COLOUR_TEMPERATURE_TRAIN_K = (3000.0, 7500.0)
COLOUR_TEMPERATURE_HELDOUT_K = (2000.0, 2800.0)

SPLIT_FAMILIES = ("train", "ood")


@dataclass(frozen=True)
class Choices:
    """The sets one split family draws from."""

    glass: tuple
    tables: tuple
    rooms: tuple
    lights: tuple
    colour_temperature_k: tuple

    def to_dict(self) -> dict:
        return {
            "glass": list(self.glass),
            "tables": list(self.tables),
            "rooms": list(self.rooms),
            "lights": list(self.lights),
            "colour_temperature_k": list(self.colour_temperature_k),
        }


def choices(split_family: str) -> Choices:
    """The :class:`Choices` of ``split_family`` (``train`` or ``ood``)."""
    if split_family == "train":
        return Choices(GLASS_TRAIN, TABLES_TRAIN, ROOMS_TRAIN, LIGHTS_TRAIN, COLOUR_TEMPERATURE_TRAIN_K)
    if split_family == "ood":
        return Choices(HELDOUT_GLASS, HELDOUT_TABLES, HELDOUT_ROOMS, HELDOUT_LIGHTS, COLOUR_TEMPERATURE_HELDOUT_K)
    raise ValueError(f"unknown split family {split_family!r}; expected one of {SPLIT_FAMILIES}")
