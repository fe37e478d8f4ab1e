"""Shape descriptors of a single diffusion map.

These summarise *how* a model's map differs from the ground truth rather than
by how much: whether it keeps the mass in the BS's Voronoi cell, how far its
50 %/90 % mass radius reaches (ground-truth maps are far wider than Voronoi
cells), and how elongated it is (radial streaks along roads and valleys). The
radius of mass and the principal-axis ratio are the standard definitions
(mass-weighted quantile of distance; square root of the ratio of the
eigenvalues of the mass-weighted covariance of positions).

Coordinates: positions are given in *cell index coordinates* (row, col) of the
array passed in, where cell (r, c) covers [r, r+1) × [c, c+1) and so has its
centre at (r+0.5, c+0.5). The descriptors do not depend on the row order, but
``center_rc`` must use the same one as the map: callers pass lattice-order
arrays (row 0 = south, ``DiffusionMap.lattice_prob``), where a point at metric
offset (dy, dx) from the window's south-west corner sits at
(dy/res_m, dx/res_m); in a north-up ``DiffusionMap.prob`` (row 0 = north) it
sits at (H − dy/res_m, dx/res_m).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deepmend.metrics._validate import as_map

__all__ = ["mass_inside", "radius_of_mass", "radii_of_mass", "anisotropy"]


def mass_inside(p: ArrayLike, region: ArrayLike) -> float:
    """Mass of ``p`` on the boolean ``region`` (e.g. the BS's Voronoi cell).

    Near 1 for Voronoi-like maps, much lower for the wide ground truth; a model
    that gets KS right but puts the mass in the wrong cell shows up here
    (standard definition: Σ of p over the region).

    Parameters
    ----------
    p : array_like, shape (H, W)
        The map (not renormalised).
    region : array_like of bool, shape (H, W)
        The cells to sum over, same grid and row order as ``p``.

    Returns
    -------
    float
        Σ p over ``region``: a fraction of the mass when ``p`` sums to 1.

    Raises
    ------
    ValueError
        If ``p`` is not a finite 2-D map, ``region`` is not boolean, or the shapes
        differ.
    """
    pa = as_map(p, "p")
    reg = np.asarray(region)
    if reg.dtype != np.bool_:
        raise ValueError(f"region must be boolean, got {reg.dtype}")
    if reg.shape != pa.shape:
        raise ValueError(f"region and p must share a grid: {reg.shape} vs {pa.shape}")
    return float(pa[reg].sum())


def radii_of_mass(
    p: ArrayLike,
    center_rc: tuple[float, float],
    qs: Sequence[float] | ArrayLike,
    res_m: float = 100.0,
) -> NDArray[np.float64]:
    """Radii (km) holding each fraction of ``qs`` of the mass.

    One sort serves all fractions, which matters when both 50 % and 90 % are wanted
    per BS. See :func:`radius_of_mass` for the definition (standard definition of a
    radius of mass).

    Parameters
    ----------
    p : array_like, shape (H, W)
        Non-negative map, not necessarily normalised.
    center_rc : tuple of float
        Centre (row, col) in cell index coordinates, same row order as ``p``.
    qs : sequence of float
        Mass fractions in [0, 1].
    res_m : float, default 100.0
        Cell size in metres.

    Returns
    -------
    numpy.ndarray of float64, shape (len(qs),)
        The radii in km.

    Raises
    ------
    ValueError
        If ``p`` is not a finite 2-D map, has negative or no mass, or a fraction is
        outside [0, 1] or non-finite.
    """
    pa = as_map(p, "p")
    if np.any(pa < 0):
        raise ValueError("p has negative mass")
    qa = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    if np.any((qa < 0) | (qa > 1)) or not np.all(np.isfinite(qa)):
        raise ValueError(f"mass fractions must lie in [0, 1], got {qa}")
    total = pa.sum()
    if total <= 0:
        raise ValueError("p has no mass (all zero)")
    r0, c0 = (float(v) for v in center_rc)

    # Only cells holding mass can change the cumulative mass, so sort those alone.
    rows, cols = np.nonzero(pa > 0)
    dist = np.hypot(rows + 0.5 - r0, cols + 0.5 - c0)
    order = np.argsort(dist, kind="stable")
    dist = dist[order]
    cum = np.cumsum(pa[rows, cols][order]) / total
    # Relative slack so that q = 1 (or q equal to a partial sum) is not missed
    # because the float cumulative sum ends at 0.9999999999999998.
    idx = np.searchsorted(cum, qa * (1.0 - 1e-12), side="left")
    idx = np.minimum(idx, dist.size - 1)
    radii = dist[idx] * (res_m / 1000.0)
    radii[qa == 0] = 0.0
    return radii


def radius_of_mass(
    p: ArrayLike, center_rc: tuple[float, float], q: float, res_m: float = 100.0
) -> float:
    """Smallest radius r (km) around ``center_rc`` holding the fraction ``q`` of the mass.

    The cells whose centres lie within distance r hold at least ``q`` of the mass
    (standard definition of a radius of mass). Each cell's mass is treated as
    sitting at its centre, so r is always the distance to some cell centre: a
    single-cell map has radius 0 about its own centre (r+0.5, c+0.5) and √2/2 cells
    (≈ 70.7 m at 100 m) about one of its corners. q = 0 gives 0.

    Parameters
    ----------
    p : array_like, shape (H, W)
        Non-negative map, not necessarily normalised.
    center_rc : tuple of float
        Centre (row, col) in cell index coordinates (see the module docstring).
    q : float
        Mass fraction in [0, 1].
    res_m : float, default 100.0
        Cell size in metres.

    Returns
    -------
    float
        The radius in km.

    Raises
    ------
    ValueError
        As :func:`radii_of_mass`.
    """
    return float(radii_of_mass(p, center_rc, [q], res_m)[0])


def anisotropy(p: ArrayLike) -> float:
    """Major/minor principal-axis ratio (≥ 1) of the map's mass distribution.

    Axes are the square roots of the eigenvalues of the mass-weighted covariance
    of positions (standard definition, principal component analysis). Each cell's
    mass is treated as spread uniformly over the cell (adding 1/12 cell² of
    variance on each axis) rather than as a point at its centre: this keeps the
    ratio finite for maps one cell wide and makes it exact for uniform rectangles
    (a uniform a×b-cell block gives a/b). Scale-free, so no ``res_m``.

    Parameters
    ----------
    p : array_like, shape (H, W)
        Non-negative map, not necessarily normalised; either row order.

    Returns
    -------
    float
        √(λ_max/λ_min), ≥ 1 (dimensionless).

    Raises
    ------
    ValueError
        If ``p`` is not a finite 2-D map or has negative or no mass.
    """
    pa = as_map(p, "p")
    if np.any(pa < 0):
        raise ValueError("p has negative mass")
    total = pa.sum()
    if total <= 0:
        raise ValueError("p has no mass (all zero)")
    w = pa / total
    h, wd = w.shape
    # Marginals give the first moments; the mixed moment needs the full map.
    yr = np.arange(h) + 0.5
    xc = np.arange(wd) + 0.5
    my = w.sum(axis=1) @ yr
    mx = w.sum(axis=0) @ xc
    dy = yr - my
    dx = xc - mx
    vyy = w.sum(axis=1) @ dy**2 + 1.0 / 12.0
    vxx = w.sum(axis=0) @ dx**2 + 1.0 / 12.0
    vxy = dy @ w @ dx
    # Closed-form eigenvalues of the symmetric 2×2 covariance.
    half_tr = 0.5 * (vyy + vxx)
    disc = np.hypot(0.5 * (vyy - vxx), vxy)
    lam_max = half_tr + disc
    lam_min = max(half_tr - disc, 1.0 / 12.0)  # ≥ 1/12 exactly; clamp round-off
    return float(np.sqrt(lam_max / lam_min))
