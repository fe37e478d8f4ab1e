"""Earth mover's distance (Wasserstein-1, km) between diffusion maps.

Method (METHOD.md §3; EMD as in Rubner et al. 2000): exact optimal transport (POT's network simplex, ``ot.emd2``,
Flamary et al. 2021) with the
Euclidean ground distance between cell centres, on the grid coarsened by
summing ``block × block`` cells.  An exact solver is used rather than entropic
(Sinkhorn) OT because the entropic bias is of the same order as the distances
being compared between models and depends on the regularisation, whereas the
coarsening error below has a hard, documented bound.

Error bounds (W = distance on the native grid, Ŵ = returned value):

* Coarsening moves every unit of mass of each map from its fine cell centre to
  the centre of its coarse cell, i.e. by at most half a coarse-cell diagonal,
  so |W − Ŵ| ≤ √2·block·res_m/1000 km.  (Fine cell centres are in fact at most
  √2·(block−1)·res_m/2 from the coarse centre, so the bound tightens to
  √2·(block−1)·res_m/1000 km and ``block=1`` is exact.)  With the defaults
  (block 10, 100 m cells) that is ≤ 1.27 km.
* Only the *difference* of the two maps is transported: for a metric ground
  cost, W1(P, Q) = W1((P−Q)⁺, (P−Q)⁻) (Kantorovich–Rubinstein), so mass shared
  by P and Q never needs to move.  This is exact and shrinks the transport
  problem to two disjoint supports, a several-fold speed-up.
* The smallest |P−Q| coarse cells whose total mass is ≤ ``tail_mass`` are left
  out (the far tails of smooth maps make up most of the support but carry
  almost no mass).  Moving mass δ changes W1 by at most δ·diameter, so this
  adds at most tail_mass·(coarse-grid diagonal) km: ≤ 0.85 m at the defaults
  on a 600×600 grid, negligible next to the coarsening bound, for a 2–5×
  speed-up on smooth, wide maps.  ``tail_mass=0`` keeps every cell.

Speed (CPU time, one core, 600×600, block 10): ≈ 0.04–0.3 s per pair of
σ ≈ 5 km Gaussian-like maps, depending on how much of the grid their
difference covers; maps spread over the whole window (σ ≈ 15 km) take ≈ 2 s,
where a larger ``block`` is the lever (the solver time grows roughly with the
square of the number of support cells).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deepmend.metrics._validate import as_map, same_shape

__all__ = ["emd_km", "coarsen"]


def coarsen(p: NDArray[np.float64], block: int) -> NDArray[np.float64]:
    """Sum ``block × block`` cells, zero-padding the far row and column edges.

    Padding with zeros keeps the mass unchanged when the shape is not a multiple
    of ``block``; the partial coarse cells still contain all their fine cell centres
    within half a coarse diagonal, so the error bound of the module docstring holds.

    Parameters
    ----------
    p : numpy.ndarray, shape (H, W)
        A map (any row order; the coarse map keeps it).
    block : int
        Coarsening factor, ≥ 1.

    Returns
    -------
    numpy.ndarray, shape (ceil(H/block), ceil(W/block))
        Block sums; total mass equal to ``p.sum()``.

    Raises
    ------
    ValueError
        If ``block`` is not a positive integer.
    """
    if int(block) != block or block < 1:
        raise ValueError(f"block must be a positive integer, got {block}")
    block = int(block)
    h, w = p.shape
    hc, wc = -(-h // block), -(-w // block)
    if (hc * block, wc * block) != (h, w):
        p = np.pad(p, ((0, hc * block - h), (0, wc * block - w)))
    return p.reshape(hc, block, wc, block).sum(axis=(1, 3))


def _normalised(a: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    """Rescale to total mass 1: the solver needs exactly balanced marginals, and
    float32 maps summed over 360 000 cells are only balanced to ~1e-6."""
    if np.any(a < 0):
        raise ValueError(f"{name} has negative mass")
    total = a.sum()
    if total <= 0:
        raise ValueError(f"{name} has no mass (all zero)")
    return a / total


def emd_km(
    p: ArrayLike,
    q: ArrayLike,
    res_m: float = 100.0,
    block: int = 10,
    tail_mass: float = 1e-5,
) -> float:
    """Wasserstein-1 (earth mover's) distance between maps ``p`` and ``q``, in km.

    Exact optimal transport (Rubner et al. 2000; solved by POT's network simplex,
    Flamary et al. 2021) with the Euclidean ground distance between coarse cell
    centres; see the module docstring for the error bounds of ``block`` and
    ``tail_mass``. The EMD score of Martínez-Durive et al. (SECON 2024), METHOD.md §3.

    Parameters
    ----------
    p, q : array_like, shape (H, W)
        Two non-negative maps on the same grid; both are renormalised to sum 1.
    res_m : float, default 100.0
        Native cell size in metres (> 0).
    block : int, default 10
        Coarsening factor (≥ 1; 1 is exact).
    tail_mass : float, default 1e-5
        Mass of the smallest |P−Q| coarse cells left out, in [0, 1).

    Returns
    -------
    float
        The distance in km (0 when the maps agree after coarsening).

    Raises
    ------
    ValueError
        If a map is not 2-D, holds non-finite or negative values, is all zero, the
        shapes differ, ``block`` is not a positive integer, ``tail_mass`` is outside
        [0, 1) or ``res_m`` ≤ 0.
    RuntimeError
        If the network simplex stops before the optimum.
    """
    pa = _normalised(as_map(p, "p"), "p")
    qa = _normalised(as_map(q, "q"), "q")
    same_shape(pa, qa, "p", "q")
    if not 0.0 <= tail_mass < 1.0:
        raise ValueError(f"tail_mass must be in [0, 1), got {tail_mass}")
    if not res_m > 0:
        raise ValueError(f"res_m must be positive, got {res_m}")

    d = coarsen(pa, block) - coarsen(qa, block)
    wc = d.shape[1]
    flat = d.ravel()
    moved = 0.5 * np.abs(flat).sum()  # mass that has to move = TV(P, Q) on the coarse grid
    if moved == 0.0:
        return 0.0

    keep = flat != 0.0
    if tail_mass > 0.0:
        order = np.argsort(np.abs(flat), kind="stable")
        dropped = np.searchsorted(np.cumsum(np.abs(flat[order])), tail_mass, side="right")
        keep[order[:dropped]] = False
    src = np.flatnonzero(keep & (flat > 0))
    dst = np.flatnonzero(keep & (flat < 0))
    if src.size == 0 or dst.size == 0:
        # Everything that differs fits in the tail: W ≤ tail_mass · diameter.
        return 0.0

    a = flat[src] / flat[src].sum()
    b = -flat[dst] / -flat[dst].sum()
    cell_km = block * res_m / 1000.0
    dy = (src // wc)[:, None] - (dst // wc)[None, :]
    dx = (src % wc)[:, None] - (dst % wc)[None, :]
    cost = np.hypot(dy, dx).astype(np.float64) * cell_km

    # Network simplex needs O(n·m) pivots at worst; POT's default (1e5) stops
    # early (with a warning and a sub-optimal value) on ~3600-point problems.
    max_iter = max(1_000_000, 20 * src.size * dst.size)
    # Imported here: POT imports torch (~4 s), which the other metrics and the
    # teacher's KS search should not pay for.
    import ot

    w, log = ot.emd2(a, b, cost, numItermax=max_iter, log=True)
    if log.get("warning") is not None:
        raise RuntimeError(f"network simplex did not reach the optimum: {log['warning']}")
    return float(w) * float(moved)
