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

Country scale: the exact sum costs (valid cells) × (sites), ≈ 1e9 exponentials for a batch
tile. :func:`denominators_fast` gives the same sum with a documented error bound:

* α ≤ ``FFT_MAX_ALPHA``: the K nearest sites of each cell exactly, every other site
  snapped to the centre of its 100 m cell and summed by one FFT convolution of the site
  count raster with the kernel |Δ|^−α (then the snapped K nearest are subtracted again).
  A snapped site moves by at most δ = res/√2 ≈ 70.7 m and lies at ≥ d_K (the K-th
  nearest distance of the cell), so the sum's relative error is at most
  ε(ℓ) = (1 − δ/d_K(ℓ))^−α − 1 (+ FFT round-off ≈ 1e-16·sites/D, negligible for α ≤ 4: D ≥ d_min^−α);
* α > ``FFT_MAX_ALPHA``: the K nearest sites only (large α: far sites weigh nothing);
  the omitted sites are at ≥ d_K, so the relative error is at most
  ε(ℓ) = (N − K)·(d_min/d_K)^α (N sites in the scene).

The bound is returned per cell and its maximum over valid cells is kept by the model
(``normaliser_error_``); P(ℓ|i) on a window then errs by at most ≈ 2·max ε in total
variation. Tested against the exact sum in tests/models/test_probabilistic_fast.py.
"""

from __future__ import annotations

import numpy as np

from deepmend.errors import ParameterError
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

MIN_DISTANCE_M = 1.0
#: Above this exponent the fast normaliser truncates to the K nearest sites (no FFT:
#: its round-off would dominate the tiny far-field terms).
FFT_MAX_ALPHA = 4.0
#: Nearest sites summed exactly by the fast normaliser.
FAST_K = 16
NORMALISERS = ("exact", "fast")
REFERENCE_ALPHAS = (0.1, 0.5, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0)


def _log_dmin(scene: Scene, rs: slice = slice(None), cs: slice = slice(None)) -> np.ndarray:
    """ln of the nearest-site distance (clamped) on (part of) the lattice: the per-cell scale of the sums."""
    return np.log(np.maximum(scene.nearest_distance[rs, cs].astype(np.float64), MIN_DISTANCE_M))


def denominators(scene: Scene, alphas: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Σ_j (d_min(ℓ)/d(ℓ,j))^α on the valid lattice cells for each α (Traag et al. 2011, METHOD.md §2).

    Computed in the log domain (d^−α = exp(−α·ln d)) so that several α share one
    distance computation; cells × sites are processed in chunks to bound memory.

    Parameters
    ----------
    scene : Scene
        The scene (lattice, mask, sites in metres of its metric CRS).
    alphas : array_like of float, shape (K,)
        Exponents α > 0.
    chunk : int, default 64
        Sites per vectorised block.

    Returns
    -------
    numpy.ndarray of float64, shape (K, ny, nx)
        The normalisers in lattice order (row 0 = south), 0 off the mask; each ≥ 1 on it
        (the nearest site contributes 1).
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


def denominators_fast(scene: Scene, alpha: float, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The normaliser of :func:`denominators` for one α, with a relative error bound per cell.

    Exact over the K nearest sites, the far field by FFT convolution of the site density
    with the kernel d^−α (see the module docstring for the bound). Same quantity and layout
    as ``denominators(scene, [alpha])[0]``; cost O(cells·K + FFT) instead of O(cells·sites).
    The formula is Traag et al. (2011), METHOD.md §2.

    Parameters
    ----------
    scene : Scene
        The scene.
    alpha : float
        Exponent α > 0.
    k : int, optional
        Nearest sites summed exactly (default ``FAST_K``; capped at the number of sites).

    Returns
    -------
    denominator : numpy.ndarray of float64, shape (ny, nx)
        Σ_j (d_min/d_j)^α in lattice order, 0 off the mask.
    bound : numpy.ndarray of float64
        Relative error bound ε per valid cell.
    """
    from scipy import fft

    lat = scene.lattice
    res = float(lat.res)
    rr, cc = np.nonzero(scene.mask)
    sx, sy = scene.deployment.x, scene.deployment.y
    n_sites = sx.size
    k = int(min(FAST_K if k is None else k, n_sites))
    px, py = lat.xs[cc], lat.ys[rr]
    dk, ik = scene.tree.query(np.column_stack([px, py]), k=k, workers=-1)
    dk = np.maximum(dk.reshape(rr.size, k), MIN_DISTANCE_M) / res  # in cells
    ik = ik.reshape(rr.size, k)
    dmin, dlast = dk[:, 0], dk[:, -1]
    near = np.exp(-alpha * np.log(dk)).sum(axis=1)  # Σ_K d^−α (cells^−α), exact
    if alpha > FFT_MAX_ALPHA or k == n_sites:
        total = near
        bound = (n_sites - k) * np.exp(alpha * (np.log(dmin) - np.log(dlast)))
    else:
        # sites snapped to their cell on a grid that holds the lattice and every site
        ci = np.floor((sx - lat.x0) / res).astype(np.int64)
        ri = np.floor((sy - lat.y0) / res).astype(np.int64)
        r0, c0 = min(0, int(ri.min())), min(0, int(ci.min()))
        h = max(lat.ny, int(ri.max()) + 1) - r0
        w = max(lat.nx, int(ci.max()) + 1) - c0
        shape = (fft.next_fast_len(2 * h, real=True), fft.next_fast_len(2 * w, real=True))
        grid = np.zeros(shape)
        np.add.at(grid, (ri - r0, ci - c0), 1.0)
        mr = np.fft.fftfreq(shape[0]) * shape[0]  # wrapped offsets: exact for |Δ| < shape/2
        mc = np.fft.fftfreq(shape[1]) * shape[1]
        kern = np.exp(-alpha * np.log(np.maximum(np.hypot(mr[:, None], mc[None, :]), 1.0)))
        conv = fft.irfft2(fft.rfft2(grid, workers=-1) * fft.rfft2(kern, workers=-1), s=shape, workers=-1)
        del grid, kern
        far_all = conv[rr - r0, cc - c0]
        del conv
        # the K nearest as the FFT saw them (snapped, same kernel), replaced by their exact terms
        snapped = np.hypot(rr[:, None] - ri[ik], cc[:, None] - ci[ik])
        total = far_all - np.exp(-alpha * np.log(np.maximum(snapped, 1.0))).sum(axis=1) + near
        delta = 1.0 / np.sqrt(2.0)  # cells
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = np.where(dlast > delta, np.power(1.0 - delta / dlast, -alpha) - 1.0, np.inf)
    full = np.zeros(lat.shape)
    full[rr, cc] = total * np.exp(alpha * np.log(dmin))  # × d_min^α: the normalised sum of the exact code
    eps = np.zeros(lat.shape)
    eps[rr, cc] = bound
    return full, eps


