"""Mitsuba 3 generator of glassware scenes (``egsa-synth``).

Modules, one concept each:
- :mod:`lathe`: surface-of-revolution meshes (wine glass, tumbler, bottle, flask, bowl);
- :mod:`textures`: procedural table textures and environment maps (in memory);
- :mod:`camera`: intrinsics and poses in the OpenCV optical convention;
- :mod:`scene`: seeded scene sampling as plain data (no Mitsuba import);
- :mod:`scene_dict`: a scene spec -> loaded Mitsuba scene + per-shape labels;
- :mod:`variant`: picking ``llvm_ad_rgb``, ``scalar_rgb`` or (on a GPU) ``cuda_ad_rgb``;
- :mod:`raycast`: exact depth and masks through pixel centres;
- :mod:`sensor_model`: RGB-D sensor depth (through-glass, dropout, noise);
- :mod:`render`: one frame to disk; :mod:`cli`: the ``egsa-synth`` command.

The ``v2`` generator (``egsa-synth --generator v2 [--split-family train|ood]``) adds, beside
the unchanged v1 modules:
- :mod:`families`: what each split family draws and what ``ood`` holds out;
- :mod:`profiles_v2`, :mod:`meshes_v2`, :mod:`shapes_v2`: 18+3 glass families, look-alikes,
  liquids, lids, handles, spouts, printed labels;
- :mod:`textures_v2`: table materials, window exteriors, colour temperatures;
- :mod:`scene_v2`: seeded v2 scene sampling; :mod:`scene_dict_v2`: rooms, lights, objects in Mitsuba.

Mitsuba is imported lazily, so the scene and lathe code works without it.
"""

from egsa_ros.data.synth.camera import intrinsics, look_at
from egsa_ros.data.synth.lathe import LATHE_KINDS, TriMesh, revolve, sample_profile
from egsa_ros.data.synth.scene import SceneSpec, frame_rng, sample_scene

__all__ = [
    "intrinsics",
    "look_at",
    "LATHE_KINDS",
    "TriMesh",
    "revolve",
    "sample_profile",
    "SceneSpec",
    "frame_rng",
    "sample_scene",
]
