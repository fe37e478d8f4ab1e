"""Teacher: the probabilistic model with α chosen per BS to fit the ground truth (METHOD.md §2).

For each BS the 2-D KS distance between the ground-truth map and the probabilistic map
is minimised over a fixed grid of α. The grid is searched exhaustively rather than by
a 1-D optimiser because KS(α) is not unimodal in general (masks, coasts and speckled
ground truth give it plateaus and secondary minima), and because with a fixed grid the
normalisers Σ_j d^−α of *every* α are computed once per scene
(:func:`deepmend.models.probabilistic.denominators`): one BS then costs one
(K, 600, 600) power + division and one stacked KS, with no Python loop over α or cells.

α grid (:data:`TEACHER_ALPHAS`): the reference grid {0.1, 0.5, 1, 1.3, 1.5, 2, 2.5, 3,
4, 5, 10} merged with a finer one, {0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.4,
1.7, 2.25, 3.5} — 24 values, steps of ≤ 0.1 between 0.1 and 1.5, where operator-like
ground truth puts its best α. The grid is deliberately not finer: the per-scene
normalisers cost one pass over (valid cells × sites) per α (≈ 5–10 s per α for a city
on 2 loaded cores), and KS changes by < 0.01 between neighbouring α of this grid. A
planted α on the grid is recovered exactly (KS = 0): the teacher builds its candidate
maps with the same arithmetic as :class:`ProbabilisticModel`.
Ties (equal KS to 1e-12) go to the smaller α, the wider map.
"""

from __future__ import annotations

import numpy as np

from deepmend.errors import InputError, ParameterError
from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.metrics.ks import ks2d_many
from deepmend.models.base import DiffusionModel
from deepmend.models.probabilistic import REFERENCE_ALPHAS, denominators, weights_on_window
from deepmend.scene import Scene

#: Finer grid merged with the reference one (see module docstring).
FINE_ALPHAS = (0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.4, 1.7, 2.25, 3.5)
TEACHER_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.unique(np.round(np.array(REFERENCE_ALPHAS + FINE_ALPHAS), 4)))


def candidate_maps(scene: Scene, i: int, alphas: np.ndarray, den: np.ndarray) -> np.ndarray:
    """The probabilistic maps of BS ``i`` for every α at once, each summing to 1.

    Same arithmetic as ``ProbabilisticModel.predict`` (weights × uniform prior on the
    mask, then normalised), so a map made with an α of the grid is reproduced bit for bit
    (Traag et al. 2011; METHOD.md §2).

    Parameters
    ----------
    scene : Scene
        The scene.
    i : int
        Site index of the BS.
    alphas : numpy.ndarray of float, shape (K,)
        The α grid.
    den : numpy.ndarray, shape (K, ny, nx)
        :func:`~deepmend.models.probabilistic.denominators` for ``alphas``.

    Returns
    -------
    numpy.ndarray of float32, shape (K, 600, 600)
        P(ℓ|i) per α, lattice order (row 0 = south).
    """
    rs, cs = scene.slices(i)
    mask = scene.mask[rs, cs]
    w = weights_on_window(scene, i, alphas, den)
    rc = scene.site_rc(i)
    return np.stack([finalize(w[k], mask, rc) for k in range(w.shape[0])])