#: Largest accepted exponent α: the weights are float32 (α·log d must stay finite); from a few tens on the map equals Voronoi's.
MAX_ALPHA = 1e6

class ProbabilisticModel(DiffusionModel):
    """Probabilistic "soft Voronoi" model of Traag et al. (2011): P(i|ℓ) ∝ d(ℓ,i)^−α, then Bayes.

    P(ℓ|i) ∝ P(i|ℓ) with a uniform prior over valid cells (METHOD.md §2); α → ∞ gives
    Voronoi, a small α spreads far. α = 1.3 is the default.

    Parameters
    ----------
    alpha : float, default 1.3
        The exponent α > 0.
    normaliser : {"exact", "fast"}, default "exact"
        "exact" sums every cell × every site; "fast" uses :func:`denominators_fast`
        (bounded relative error, for country-scale batches).
    """
    name = "probabilistic"
    label = "Probabilistic (Traag)"
    description = "Soft Voronoi: P(i|ℓ) ∝ distance^−α normalised over all base stations, then Bayes with a uniform prior."

    def __init__(self, alpha: float = 1.3, normaliser: str = "exact") -> None:
        """``normaliser``: "exact" (every cell × every site) or "fast" (:func:`denominators_fast`,
        bounded relative error, for country-scale batches)."""
        self.alpha = alpha
        self.normaliser = normaliser

    def validate(self) -> "ProbabilisticModel":
        """α must be a finite positive number (:class:`~deepmend.errors.ParameterError` otherwise).

        Raises
        ------
        ParameterError
            If α is not a finite positive number or the normaliser is unknown.
        """
        try:
            ok = np.isfinite(float(self.alpha)) and float(self.alpha) > 0
            big = ok and float(self.alpha) > MAX_ALPHA
        except (TypeError, ValueError):
            ok = big = False
        if not ok:
            raise ParameterError("alpha must be a positive number", column="alpha", value=self.alpha)
        if big:  # float32 weights: α·log d must stay finite (and beyond a few tens the map is Voronoi's)
            raise ParameterError(f"alpha must be at most {MAX_ALPHA:g} (larger exponents give Voronoi's map)", column="alpha", value=self.alpha)
        if self.normaliser not in NORMALISERS:
            raise ParameterError(f"unknown normaliser; valid: {', '.join(NORMALISERS)}", column="normaliser", value=self.normaliser)
        return self

    def params(self) -> dict:
        return {"alpha": float(self.alpha)} if self.normaliser == "exact" else {"alpha": float(self.alpha), "normaliser": self.normaliser}

    def _fit(self, scene: Scene) -> None:
        self.alpha_ = float(self.alpha)
        if self.normaliser == "fast":
            self.denominator_, eps = denominators_fast(scene, self.alpha_)
            self.normaliser_error_ = float(eps.max()) if eps.size else 0.0
        else:
            self.denominator_ = denominators(scene, np.array([self.alpha_]))[0]
            self.normaliser_error_ = 0.0

    def _raw(self, i: int) -> np.ndarray:
        return weights_on_window(self.scene_, i, np.array([self.alpha_]), self.denominator_[None])[0]


def weights_on_window(scene: Scene, i: int, alphas: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """P(i|ℓ) = (d_min/d_i)^α / Σ_j (d_min/d_j)^α on BS i's window for each α (Traag et al. 2011).

    Parameters
    ----------
    scene : Scene
        The scene.
    i : int
        Site index of the BS.
    alphas : numpy.ndarray of float, shape (K,)
        Exponents, in the order of ``denominator``'s first axis.
    denominator : numpy.ndarray, shape (K, ny, nx)
        :func:`denominators` of the scene for those α.

    Returns
    -------
    numpy.ndarray of float32, shape (K, 600, 600)
        P(i|ℓ) in lattice order (row 0 = south), 0 where the denominator is 0 (off the mask).
    """
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
