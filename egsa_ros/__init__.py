"""egsa_ros: metric depth and transparent-object masks from one RGB camera.

``from egsa_ros import load_pipeline``; ``pipe = load_pipeline()``; ``pred = pipe(rgb)``;
``glass_objects(pred, K, ...)`` for the transparent objects in 3-D.
"""

from .version import __version__


def load_pipeline(*args, **kwargs):
    """Load the inference pipeline (see :func:`egsa_ros.runtime.pipeline.load_pipeline`)."""
    from .runtime.pipeline import load_pipeline as _load  # noqa: PLC0415 - deferred: `import egsa_ros` stays cheap

    return _load(*args, **kwargs)


def glass_objects(*args, **kwargs):
    """Transparent objects in 3-D from a prediction (see :func:`egsa_ros.runtime.frame_geometry.glass_objects`)."""
    from .runtime.frame_geometry import glass_objects as _objects  # noqa: PLC0415 - deferred like load_pipeline

    return _objects(*args, **kwargs)


__all__ = ["load_pipeline", "glass_objects", "__version__"]
