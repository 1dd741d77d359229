"""egsa_ros: metric depth and transparent-object masks from one RGB camera.

``from egsa_ros import load_pipeline``; ``pipe = load_pipeline()``; ``pred = pipe(rgb)``.
"""

from .version import __version__


def load_pipeline(*args, **kwargs):
    """Load the inference pipeline (see :func:`egsa_ros.runtime.pipeline.load_pipeline`)."""
    from .runtime.pipeline import load_pipeline as _load  # noqa: PLC0415 - deferred: `import egsa_ros` stays cheap

    return _load(*args, **kwargs)


__all__ = ["load_pipeline", "__version__"]
