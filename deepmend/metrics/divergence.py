"""Cell-wise divergences between diffusion maps.

Unlike KS and EMD these ignore geometry: moving mass by one cell or by 30 km
costs the same.  They are reported because they are the standard scores for
soft-label fitting (and JS is bounded, symmetric and finite even on disjoint
supports, unlike KL, which is infinite wherever Q = 0 < P — common with Voronoi
maps).  Inputs are used as given; both should sum to 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deepmend.metrics._validate import as_map, same_shape

__all__ = ["jensen_shannon", "total_variation"]


def _kl_to_mixture(a: NDArray[np.float64], m: NDArray[np.float64]) -> float:
    """Σ a·log2(a/m) with the 0·log 0 = 0 convention; m ≥ a/2 > 0 wherever a > 0,
    so only cells with a > 0 need evaluating and no division by zero occurs."""
    pos = a > 0
    return float(np.sum(a[pos] * np.log2(a[pos] / m[pos])))


def jensen_shannon(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen–Shannon divergence in bits: ½KL(P‖M) + ½KL(Q‖M), M = (P+Q)/2 (Lin 1991).

    Base-2 logarithms put it in [0, 1] (1 exactly for disjoint supports).  This
    is the divergence, not the JS *distance* (its square root). Source: J. Lin,
    "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory
    37(1), 1991.

    Parameters
    ----------
    p, q : array_like, shape (H, W)
        Two maps on the same grid, each summing to 1 (used as given, not
        renormalised); row order irrelevant as long as both share it.

    Returns
    -------
    float
        The divergence in bits, clipped to [0, 1].

    Raises
    ------
    ValueError
        From the input checks: a map that is not 2-D, holds non-finite values, or
        the two shapes differ.
    """
    pa = as_map(p, "p")
    qa = as_map(q, "q")
    same_shape(pa, qa, "p", "q")
    m = 0.5 * (pa + qa)
    js = 0.5 * _kl_to_mixture(pa, m) + 0.5 * _kl_to_mixture(qa, m)
    return float(min(max(js, 0.0), 1.0))  # clip float round-off just outside [0, 1]


def total_variation(p: ArrayLike, q: ArrayLike) -> float:
    """Total variation distance ½Σ|P − Q| (standard definition).

    The largest difference in probability the two maps can assign to any set of
    cells; in [0, 1] for two probability maps.

    Parameters
    ----------
    p, q : array_like, shape (H, W)
        Two maps on the same grid (used as given, not renormalised).

    Returns
    -------
    float
        ½ Σ over cells of |p − q| (dimensionless).

    Raises
    ------
    ValueError
        From the input checks: a map that is not 2-D, holds non-finite values, or
        the two shapes differ.
    """
    pa = as_map(p, "p")
    qa = as_map(q, "q")
    same_shape(pa, qa, "p", "q")
    return float(0.5 * np.abs(pa - qa).sum())
