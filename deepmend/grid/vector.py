"""Vector and table outputs that GIS and official-statistics tools open directly.

* :func:`voronoi_cells` — each target site's Voronoi cell as a polygon, clipped to the
  scene's region (the cell a Voronoi map spreads its mass over, without the 100 m raster).
* :func:`coverage_contours` — per map, the smallest set of cells holding a fraction τ of
  the mass (the highest-probability cells first; τ = 0.5, 0.9, 0.95 by default), as
  polygons: the "τ-coverage" footprint of a BS.
* :func:`inspire_table` — the long table ``(site_id, grid_id, p)`` on the INSPIRE 100 m
  grid (ETRS89-LAEA, EPSG:3035; cell codes ``CRS3035RES100mN{north}E{east}`` of the
  cell's lower-left corner), the layout Eurostat's multi-MNO methodology uses for cell
  footprints (Eurostat, *Methodological framework for mobile network data*, 2021;
  INSPIRE D2.8.I.2 Data Specification on Geographical Grid Systems, 2014).
* :func:`write_vector` / :func:`write_table` — GeoPackage, GeoJSON (RFC 7946, WGS84),
  GeoParquet and Parquet by the file's suffix, written atomically with geopandas/pyogrio.

Areas are in km² of the scene's metric CRS; polygons keep that CRS (GeoJSON excepted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import shapely

from deepmend.errors import InputError
from deepmend.io import atomic_path

DEFAULT_TAUS = (0.5, 0.9, 0.95)
INSPIRE_CRS = "EPSG:3035"
INSPIRE_RES_M = 100
VECTOR_SUFFIXES = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".parquet": "parquet", ".geoparquet": "parquet"}


def voronoi_cells(scene, sites: Iterable[int | str] | None = None):
    """Voronoi cells of ``sites`` (default: the scene's targets), clipped to the scene's region.

    The tessellation uses every site of the deployment (co-located sites merged), so a
    target's cell is the same as the one the Voronoi model rasterises (METHOD.md §2, §6).

    Parameters
    ----------
    scene : deepmend.scene.Scene
        The fitted-on scene (deployment in its metric CRS, region).
    sites : iterable of int or str, optional
        Site indices or ids; default the scene's targets.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id``, ``operator``, ``area_km2``, ``geometry`` (Polygon or
        MultiPolygon in ``scene.crs``); one row per site, in the order asked.
    """
    import geopandas as gpd

    dep = scene.deployment
    idx = [scene.site_index(s) for s in (scene.targets if sites is None else sites)]
    region = scene.mask_region.metric
    pts = shapely.points(dep.x, dep.y)
    xmin, ymin, xmax, ymax = region.bounds
    pad = 10 * max(xmax - xmin, ymax - ymin, 1.0)
    env = shapely.box(min(xmin, dep.x.min()) - pad, min(ymin, dep.y.min()) - pad, max(xmax, dep.x.max()) + pad, max(ymax, dep.y.max()) + pad)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=env))
    # voronoi_polygons does not keep the input order: match each site to the cell holding it
    tree = shapely.STRtree(cells)
    which = tree.query(pts, predicate="intersects")
    owner = np.full(len(dep), -1)
    owner[which[0]] = which[1]
    geoms = shapely.intersection(cells[owner[idx]], region)
    return gpd.GeoDataFrame(
        {"site_id": [str(dep.site_ids[i]) for i in idx], "operator": [str(dep.operator[i]) for i in idx],
         "area_km2": shapely.area(geoms) / 1e6},
        geometry=list(geoms), crs=scene.crs,
    )


def _tau_mask(prob: np.ndarray, tau: float) -> np.ndarray:
    """The smallest cell set holding ≥ τ of the mass: cells sorted by P, descending (ties kept whole)."""
    flat = prob.ravel().astype(np.float64)
    order = np.argsort(flat, kind="stable")[::-1]
    cum = np.cumsum(flat[order])
    k = int(np.searchsorted(cum, tau * cum[-1] * (1 - 1e-12), side="left"))
    cut = flat[order[min(k, flat.size - 1)]]
    return (prob >= cut) & (prob > 0)


def coverage_contours(maps, taus: Sequence[float] = DEFAULT_TAUS):
    """τ-coverage footprints of maps: for each map and τ, the polygon of the smallest set of
    cells holding τ of the probability mass (highest P first).

    Parameters
    ----------
    maps : iterable of DiffusionMap
        North-up maps (one BS each).
    taus : sequence of float in (0, 1]
        Mass fractions (default 0.5, 0.9, 0.95).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id``, ``model``, ``tau``, ``mass`` (the mass actually inside, ≥ τ),
        ``area_km2``, ``geometry`` (MultiPolygon, the maps' CRS; cell edges, 100 m steps).

    Raises
    ------
    InputError
        If a τ is outside (0, 1] or the maps are in different CRSs.
    """
    import geopandas as gpd
    from rasterio import features

    taus = [float(t) for t in taus]
    bad = [t for t in taus if not 0 < t <= 1]
    if bad:
        raise InputError("τ must lie in (0, 1]", column="tau", value=bad[0])
    rows, geoms, crs = [], [], None
    for m in maps:
        if crs is not None and m.window.crs != crs:
            raise InputError(f"maps in different CRSs ({crs}, {m.window.crs})", value=m.site_id)
        crs = m.window.crs
        for tau in taus:
            sel = _tau_mask(m.prob, tau)
            polys = [shapely.geometry.shape(g) for g, v in features.shapes(sel.astype(np.uint8), mask=sel, transform=m.window.transform) if v]
            geom = shapely.MultiPolygon(shapely.get_parts(shapely.union_all(polys)).tolist()) if polys else shapely.MultiPolygon()
            rows.append({"site_id": m.site_id, "model": m.model, "tau": tau, "mass": float(m.prob[sel].sum(dtype=np.float64)),
                         "area_km2": float(sel.sum()) * m.window.res**2 / 1e6})
            geoms.append(geom)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)


def inspire_code(north: np.ndarray, east: np.ndarray, res_m: int = INSPIRE_RES_M) -> np.ndarray:
    """INSPIRE cell codes ``CRS3035RES{res}mN{north}E{east}`` from lower-left corners.

    Code layout of the INSPIRE Data Specification on Geographical Grid Systems (D2.8.I.2, 2014).

    Parameters
    ----------
    north, east : numpy.ndarray of int, shape (n,)
        Northing and easting of each cell's lower-left corner, metres in EPSG:3035.
    res_m : int, default 100
        Grid resolution in metres.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
        The codes, e.g. ``CRS3035RES100mN2540300E3926100``.
    """
    n = np.asarray(north, dtype=np.int64).astype(str)
    e = np.asarray(east, dtype=np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add(f"CRS3035RES{res_m}mN", n), "E"), e)


def inspire_table(maps, floor: float = 0.0):
    """Maps as the long table ``(site_id, grid_id, p)`` on the INSPIRE 100 m grid (EPSG:3035).

    Each map cell's probability goes wholly to the INSPIRE cell holding its centre
    (reprojected with pyproj), so every BS's ``p`` still sums to 1; only cells with
    ``p > floor`` are listed. One row per (site, INSPIRE cell), sorted by site then code.
    The layout of Eurostat's multi-MNO methodology (Eurostat 2021, see the module docstring).

    Parameters
    ----------
    maps : iterable of DiffusionMap
        North-up maps, one BS each, in any metric CRS.
    floor : float, default 0.0
        Cells with ``p <= floor`` are left out.

    Returns
    -------
    pandas.DataFrame
        ``site_id`` (str), ``grid_id`` (str, e.g. ``CRS3035RES100mN2540300E3926100``),
        ``p`` (float64), plus ``x_3035``/``y_3035`` of the cell's lower-left corner (m).
    """
    import pandas as pd
    from pyproj import Transformer

    parts = []
    for m in maps:
        sel = m.prob > floor
        if not sel.any():
            continue
        r, c = np.nonzero(sel)
        xs, ys = m.coords()
        tr = Transformer.from_crs(m.window.crs, INSPIRE_CRS, always_xy=True)
        ex, ny = tr.transform(xs[c], ys[r])
        e0 = (np.floor(np.asarray(ex) / INSPIRE_RES_M) * INSPIRE_RES_M).astype(np.int64)
        n0 = (np.floor(np.asarray(ny) / INSPIRE_RES_M) * INSPIRE_RES_M).astype(np.int64)
        df = pd.DataFrame({"x_3035": e0, "y_3035": n0, "p": m.prob[r, c].astype(np.float64)})
        df = df.groupby(["y_3035", "x_3035"], as_index=False, sort=True)["p"].sum()
        df.insert(0, "grid_id", inspire_code(df["y_3035"].to_numpy(), df["x_3035"].to_numpy()))
        df.insert(0, "site_id", m.site_id)
        parts.append(df[["site_id", "grid_id", "p", "x_3035", "y_3035"]])
    if not parts:
        return pd.DataFrame({"site_id": pd.Series(dtype=str), "grid_id": pd.Series(dtype=str), "p": pd.Series(dtype=float),
                             "x_3035": pd.Series(dtype="int64"), "y_3035": pd.Series(dtype="int64")})
    return pd.concat(parts, ignore_index=True)


def write_vector(gdf, path: str | Path) -> Path:
    """Write a GeoDataFrame by suffix, atomically, with geopandas/pyogrio.

    ``.gpkg`` (GeoPackage, layer named after the file), ``.geojson`` (RFC 7946, reprojected
    to WGS84), ``.parquet`` (GeoParquet, CRS kept).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The features, in their metric CRS.
    path : str or Path
        Target file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        If the suffix is not one of ``.gpkg``, ``.geojson``, ``.parquet``.
    """
    path = Path(path)
    kind = VECTOR_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported vector format; use {', '.join(VECTOR_SUFFIXES)}", file=str(path), value=path.suffix)
    with atomic_path(path, keep_suffix=True) as tmp:
        tmp.unlink(missing_ok=True)  # GDAL creates the file itself
        if kind == "parquet":
            gdf.to_parquet(tmp, index=False)
        elif kind == "GeoJSON":
            gdf.to_crs("EPSG:4326").to_file(tmp, driver="GeoJSON", engine="pyogrio")
        else:
            gdf.to_file(tmp, driver=kind, engine="pyogrio", layer=path.stem)
    return path


def write_table(df, path: str | Path) -> Path:
    """Write a table as Parquet (``.parquet``) or CSV (``.csv``), atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (e.g. :func:`inspire_table`).
    path : str or Path
        Target file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        If the suffix is neither ``.parquet`` nor ``.csv``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError("unsupported table format; use .parquet or .csv", file=str(path), value=path.suffix)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    return path
