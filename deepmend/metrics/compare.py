"""The score bundle of two maps: the one place that says which distances a comparison reports."""

from __future__ import annotations

from numpy.typing import ArrayLike

from deepmend.metrics.divergence import jensen_shannon, total_variation
from deepmend.metrics.emd import emd_km
from deepmend.metrics.ks import ks2d

#: The scores of :func:`compare`, in order.
SCORES = ("ks", "emd_km", "js", "tv")


def compare(p: ArrayLike, q: ArrayLike, res_m: float = 100.0, emd_block: int = 10, with_tv: bool = True) -> dict[str, float]:
    """KS, EMD (km), Jensen–Shannon and total variation between maps ``p`` and ``q``.

    Parameters
    ----------
    p, q : array (H, W)
        Maps on the same grid (rows in the same order), each summing to 1.
    res_m : float
        Cell size in metres (EMD is in km).
    emd_block : int
        Coarsening factor of the EMD (see :func:`deepmend.metrics.emd_km`).
    with_tv : bool
        Include total variation.

    Returns
    -------
    dict
        ``{"ks", "emd_km", "js"[, "tv"]}`` as floats. Sources: 2-D KS (Fasano & Franceschini
        1987), Wasserstein-1 (METHOD.md §3), JS and TV (standard definitions).

    Raises
    ------
    ValueError
        Shapes differ, or a map is all zero.
    """
    out = {"ks": ks2d(p, q), "emd_km": emd_km(p, q, res_m=res_m, block=emd_block), "js": jensen_shannon(p, q)}
    if with_tv:
        out["tv"] = total_variation(p, q)
    return out