def search_alpha(scene: Scene, i: int, truth: np.ndarray, alphas: np.ndarray, den: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The α of the grid whose map is closest to ``truth`` in 2-D KS (Peacock 1983; METHOD.md §2, §3).

    Ties (KS equal to 1e-12) go to the smaller α, the wider map.

    Parameters
    ----------
    scene : Scene
        The scene.
    i : int
        Site index of the BS.
    truth : numpy.ndarray, shape (600, 600)
        The ground-truth map, lattice order (row 0 = south).
    alphas : numpy.ndarray of float, shape (K,)
        The α grid, ascending.
    den : numpy.ndarray, shape (K, ny, nx)
        The normalisers for ``alphas``.

    Returns
    -------
    best : int
        Index of the chosen α.
    ks : numpy.ndarray of float64, shape (K,)
        KS of every α.
    maps : numpy.ndarray of float32, shape (K, 600, 600)
        The candidate maps.
    """
    maps = candidate_maps(scene, i, alphas, den)
    ks = ks2d_many(maps, truth)
    best = int(np.flatnonzero(ks <= ks.min() + 1e-12)[0])  # ties → smallest α (alphas sorted ascending)
    return best, ks, maps


class TeacherModel(DiffusionModel):
    """Per-BS best-α probabilistic maps: the soft labels of the student, and the evaluation's upper reference.

    Parameters
    ----------
    ground_truth : DiffusionModel
        Any model whose ``predict(site)`` is the truth (the simulator, :class:`OperatorMaps`,
        or in tests a probabilistic model with a planted α); it is fitted on the scene
        unless it already is. Required: :func:`deepmend.registry.make_model` passes the
        registered ground truth (this package sits below the ground-truth layer).
    alphas : sequence of float
        The α grid searched (sorted and deduplicated at fit), default :data:`TEACHER_ALPHAS`.
    """

    name = "teacher"
    label = "Teacher (per-BS α)"
    description = "Probabilistic model with α chosen per base station to minimise 2-D KS to the ground truth (needs ground truth)."
    needs_ground_truth = True

    def __init__(self, ground_truth: DiffusionModel | None = None, alphas: tuple[float, ...] | np.ndarray = TEACHER_ALPHAS) -> None:
        self.ground_truth = ground_truth
        self.alphas = alphas

    def validate(self) -> "TeacherModel":
        """The α grid must hold positive finite numbers; a ground-truth model must be given.

        Raises
        ------
        ParameterError
            If the α grid is empty or holds a non-finite or non-positive value.
        InputError
            If no ground-truth model was given.
        """
        try:
            a = np.asarray(self.alphas, dtype=np.float64)
        except (TypeError, ValueError):
            a = np.array([np.nan])
        if a.size == 0 or not np.all(np.isfinite(a)) or a.min() <= 0:
            raise ParameterError("teacher α grid must be positive numbers", column="alphas", value=list(np.atleast_1d(self.alphas)))
        if self.ground_truth is None:
            raise InputError("the teacher needs a ground-truth model (ground_truth=…); deepmend.registry.make_model('teacher') passes the registered one",
                             column="ground_truth")
        return self

    def params(self) -> dict:
        return {"alpha_grid": [float(a) for a in self.alphas_]} if hasattr(self, "alphas_") else {}

    def _fit(self, scene: Scene) -> None:
        self.alphas_ = np.sort(np.unique(np.asarray(self.alphas, dtype=np.float64)))
        gt = self.ground_truth
        if getattr(gt, "scene_", None) is not scene:
            gt = gt.fit(scene)
        self.ground_truth_ = gt
        self.denominators_ = denominators(scene, self.alphas_)
        self.chosen_: dict[int, tuple[float, float]] = {}

    def choose(self, i: int, truth: DiffusionMap | None = None) -> tuple[float, float, np.ndarray]:
        """(best α, its KS, the soft-label map) for BS ``i``; ``truth`` avoids re-predicting the ground truth."""
        self.check_fitted()
        truth = truth if truth is not None else self.ground_truth_.predict(i)
        best, ks, maps = search_alpha(self.scene_, i, truth.lattice_prob, self.alphas_, self.denominators_)
        self.chosen_[i] = (float(self.alphas_[best]), float(ks[best]))
        return float(self.alphas_[best]), float(ks[best]), maps[best]

    def alpha_of(self, i: int) -> float:
        """The chosen α of BS ``i`` (searched on first use)."""
        if i not in self.chosen_:
            self.choose(i)
        return self.chosen_[i][0]

    def _raw(self, i: int) -> np.ndarray:
        k = int(np.searchsorted(self.alphas_, self.alpha_of(i)))
        return weights_on_window(self.scene_, i, self.alphas_[k : k + 1], self.denominators_[k : k + 1])[0]

    def predict(self, site: int | str) -> DiffusionMap:
        """The map of the chosen α, with ``meta["params"] = {"alpha": α, "ks_to_truth": KS}``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit` (from :meth:`DiffusionModel.predict`).
        InputError
            For an unknown site.
        """
        m = super().predict(site)
        i = self.scene_.site_index(site)
        m.meta["params"] = {"alpha": self.chosen_[i][0], "ks_to_truth": self.chosen_[i][1]}
        return m
