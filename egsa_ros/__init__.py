"""egsa_ros: metric depth and transparent-object masks from one RGB camera.

``from egsa_ros import load_pipeline``; ``pipe = load_pipeline()``; ``pred = pipe(rgb)``.
"""
__version__ = "0.1.0"


def load_pipeline(*args, **kwargs):
    """Load the inference pipeline (see :func:`egsa_ros.runtime.pipeline.load_pipeline`)."""
    from .runtime.pipeline import load_pipeline as _load

    return _load(*args, **kwargs)


__all__ = ["load_pipeline", "__version__"]
