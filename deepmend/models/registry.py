"""Model names → classes, so the CLI and the API build models the same way."""

from __future__ import annotations

from deepmend.errors import InputError
from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.models.base import DiffusionModel
from deepmend.models.deepmend import DeepMENDModel
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.models.teacher import TeacherModel
from deepmend.models.voronoi import VoronoiModel
from deepmend.models.voronoiboost import VoronoiBoostModel

MODELS: dict[str, type[DiffusionModel]] = {
    m.name: m for m in (VoronoiModel, ProbabilisticModel, VoronoiBoostModel, TeacherModel, DeepMENDModel, GroundTruthSimulator)
}


def make_model(name: str, **params) -> DiffusionModel:
    """A new, unfitted model by name; unknown names list the valid ones."""
    cls = MODELS.get(str(name).lower())
    if cls is None:
        raise InputError(f"unknown model; valid: {', '.join(sorted(MODELS))}", column="model", value=name)
    if cls is ProbabilisticModel:
        return cls(alpha=params.get("alpha") if params.get("alpha") is not None else 1.3)
    if params.get("weights") is not None:  # a user's own DeepMEND weights
        return cls(weights=params["weights"])
    return cls()
