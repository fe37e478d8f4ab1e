"""Probabilistic model (Traag et al. 2011): a Voronoi tessellation smoothed by a power law.

P(i|ℓ) = d(ℓ,i)^−α / Σ_j d(ℓ,j)^−α, then P(ℓ|i) ∝ P(i|ℓ) with a uniform prior on valid
cells. The denominator does not depend on i, so it is computed once per deployment
and α on the valid cells of the lattice (sites in chunks, float64); a BS's map is then
one power and one division on its window.

Numerics: every distance is divided by the cell's nearest-site distance before the
power, Σ_j (d_min/d_j)^α, which equals the textbook sum up to a per-cell factor that
cancels in P(i|ℓ) and never under- or overflows, even for α in the thousands.

Far field: the sum runs over every site of the scene's deployment. Catalog scenes
include all of the operator's sites within 90 km of the city, so every cell of every
window sees all sites within at least 60 km; for α ≤ 2 sites beyond that would add a
little mass far away, which is the documented truncation. Distances are clamped to
≥ 1 m (the reference adds 1 m to its distances) so that the cell holding a site stays
finite.
"""

from __future__ import annotations

import numpy as np

from deepmend.errors import ParameterError
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

MIN_DISTANCE_M = 1.0
REFERENCE_ALPHAS = (0.1, 0.5, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0)


def _log_dmin(scene: Scene, rs: slice = slice(None), cs: slice = slice(None)) -> np.ndarray:
    """ln of the nearest-site distance (clamped) on (part of) the lattice: the per-cell scale of the sums."""
    return np.log(np.maximum(scene.nearest_distance[rs, cs].astype(np.float64), MIN_DISTANCE_M))


def denominators(scene: Scene, alphas: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Σ_j (d_min(ℓ)/d(ℓ,j))^α on the valid lattice cells for each α: (len(alphas), ny, nx), 0 off-mask.

    Computed in the log domain (d^−α = exp(−α·ln d)) so that several α share one
    distance computation; cells × sites are processed in chunks to bound memory.
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    lat = scene.lattice
    rr, cc = np.nonzero(scene.mask)
    px, py = lat.xs[cc], lat.ys[rr]
    log_dmin = _log_dmin(scene)[rr, cc]
    sx, sy = scene.deployment.x, scene.deployment.y
    out = np.zeros((alphas.size, rr.size), dtype=np.float64)
    step = max(1, int(2_000_000 // max(chunk, 1)))
    for a in range(0, rr.size, step):
        bx, by = px[a : a + step], py[a : a + step]
        for b in range(0, sx.size, chunk):
            d2 = (bx[:, None] - sx[None, b : b + chunk]) ** 2 + (by[:, None] - sy[None, b : b + chunk]) ** 2
            logd = 0.5 * np.log(np.maximum(d2, MIN_DISTANCE_M**2)) - log_dmin[a : a + step, None]
            for k, alpha in enumerate(alphas):
                out[k, a : a + step] += np.exp(-alpha * logd).sum(axis=1)
    full = np.zeros((alphas.size,) + lat.shape, dtype=np.float64)
    full[:, rr, cc] = out
    return full


class ProbabilisticModel(DiffusionModel):
    name = "probabilistic"
    label = "Probabilistic (Traag)"
    description = "Soft Voronoi: P(i|ℓ) ∝ distance^−α normalised over all base stations, then Bayes with a uniform prior."

    def __init__(self, alpha: float = 1.3) -> None:
        self.alpha = alpha

    def validate(self) -> "ProbabilisticModel":
        """α must be a finite positive number (:class:`~deepmend.errors.ParameterError` otherwise)."""
        try:
            ok = np.isfinite(float(self.alpha)) and float(self.alpha) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParameterError("alpha must be a positive number", column="alpha", value=self.alpha)
        return self

    def params(self) -> dict:
        return {"alpha": float(self.alpha)}

    def _fit(self, scene: Scene) -> None:
        self.alpha_ = float(self.alpha)
        self.denominator_ = denominators(scene, np.array([self.alpha_]))[0]

    def _raw(self, i: int) -> np.ndarray:
        return weights_on_window(self.scene_, i, np.array([self.alpha_]), self.denominator_[None])[0]


def weights_on_window(scene: Scene, i: int, alphas: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """P(i|ℓ) on BS i's window for each α (array (K, 600, 600), 0 where the denominator is 0)."""
    win = scene.window(i)
    rs, cs = scene.slices(i)
    xs, ys = win.centers()
    d2 = ((xs[None, :] - scene.deployment.x[i]) ** 2 + (ys[:, None] - scene.deployment.y[i]) ** 2).astype(np.float32)
    # log-ratio to the nearest site is ≥ 0 up to rounding; float32 is ample for it
    logd = np.float32(0.5) * np.log(np.maximum(d2, np.float32(MIN_DISTANCE_M**2))) - _log_dmin(scene, rs, cs).astype(np.float32)
    den = denominator[:, rs, cs]
    num = np.exp(-np.asarray(alphas, dtype=np.float32)[:, None, None] * logd[None])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).astype(np.float32)
