"""Where users are: a prior P(ℓ) on the scene's lattice, zero outside the mask.

The only public density is WorldPop 2020 at ~10 km (``popgrid_worldpop_10km_*.csv``;
WorldPop, University of Southampton, CC BY 4.0 (WorldPop 2020)).
It is interpolated bilinearly to the 100 m cells (so no 10 km blocks show) and given
settlement structure at the scales the 10 km grid cannot resolve (our construction,
docs/GROUNDTRUTH.md, METHOD.md §4):
- around sites: operators build where demand is, so a kernel exp(−d/scale) around every
  site of the deployment (summed over the few nearest) marks towns and villages;
- along roads: straight segments between Delaunay neighbours (a proxy for the road
  network that links settlements), rasterised and blurred to ``road_width``;
- seeded log-normal noise with Gudmundson (1991) correlation (blocks, parks, fields).
density(ℓ) = pop(ℓ)^γ · (1 + w_site·K_site(ℓ) + w_road·road(ℓ)) · exp(σ·g(ℓ) − σ²/2).
All rasters are on the scene's lattice, rows northward (row 0 = south).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from rasterio import features
from scipy.ndimage import gaussian_filter
from scipy.interpolate import RegularGridInterpolator
from scipy.spatial import Delaunay

from deepmend.config import data_dir
from deepmend.data.crs import to_wgs84
from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.shadowing import lattice_field

POPGRID = "popgrid_worldpop_10km_FR_GB_IE_BE.csv"
STEP_DEG = 1.0 / 12.0
#: Density (inhabitants / km²) where the population grid has no cell (sea, other countries).
FALLBACK_DENSITY = 0.0


@lru_cache(maxsize=1)
def _popgrid() -> RegularGridInterpolator | None:
    path = data_dir() / POPGRID
    if not path.exists():
        return None
    df = pd.read_csv(path, usecols=["lon_c", "lat_c", "density_2020_per_km2"])
    ix = np.round(df["lon_c"].to_numpy() / STEP_DEG - 0.5).astype(int)
    iy = np.round(df["lat_c"].to_numpy() / STEP_DEG - 0.5).astype(int)
    x0, y0 = ix.min(), iy.min()
    grid = np.full((iy.max() - y0 + 1, ix.max() - x0 + 1), FALLBACK_DENSITY)
    grid[iy - y0, ix - x0] = df["density_2020_per_km2"].to_numpy()
    lons = (np.arange(x0, ix.max() + 1) + 0.5) * STEP_DEG
    lats = (np.arange(y0, iy.max() + 1) + 0.5) * STEP_DEG
    return RegularGridInterpolator((lats, lons), grid, bounds_error=False, fill_value=FALLBACK_DENSITY)


def population_density(scene) -> np.ndarray:
    """WorldPop density (1/km²) bilinearly interpolated to every lattice cell (float32).

    Projection to lon/lat is done on a 1 km sub-grid and interpolated (the 10 km
    source makes that exact enough), which keeps it fast on large lattices.

    Parameters
    ----------
    scene : Scene
        The scene (its lattice and CRS).

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        People per km², lattice order; all ones when the WorldPop file is not in the data
        directory.
    """
    lat = scene.lattice
    interp = _popgrid()
    if interp is None:
        return np.ones(lat.shape, dtype=np.float32)
    step = 10
    xs, ys = lat.xs[::step], lat.ys[::step]
    gx, gy = np.meshgrid(xs, ys)
    lon, la = to_wgs84(gx.ravel(), gy.ravel(), lat.crs)
    coarse = interp(np.column_stack([la, lon])).reshape(gx.shape)
    fine = RegularGridInterpolator((ys, xs), coarse, bounds_error=False, fill_value=None)
    gy2, gx2 = np.meshgrid(lat.ys, lat.xs, indexing="ij")
    dens = fine(np.column_stack([gy2.ravel(), gx2.ravel()])).reshape(lat.shape)
    if not np.any(dens > 0):  # a scene outside the covered countries: no information, uniform
        return np.ones(lat.shape, dtype=np.float32)
    return np.maximum(dens, 0.0).astype(np.float32)


def site_kernel(scene, scale_m: float, k: int = 4) -> np.ndarray:
    """Σ over the k nearest sites of exp(−d/scale): settlements around sites.

    Parameters
    ----------
    scene : Scene
        The scene.
    scale_m : float
        Kernel scale, metres.
    k : int, default 4
        Nearest sites summed (capped at the number of sites).

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        In [0, k], lattice order.
    """
    d, _ = scene.knn(min(k, len(scene.deployment)))
    return np.exp(-d / np.float32(scale_m)).sum(axis=-1).astype(np.float32)


def road_raster(scene, width_m: float, max_edge_m: float = 15_000.0) -> np.ndarray:
    """Delaunay edges between neighbouring sites, rasterised and blurred, in [0, 1].

    Parameters
    ----------
    scene : Scene
        The scene (≥ 3 sites not all on one line: ``scipy.spatial.Delaunay``).
    width_m : float
        Road width; the Gaussian blur has σ = width/2.
    max_edge_m : float, default 15 000
        Longer Delaunay edges are not roads.

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        Lattice order (row 0 = south), max 1 (all zero without edges).
    """
    xy = scene.deployment.xy
    lat = scene.lattice
    tri = Delaunay(xy)
    e = np.vstack([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    keep = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T) <= max_edge_m
    lines = shapely.linestrings(np.stack([xy[e[keep, 0]], xy[e[keep, 1]]], axis=1))
    if len(lines) == 0:
        return np.zeros(lat.shape, dtype=np.float32)
    north_up = features.rasterize([(g, 1) for g in lines], out_shape=lat.shape, transform=lat.transform, fill=0, dtype="uint8", all_touched=True)
    r = gaussian_filter(north_up[::-1].astype(np.float32), sigma=max(width_m / lat.res / 2.0, 0.5))
    top = float(r.max())
    return r / top if top > 0 else r


def user_prior(scene, cfg: SimulatorConfig) -> np.ndarray:
    """Unnormalised P(ℓ) on the lattice (float32), zero outside the mask.

    The density formula of the module docstring, or the mask itself with ``cfg.prior == "uniform"``.

    Parameters
    ----------
    scene : Scene
        The scene.
    cfg : SimulatorConfig
        ``prior``, ``population_exponent`` (γ), ``settlement_*`` and ``seed``.

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        Lattice order (row 0 = south).
    """
    mask = scene.mask
    if cfg.prior == "uniform":
        return mask.astype(np.float32)
    rng = np.random.default_rng([cfg.seed, 0x9E0])
    dens = population_density(scene) ** np.float32(cfg.population_exponent)
    structure = 1.0 + cfg.settlement_site_weight * site_kernel(scene, cfg.settlement_site_scale_m)
    structure += cfg.settlement_road_weight * road_raster(scene, cfg.settlement_road_width_m)
    out = dens * structure
    if cfg.settlement_noise_sigma > 0:
        g = lattice_field(rng, out.shape, scene.lattice.res, cfg.settlement_noise_corr_m)
        s = np.float32(cfg.settlement_noise_sigma)
        out *= np.exp(s * g - s * s / 2)
    return np.where(mask, out, 0.0).astype(np.float32)
