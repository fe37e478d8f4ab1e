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
- seeded log-normal noise with Gudmundson (1991) correlation (blocks, parks, fields), on a
  25.6 km torus tiled over absolute lattice indices.
density(ℓ) = pop(ℓ)^γ · (1 + w_site·K_site(ℓ) + w_road·road(ℓ)) · exp(σ·g(ℓ) − σ²/2).

Since simulator version 3 every part depends on the cell's position only, so the prior can
be computed on one BS's window (the ground truth's per-BS path) or on the whole lattice
(the whole-deployment fit) with the same values. Blocks are in the scene's lattice order
(rows northward, row 0 = south), metres in its metric CRS.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from affine import Affine
from rasterio import features
from scipy.ndimage import gaussian_filter
from scipy.interpolate import RegularGridInterpolator
from scipy.spatial import Delaunay

from deepmend.data.crs import to_wgs84
from deepmend.data.population import population_grid
from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.shadowing import gudmundson_field

#: Density (inhabitants / km²) where the population grid has no cell (sea, other countries).
FALLBACK_DENSITY = 0.0
#: Spacing (m) of the absolute grid of nodes the 10 km density is projected on, then interpolated from.
NODE_M = 1000.0
#: Period (cells) of the tiled settlement-noise torus: 25.6 km, ≫ its 400 m correlation.
NOISE_PERIOD_CELLS = 256
#: Blurred road raster value that counts as a full road (1); more (junctions, parallel roads) is clipped.
ROAD_SATURATION = 1.0


@lru_cache(maxsize=1)
def _popgrid() -> RegularGridInterpolator | None:
    """Bilinear interpolator of the population grid (lat, lon → inhabitants/km²), None when not installed.

    The grid is :func:`deepmend.data.population.population_grid` (missing values filled); outside
    it the density is :data:`FALLBACK_DENSITY`.
    """
    grid = population_grid()
    if grid is None:
        return None
    return RegularGridInterpolator((grid.lat_centres, grid.lon_centres), grid.density, bounds_error=False, fill_value=FALLBACK_DENSITY)


def _block(scene, rows: slice | None, cols: slice | None) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """(rows, cols, cell-centre x, cell-centre y) of a block of the scene's lattice (the whole lattice by default)."""
    lat = scene.lattice
    rows = slice(0, lat.ny) if rows is None else slice(max(rows.start, 0), min(rows.stop, lat.ny))
    cols = slice(0, lat.nx) if cols is None else slice(max(cols.start, 0), min(cols.stop, lat.nx))
    return rows, cols, lat.xs[cols], lat.ys[rows]


def _density_nodes(xn: np.ndarray, yn: np.ndarray, crs: str, interp) -> np.ndarray:
    """WorldPop density at the nodes (yn × xn) of the absolute 1 km grid."""
    gx, gy = np.meshgrid(xn, yn)
    lon, la = to_wgs84(gx.ravel(), gy.ravel(), crs)
    return interp(np.column_stack([la, lon])).reshape(gx.shape)


def _bilinear_weights(v: np.ndarray, node0: float) -> tuple[np.ndarray, np.ndarray]:
    """(index of the node at or below each coordinate, weight of the next node) on the :data:`NODE_M` grid from ``node0``."""
    t = (np.asarray(v, float) - node0) / NODE_M
    k = np.floor(t).astype(np.int64)
    return k, t - k


