"""Diffusion models behind one small interface (:class:`deepmend.models.base.DiffusionModel`)."""

from deepmend.models.base import DiffusionModel
from deepmend.models.registry import MODELS, make_model

__all__ = ["DiffusionModel", "MODELS", "make_model"]
