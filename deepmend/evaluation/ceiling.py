"""The noise ceiling of a simulated ground truth: the best position-only prediction in KL (issue 19).

A simulated ground truth (GT1, :class:`~deepmend.groundtruth.simulator.GroundTruthSimulator`;
GT2, :class:`~deepmend.groundtruth.sim2.SignalDominanceSimulator`) is a function of what the
data fix (site positions, heights and azimuths when given, the region's mask, the population)
*and* of random draws seeded by ``config.seed`` (shadowing fields, LOS states, path-loss
exponents, radial streaks, terrain, azimuths and heights when the data lack them). A model that
sees only the deployment cannot know the draws of the evaluated seed; the best it can do is
predict their average. :class:`NoiseCeilingModel` computes that average: the mean of the maps
of ``k`` *other* seeds of the same simulator and configuration,

    P̄(ℓ|i) = (1/k) Σ_{s ∈ seeds} P_s(ℓ|i),   renormalised on the truth's mask,

an estimate of E_s[P_s(ℓ|i)], the conditional mean of the truth given everything the simulator
fixes. Under log loss (KL divergence to the truth) the mean of the predictive distributions is
the Bayes-optimal point prediction (the posterior predictive: Aitchison, "Goodness of
prediction fit", Biometrika 62(3), 1975; Gneiting & Raftery, JASA 102(477), 2007, on proper
scoring rules), so it is an upper reference for position-only models *in KL*. It is **not** the
optimum for KS or EMD: a mixture of maps is wider than each of them, and a sharper map may score
better in EMD on a given seed (on GT2 it does: docs/GROUNDTRUTH.md § "The noise ceiling"). With
finite ``k`` the mean keeps part of the noise of its k draws, so it slightly underestimates the
ceiling (its error shrinks as 1/k).

The seeds never include the evaluated truth's own seed (that would leak the answer): by default
``truth seed + 1 … truth seed + k``. Each seed's simulator is built like the truth (same class,
same configuration but ``seed``, same ``use_cache``); GT1's uses its per-BS path (``lazy=True``:
seconds per BS and seed, no whole-city fit unless one is cached), GT2's has no per-BS path and
fits its deployment rasters once per seed (tens of seconds per city, cached on disk under
``cache_dir()/groundtruth2`` when ``use_cache``, ~90 MB per seed for a city; each fitted seed is
held in memory until the model is dropped).
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np
from sklearn.base import clone

from deepmend.errors import InputError, ParameterError
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

#: The model's name in ``deepmend evaluate --models`` and in reports.
CEILING_NAME = "noise-ceiling"
#: Default number of other seeds averaged.
DEFAULT_K = 8
#: The one sentence that explains the row wherever it is reported.
CEILING_SENTENCE = "the mean of K other draws of the same truth: the best a position-only model can do in KL (a reference, not a bound, in KS and EMD)"


def _simulators() -> tuple[type, ...]:
    from deepmend.groundtruth.sim2 import SignalDominanceSimulator
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    return GroundTruthSimulator, SignalDominanceSimulator


def truth_config(ground_truth: DiffusionModel):
    """The configuration in effect of a simulated ground truth (``config_`` of GT1, ``config`` of GT2).

    Raises
    ------
    InputError
        If ``ground_truth`` is not one of the two simulators (e.g. a dataset of real maps: it has no seeds).
    """
    if not isinstance(ground_truth, _simulators()):
        raise InputError("the noise ceiling needs a simulated ground truth (GroundTruthSimulator or SignalDominanceSimulator): "
                         "a dataset of maps has no random draws to average", column="ground_truth", value=type(ground_truth).__name__)
    return getattr(ground_truth, "config_", None) or ground_truth.config


class NoiseCeilingModel(DiffusionModel):
    """Mean of ``k`` other draws of a simulated ground truth: the best position-only prediction in KL (a reference in KS/EMD).

    See the module docstring for what it estimates and why (conditional mean of the truth given the
    deployment, region and population; Bayes-optimal under log loss, not under KS or EMD).

    Parameters
    ----------
    ground_truth : GroundTruthSimulator or SignalDominanceSimulator
        The evaluated truth (fitted or not): its class, configuration and ``use_cache`` are copied,
        its ``seed`` replaced.
    k : int, default 8
        Number of seeds averaged when ``seeds`` is None: ``truth seed + 1 … truth seed + k``.
    seeds : sequence of int, optional
        The seeds themselves (distinct; never the truth's own seed).

    Notes
    -----
    ``predict(i)`` returns a :class:`~deepmend.grid.diffusion_map.DiffusionMap` whose ``prob`` is
    float32 (600, 600), north-up, zero off the mask and summing to 1 on it (the mean of the seeds'
    maps, renormalised there); ``meta["params"]`` records the seeds and the truth's configuration digest.
    """

    name: ClassVar[str] = CEILING_NAME
    label: ClassVar[str] = "Noise ceiling (mean of other draws of the truth)"
    description: ClassVar[str] = "Reference for position-only models: " + CEILING_SENTENCE + "."
    needs_ground_truth: ClassVar[bool] = True

    def __init__(self, ground_truth: DiffusionModel | None = None, k: int = DEFAULT_K, seeds: Sequence[int] | None = None) -> None:
        self.ground_truth = ground_truth
        self.k = k
        self.seeds = seeds

    def seeds_(self) -> tuple[int, ...]:
        """The seeds averaged (validated): ``seeds``, else ``truth seed + 1 … truth seed + k``."""
        own = int(truth_config(self.ground_truth).seed)
        if self.seeds is None:
            return tuple(range(own + 1, own + 1 + int(self.k)))
        return tuple(int(s) for s in self.seeds)

    def validate(self) -> "NoiseCeilingModel":
        """Check the truth and the seeds.

        Raises
        ------
        InputError
            No ground truth, or one that is not a simulator.
        ParameterError
            ``k`` < 1 (when ``seeds`` is None), an empty or repeated seed list, or one that holds
            the truth's own seed.
        """
        if self.ground_truth is None:
            raise InputError("the noise ceiling needs the evaluated ground truth", column="ground_truth", value=None)
        own = int(truth_config(self.ground_truth).seed)
        if self.seeds is None and (not isinstance(self.k, (int, np.integer)) or self.k < 1):
            raise ParameterError("must be an integer ≥ 1", column="k", value=self.k)
        seeds = self.seeds_()
        if not seeds or len(set(seeds)) != len(seeds):
            raise ParameterError("needs one or more distinct seeds", column="seeds", value=list(seeds))
        if own in seeds:
            raise ParameterError(f"holds the evaluated truth's own seed {own}: the ceiling must average other draws, "
                                 "never the answer", column="seeds", value=list(seeds))
        return self

    def params(self) -> dict:
        return {"seeds": list(self.seeds_()), "truth": type(self.ground_truth).__name__,
                "truth_config_digest": truth_config(self.ground_truth).digest()}

    def _fit(self, scene: Scene) -> None:
        cfg = truth_config(self.ground_truth)
        self.members_ = []
        for s in self.seeds_():
            m = clone(self.ground_truth).set_params(config=cfg.with_(seed=s))
            if "lazy" in m.get_params(deep=False):
                m.set_params(lazy=True)  # GT1: the per-BS path, no whole-city fit
            self.members_.append(m.fit(scene))

    def _raw(self, i: int) -> np.ndarray:
        # k seeds, each a vectorised window map (lattice order, like every model's _raw)
        acc = sum(m.predict(i).lattice_prob.astype(np.float64) for m in self.members_)
        return acc / len(self.members_)
