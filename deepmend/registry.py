"""The one registry of diffusion models: name → class, and how to build one by name.

It sits above :mod:`deepmend.groundtruth` in the layer order (docs/ARCHITECTURE.md)
because it lists the ground-truth simulator and gives the models that learn from a
ground truth (teacher, VoronoiBoost) the *registered* one. The CLI, the batch engine,
the evaluation and the API all build models here, so they build them the same way.
"""

from __future__ import annotations

import inspect

from deepmend.errors import NotFoundError, ParameterError
from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.models.base import DiffusionModel
from deepmend.models.deepmend import DeepMENDModel
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.models.teacher import TeacherModel
from deepmend.models.voronoi import VoronoiModel
from deepmend.models.voronoiboost import VoronoiBoostModel

__all__ = ["MODELS", "build_model", "make_model", "model_class"]

#: Registered models by name (tests may swap an entry, e.g. a cheap stand-in ground truth).
MODELS: dict[str, type[DiffusionModel]] = {
    m.name: m for m in (VoronoiModel, ProbabilisticModel, VoronoiBoostModel, TeacherModel, DeepMENDModel, GroundTruthSimulator)
}


def model_class(name: str, registry: dict[str, type[DiffusionModel]] | None = None) -> type[DiffusionModel]:
    """The class registered as ``name`` (case-insensitive) in ``registry`` (default :data:`MODELS`).

    Raises
    ------
    NotFoundError
        Unknown name; the message lists the valid ones.
    """
    reg = MODELS if registry is None else registry
    cls = reg.get(str(name).strip().lower())
    if cls is None:
        raise NotFoundError(f"unknown model; valid: {', '.join(sorted(reg))}", column="model", value=name)
    return cls


def build_model(name: str, strict: bool = False, registry: dict[str, type[DiffusionModel]] | None = None, **params) -> DiffusionModel:
    """A new, unfitted, *unvalidated* model by name: only stores its parameters (free).

    ``None`` values mean "the default" and are dropped; so are parameters the model does
    not take (``alpha`` only applies to the probabilistic model) unless ``strict``. Models
    that need a ground truth get the registered one (``MODELS["groundtruth"]``) unless
    ``ground_truth`` is given. ``registry`` replaces :data:`MODELS` (the API injects its own).

    Raises
    ------
    NotFoundError
        Unknown model name.
    ParameterError
        With ``strict``: a parameter the model does not take.
    """
    reg = MODELS if registry is None else registry
    cls = model_class(name, reg)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    params = {k: v for k, v in params.items() if v is not None}
    unknown = sorted(set(params) - accepted)
    if unknown and not strict:
        params = {k: v for k, v in params.items() if k in accepted}
    elif unknown:
        raise ParameterError(f"model '{cls.name}' takes no parameter {unknown[0]!r}; it takes: {', '.join(sorted(accepted)) or 'none'}",
                             column=unknown[0], value=params[unknown[0]])
    if "ground_truth" in accepted and "ground_truth" not in params and cls is not reg.get("groundtruth"):
        gt = reg.get("groundtruth")
        if gt is not None:
            params["ground_truth"] = gt()
    return cls(**params)


def make_model(name: str, strict: bool = False, registry: dict[str, type[DiffusionModel]] | None = None, **params) -> DiffusionModel:
    """:func:`build_model`, validated and prepared (weights loaded): bad options fail now, before any work.

    Raises
    ------
    NotFoundError, ParameterError, InputError
        Unknown model, bad parameter value, unusable weights file (naming it).
    """
    return build_model(name, strict, registry, **params).validate().prepare()
