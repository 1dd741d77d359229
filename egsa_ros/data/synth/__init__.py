"""Mitsuba 3 generator of glassware scenes (``egsa-synth``).

Modules, one concept each:
- :mod:`lathe`: surface-of-revolution meshes (wine glass, tumbler, bottle, flask, bowl);
- :mod:`textures`: procedural table textures and environment maps (in memory);
- :mod:`camera`: intrinsics and poses in the OpenCV optical convention;
- :mod:`scene`: seeded scene sampling as plain data (no Mitsuba import);
- :mod:`scene_dict`: a scene spec -> loaded Mitsuba scene + per-shape labels;
- :mod:`variant`: picking ``llvm_ad_rgb`` or ``scalar_rgb``;
- :mod:`raycast`: exact depth and masks through pixel centres;
- :mod:`sensor_model`: RGB-D sensor depth (through-glass, dropout, noise);
- :mod:`render`: one frame to disk; :mod:`cli`: the ``egsa-synth`` command.

Mitsuba is imported lazily, so the scene and lathe code works without it.
"""
from egsa_ros.data.synth.camera import intrinsics, look_at
from egsa_ros.data.synth.lathe import LATHE_KINDS, TriMesh, revolve, sample_profile
from egsa_ros.data.synth.scene import SceneSpec, frame_rng, sample_scene

__all__ = ["intrinsics", "look_at", "LATHE_KINDS", "TriMesh", "revolve", "sample_profile",
           "SceneSpec", "frame_rng", "sample_scene"]