def population_density(scene, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """WorldPop density (1/km²) bilinearly interpolated to the cells of a block of the lattice (float32).

    Projection to lon/lat is done on the nodes of an absolute :data:`NODE_M` grid (multiples
    of 1 km in the scene's CRS) and interpolated bilinearly to the cells (the 10 km source
    makes that exact enough): a cell's value depends on its position only, not on the block
    or the lattice it is computed on. A deployment whose sites all lie where the grid has no
    population (outside the covered countries) gets a uniform density.

    Parameters
    ----------
    scene : Scene
        The scene (its lattice and CRS).
    rows, cols : slice, optional
        The block of the lattice (clipped to it; default the whole lattice).

    Returns
    -------
    numpy.ndarray of float32, shape (len(rows), len(cols))
        People per km², lattice order; all ones when the WorldPop file is not in the data
        directory or the sites lie outside it.
    """
    rows, cols, xs, ys = _block(scene, rows, cols)
    interp = _popgrid()
    if interp is None or not _covered(scene):
        return np.ones((len(ys), len(xs)), dtype=np.float32)
    x0 = np.floor(xs.min() / NODE_M) * NODE_M
    y0 = np.floor(ys.min() / NODE_M) * NODE_M
    xn = x0 + NODE_M * np.arange(int(np.floor((xs.max() - x0) / NODE_M)) + 2)
    yn = y0 + NODE_M * np.arange(int(np.floor((ys.max() - y0) / NODE_M)) + 2)
    coarse = _density_nodes(xn, yn, scene.crs, interp)
    kx, wx = _bilinear_weights(xs, x0)
    ky, wy = _bilinear_weights(ys, y0)
    top = coarse[ky] * (1 - wy)[:, None] + coarse[ky + 1] * wy[:, None]  # (rows, x nodes)
    dens = top[:, kx] * (1 - wx)[None, :] + top[:, kx + 1] * wx[None, :]
    return np.maximum(dens, 0.0).astype(np.float32)


def _covered(scene) -> bool:
    """True when the population grid has people around at least one site of the deployment."""
    cached = scene.__dict__.get("_pop_covered")
    if cached is None:
        dep = scene.deployment
        x0, y0 = np.floor(dep.x / NODE_M) * NODE_M, np.floor(dep.y / NODE_M) * NODE_M
        xx = np.concatenate([x0, x0 + NODE_M, x0, x0 + NODE_M])
        yy = np.concatenate([y0, y0, y0 + NODE_M, y0 + NODE_M])
        lon, la = to_wgs84(xx, yy, scene.crs)
        cached = bool(np.any(_popgrid()(np.column_stack([la, lon])) > 0))
        scene.__dict__["_pop_covered"] = cached
    return cached


def site_kernel(scene, scale_m: float, k: int = 4, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """Σ over the k nearest sites of exp(−d/scale) on a block of the lattice: settlements around sites.

    Parameters
    ----------
    scene : Scene
        The scene.
    scale_m : float
        Kernel scale, metres.
    k : int, default 4
        Nearest sites summed (capped at the number of sites).
    rows, cols : slice, optional
        The block of the lattice (clipped to it; default the whole lattice).

    Returns
    -------
    numpy.ndarray of float32, shape (len(rows), len(cols))
        In [0, k], lattice order.
    """
    rows, cols, xs, ys = _block(scene, rows, cols)
    gx, gy = np.meshgrid(xs, ys)
    d, _ = scene.tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=min(k, len(scene.deployment)), workers=-1)
    d = np.asarray(d, dtype=np.float32).reshape(len(ys), len(xs), -1)
    return np.exp(-d / np.float32(scale_m)).sum(axis=-1).astype(np.float32)


def road_raster(scene, width_m: float, max_edge_m: float = 15_000.0, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """Delaunay edges between neighbouring sites, rasterised and blurred, clipped to [0, 1], on a block of the lattice.

    The block is rasterised with a margin of 4 σ of the blur and cropped, so a cell's value
    does not depend on the block; a cell on one straight road reads ≈ 0.5–0.9, junctions
    saturate at :data:`ROAD_SATURATION`.

    Parameters
    ----------
    scene : Scene
        The scene (fewer than 3 sites: no road).
    width_m : float
        Road width; the Gaussian blur has σ = width/2.
    max_edge_m : float, default 15 000
        Longer Delaunay edges are not roads.
    rows, cols : slice, optional
        The block of the lattice (clipped to it; default the whole lattice).

    Returns
    -------
    numpy.ndarray of float32, shape (len(rows), len(cols))
        In [0, 1], lattice order.
    """
    rows, cols, xs, ys = _block(scene, rows, cols)
    lat = scene.lattice
    xy = scene.deployment.xy
    sigma = max(width_m / lat.res / 2.0, 0.5)
    pad = int(np.ceil(4.0 * sigma)) + 1
    shape = (len(ys) + 2 * pad, len(xs) + 2 * pad)
    if len(xy) < 3:
        return np.zeros((len(ys), len(xs)), dtype=np.float32)
    tri = Delaunay(xy)
    e = np.vstack([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    keep = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T) <= max_edge_m
    lines = shapely.linestrings(np.stack([xy[e[keep, 0]], xy[e[keep, 1]]], axis=1))
    if len(lines) == 0:
        return np.zeros((len(ys), len(xs)), dtype=np.float32)
    left = lat.x0 + (cols.start - pad) * lat.res
    top = lat.y0 + (rows.stop + pad) * lat.res
    transform = Affine(lat.res, 0.0, left, 0.0, -lat.res, top)
    north_up = features.rasterize([(g, 1) for g in lines], out_shape=shape, transform=transform, fill=0, dtype="uint8", all_touched=True)
    r = gaussian_filter(north_up[::-1].astype(np.float32), sigma=sigma, truncate=4.0)
    r = r[pad : pad + len(ys), pad : pad + len(xs)]
    return np.minimum(r / np.float32(ROAD_SATURATION), np.float32(1.0))


def user_prior(scene, cfg: SimulatorConfig, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """Unnormalised P(ℓ) on a block of the scene's lattice (default: all of it), float32, zero outside the mask.

    Every part is a function of the cell's position alone (absolute 1 km interpolation
    nodes, padded road raster, a noise field anchored to absolute lattice indices), so a
    BS's window computed alone equals the same window cut from the whole lattice: the
    per-BS path of the ground truth needs only its window's prior.

    Parameters
    ----------
    scene : Scene
        The scene.
    cfg : SimulatorConfig
        ``prior`` ("uniform" gives the mask itself), ``population_exponent`` (γ), ``settlement_*``
        and ``seed``.
    rows, cols : slice, optional
        The block of the lattice (clipped to it; default the whole lattice).

    Returns
    -------
    numpy.ndarray of float32, shape (len(rows), len(cols))
        Lattice order (row 0 = south).

    Raises
    ------
    ValueError
        If the prior is not finite somewhere (an input with missing values got through; never
        turned silently into a map).
    """
    rows, cols, xs, ys = _block(scene, rows, cols)
    mask = scene.mask[rows, cols]
    if cfg.prior == "uniform":
        return mask.astype(np.float32)
    dens = population_density(scene, rows, cols) ** np.float32(cfg.population_exponent)
    structure = 1.0 + cfg.settlement_site_weight * site_kernel(scene, cfg.settlement_site_scale_m, rows=rows, cols=cols)
    structure += cfg.settlement_road_weight * road_raster(scene, cfg.settlement_road_width_m, rows=rows, cols=cols)
    out = dens * structure
    if cfg.settlement_noise_sigma > 0:
        lat = scene.lattice
        g = anchored_field(cfg.seed, lat.res, cfg.settlement_noise_corr_m, np.floor(ys / lat.res).astype(np.int64), np.floor(xs / lat.res).astype(np.int64))
        s = np.float32(cfg.settlement_noise_sigma)
        out *= np.exp(s * g - s * s / 2)
    out = np.where(mask, out, 0.0).astype(np.float32)
    if not np.isfinite(out).all():  # never a NaN prior: it would turn every map that touches it into a point mass
        raise ValueError(f"the user prior of block rows {rows.start}:{rows.stop}, cols {cols.start}:{cols.stop} is not finite")
    return out


@lru_cache(maxsize=4)
def _noise_torus(seed: int, res_m: float, corr_m: float) -> np.ndarray:
    return gudmundson_field(np.random.default_rng([int(seed), 0x9E0]), NOISE_PERIOD_CELLS, res_m, corr_m)


def anchored_field(seed: int, res_m: float, corr_m: float, row_idx: np.ndarray, col_idx: np.ndarray) -> np.ndarray:
    """The settlement noise (a Gudmundson field on a :data:`NOISE_PERIOD_CELLS` torus, tiled) at absolute cell indices.

    Parameters
    ----------
    seed : int
        The simulator's seed.
    res_m : float
        Cell size, metres.
    corr_m : float
        Decorrelation distance (Gudmundson 1991), metres.
    row_idx, col_idx : numpy.ndarray of int
        Absolute lattice indices (floor of coordinate / res) of the rows and columns.

    Returns
    -------
    numpy.ndarray of float32, shape (len(row_idx), len(col_idx))
        Unit-variance field.
    """
    t = _noise_torus(int(seed), float(res_m), float(corr_m))
    n = t.shape[0]
    return t[np.ix_(row_idx % n, col_idx % n)]
