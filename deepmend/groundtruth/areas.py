"""Area type of each site (urban / suburban / rural) from the local density of sites.

Operators densify their grid where traffic is, so the number of the deployment's sites
within ``density_radius_m`` of a site is a robust, data-free proxy of the clutter class
that 3GPP's scenarios describe (UMa/UMi: inter-site distance 200–500 m; RMa: 1.7 km+).
Thresholds (sites per km², defaults 1.0 and 0.15) are in :class:`SimulatorConfig`. This is
our choice, documented in docs/GROUNDTRUTH.md (METHOD.md §4); it is not a published rule.
"""

from __future__ import annotations

import numpy as np

from deepmend.groundtruth.config import AREA_TYPES, SimulatorConfig


def site_density(xy: np.ndarray, tree, radius_m: float) -> np.ndarray:
    """Sites per km² within ``radius_m`` of each site (the site itself excluded).

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Site positions, metres in a metric CRS.
    tree : scipy.spatial.cKDTree
        KD-tree of the deployment's sites (same CRS).
    radius_m : float
        Radius of the counting disc, metres.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        count / (π (radius_m/1000)²).
    """
    counts = tree.query_ball_point(xy, r=radius_m, return_length=True, workers=-1) - 1
    return counts / (np.pi * (radius_m / 1000.0) ** 2)


def area_types(xy: np.ndarray, tree, cfg: SimulatorConfig) -> np.ndarray:
    """Index into AREA_TYPES (0 urban, 1 suburban, 2 rural) per site.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Site positions, metres.
    tree : scipy.spatial.cKDTree
        KD-tree of the deployment's sites.
    cfg : SimulatorConfig
        ``density_radius_m``, ``urban_sites_per_km2``, ``suburban_sites_per_km2``.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)
    """
    dens = site_density(xy, tree, cfg.density_radius_m)
    out = np.full(len(xy), 2, dtype=np.int8)
    out[dens >= cfg.suburban_sites_per_km2] = 1
    out[dens >= cfg.urban_sites_per_km2] = 0
    return out


def area_name(code: int) -> str:
    """The name of an :func:`area_types` code.

    Parameters
    ----------
    code : int
        0, 1 or 2.

    Returns
    -------
    str
        "urban", "suburban" or "rural".
    """
    return AREA_TYPES[int(code)]
