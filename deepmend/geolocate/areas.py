"""Exact area-weighted totals per polygon, and the site → area weight table.

Each polygon a gets the fraction cover(ℓ, a) ∈ [0, 1] of every 100 m cell it covers,
computed exactly (exactextract; Baston 2022, "exactextract", the exact cell-coverage
algorithm), so totals are Σ_ℓ u(ℓ)·cover(ℓ, a): a polygon's partial cells count by their
covered area, and overlapping or nested polygons are each counted fully (no cell is
"given" to one polygon). The same coverage turns the estimator's effective maps Q(ℓ|i)
into the weight table w_ia = Σ_ℓ Q(ℓ|i)·cover(ℓ, a), the share of site i's devices in
area a: with disjoint areas Σ_a w_ia + outside_i = 1, outside_i being the share in no
area (computed with the union of the areas); overlapping areas make Σ_a w_ia larger,
which is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely

from deepmend.geolocate.maps import SiteMaps


@dataclass
class Coverage:
    """C (m, K) CSR: fraction of each support cell inside each area; ``union`` (m,) for the union."""

    names: list[str]
    C: sp.csr_matrix
    union: np.ndarray
    area_m2: np.ndarray  # (K,) polygon areas in the lattice CRS
    overlapping: bool


def coverage(maps: SiteMaps, polygons: dict[str, shapely.Geometry]) -> Coverage:
    """Exact coverage fractions of ``polygons`` (in the lattice CRS) over the support cells of ``maps``."""
    import geopandas as gpd
    import pyproj
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    lat = maps.lattice
    names = list(polygons)
    geoms = [polygons[n] for n in names]
    union = shapely.union_all(geoms)
    r, c = maps.rows_cols()
    r0, r1, c0, c1 = int(r.min()), int(r.max()) + 1, int(c.min()), int(c.max()) + 1
    h, w = r1 - r0, c1 - c0
    src = NumPyRasterSource(np.zeros((h, w), dtype=np.uint8), lat.x0 + c0 * lat.res, lat.y0 + r0 * lat.res,
                            lat.x0 + c1 * lat.res, lat.y0 + r1 * lat.res, srs_wkt=pyproj.CRS(lat.crs).to_wkt())
    gdf = gpd.GeoDataFrame({"k": np.arange(len(geoms) + 1)}, geometry=geoms + [union], crs=lat.crs)
    df = exact_extract(src, gdf, ["cell_id", "coverage"], output="pandas", include_cols=["k"])
    lens = df["cell_id"].map(len).to_numpy()
    cid = np.concatenate([np.asarray(a, dtype=np.int64) for a in df["cell_id"]]) if lens.sum() else np.zeros(0, np.int64)
    cov = np.concatenate([np.asarray(a, dtype=np.float64) for a in df["coverage"]]) if lens.sum() else np.zeros(0)
    k = np.repeat(df["k"].to_numpy(), lens)
    top, col = np.divmod(cid, w)  # exactextract numbers cells row-major from the north edge
    flat = (r1 - 1 - top) * lat.nx + (c0 + col)
    pos = np.searchsorted(maps.cells, flat)
    pos = np.minimum(pos, maps.cells.size - 1)
    hit = (maps.cells[pos] == flat) & (cov > 0)  # cells outside the support hold no mass
    is_union = k == len(geoms)
    C = sp.csr_matrix((cov[hit & ~is_union], (pos[hit & ~is_union], k[hit & ~is_union])), shape=(maps.n_cells, len(geoms)))
    u = np.zeros(maps.n_cells)
    u[pos[hit & is_union]] = cov[hit & is_union]
    areas = shapely.area(np.array(geoms, dtype=object)).astype(float)
    overlapping = bool(areas.sum() > union.area * (1 + 1e-9) + 1.0)
    return Coverage(names, C, u, areas, overlapping)


def area_totals(density: np.ndarray, cov: Coverage) -> tuple[np.ndarray, np.ndarray]:
    """Totals (K, B) = Cᵀ·u, and the mass in no area (B,)."""
    tot = np.asarray(cov.C.T @ density)
    outside = density.sum(axis=0) - cov.union @ density
    return tot, outside


def allocation_sd(weights: sp.spmatrix, v: np.ndarray) -> np.ndarray:
    """sqrt(Σ_i v_i·w_ia·(1 − w_ia)) (K,): sd of an area's total given the effective maps (binomial allocation).

    ``weights`` (n, K) sparse shares w_ia, ``v`` (n,) counts.
    """
    w = sp.csr_matrix(weights)
    w.data = np.clip(w.data, 0.0, 1.0)
    var = np.asarray(w.T @ v).ravel() - np.asarray(w.multiply(w).T @ v).ravel()
    return np.sqrt(np.maximum(var, 0.0))
