"""Diffusion models behind one small interface (:class:`deepmend.models.base.DiffusionModel`).

The registry is imported lazily: it lists the ground-truth simulator, which itself builds
on :mod:`deepmend.models.base`, so an eager import here would be circular whenever
``deepmend.groundtruth.simulator`` is the first module a program imports.
"""

from deepmend.models.base import DiffusionModel

__all__ = ["DiffusionModel", "MODELS", "make_model"]


def __getattr__(name: str):
    if name in ("MODELS", "make_model"):
        from deepmend.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'deepmend.models' has no attribute {name!r}")
