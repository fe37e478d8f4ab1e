"""Spatial priors π(ℓ) for the ``bayes`` and ``ml-em`` estimators, on the support cells.

The prior is the π(ℓ) of Tennekes & Gootzen (2022)'s Bayesian location estimate and the
starting point of the EM of Ricciato & Coluccia (2020) (see :mod:`deepmend.geolocate.estimators`).

- ``uniform``: π = 1 on every support cell.
- ``population``: WorldPop 2020 density (~10 km, ``popgrid_worldpop_10km_FR_GB_IE_BE.csv``)
  interpolated bilinearly to the cell centres (the same layer the ground-truth simulator's
  user prior starts from, without its settlement structure).
- a raster file (GeoTIFF or anything rasterio reads): resampled bilinearly onto the
  output lattice; nodata and negative values count as 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepmend.errors import InputError
from deepmend.geolocate.maps import SiteMaps

PRIORS = ("uniform", "population")


def check_prior(name: str | Path | None) -> None:
    """Refuse a bad prior before any map is computed: unknown name, missing or unreadable raster, no CRS.

    Parameters
    ----------
    name : str or Path or None
        ``uniform`` (also None), ``population``, or a raster file.

    Returns
    -------
    None

    Raises
    ------
    InputError
        If the name is neither a prior nor an existing file, the raster cannot be read, or it
        has no CRS.
    """
    if name is None or str(name) in PRIORS:
        return
    path = Path(name)
    if not path.exists():
        raise InputError(f"prior must be {', '.join(PRIORS)} or a raster file; file not found", column="--prior", value=str(name))
    import rasterio

    try:
        with rasterio.open(path) as src:
            crs = src.crs
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read the prior raster ({str(exc).splitlines()[0]})", file=str(path)) from None
    if crs is None:
        raise InputError("prior raster has no CRS", file=str(path))


def prior_values(name: str | Path | None, maps: SiteMaps) -> tuple[np.ndarray, str]:
    """π on the support cells (m,) float64 ≥ 0, and a label for the report.

    Parameters
    ----------
    name : str or Path or None
        ``uniform`` (also None), ``population``, or a raster file.
    maps : SiteMaps
        The collected maps: their support cells and lattice.

    Returns
    -------
    values : numpy.ndarray of float64, shape (m,)
        π on the support cells, ≥ 0.
    label : str
        The prior's name for the report.

    Raises
    ------
    InputError
        If the prior is unknown, the population layer is not installed, or the raster cannot
        be read.
    """
    if name is None or str(name) == "uniform":
        return np.ones(maps.n_cells), "uniform"
    if str(name) == "population":
        return _population(maps), "population (WorldPop 2020, bilinear)"
    path = Path(name)
    if not path.exists():
        raise InputError(f"prior must be {', '.join(PRIORS)} or a raster file; file not found", column="--prior", value=str(name))
    return _raster(path, maps), f"raster {path.name}"


def _population(maps: SiteMaps) -> np.ndarray:
    from deepmend.data.crs import to_wgs84
    from deepmend.groundtruth.population import _popgrid

    interp = _popgrid()
    if interp is None:
        raise InputError("the population layer is not installed (popgrid_worldpop_10km_*.csv in the data folder)", column="--prior", value="population")
    x, y = maps.centers()
    lon, lat = to_wgs84(x, y, maps.lattice.crs)
    return np.maximum(interp(np.column_stack([lat, lon])), 0.0)


def _raster(path: Path, maps: SiteMaps) -> np.ndarray:
    import rasterio
    from rasterio.warp import Resampling, reproject

    lat = maps.lattice
    r, c = maps.rows_cols()
    r0, r1, c0, c1 = int(r.min()), int(r.max()) + 1, int(c.min()), int(c.max()) + 1
    from affine import Affine

    h, w = r1 - r0, c1 - c0
    transform = Affine(lat.res, 0, lat.x0 + c0 * lat.res, 0, -lat.res, lat.y0 + r1 * lat.res)
    dst = np.zeros((h, w), dtype=np.float64)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputError("prior raster has no CRS", file=str(path))
            reproject(rasterio.band(src, 1), dst, dst_transform=transform, dst_crs=lat.crs, resampling=Resampling.bilinear,
                      dst_nodata=0.0)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read the prior raster ({str(exc).splitlines()[0]})", file=str(path)) from None
    vals = dst[(r1 - 1 - r), c - c0]  # north-up rows
    vals = np.where(np.isfinite(vals), np.maximum(vals, 0.0), 0.0)
    if not np.any(vals > 0):
        raise InputError("prior raster is 0 or nodata over every cell of the maps", file=str(path))
    return vals
