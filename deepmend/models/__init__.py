"""Diffusion models P(ℓ|i) behind one interface (:class:`deepmend.models.base.DiffusionModel`).

Build them by name with :func:`deepmend.registry.make_model`; the registry lives one
layer up because it also lists the ground-truth simulator (docs/ARCHITECTURE.md).
"""

from deepmend.models.base import DiffusionModel

__all__ = ["DiffusionModel"]
