"""The WorldPop 2020 population grid (~10 km), read once for every part of the product that uses it.

The file ``popgrid_worldpop_10km_FR_GB_IE_BE.csv`` (data directory, docs/DATA.md) holds one row per
cell of a regular 1/12° grid (WorldPop 2020 constrained population, aggregated to ~10 km;
Tatem, "WorldPop, open data for spatial demography", Scientific Data 4, 2017): the cell's centre
(``lon_c``, ``lat_c``) and its density ``density_2020_per_km2``. Both ground-truth simulators build
their user prior from it (``deepmend.groundtruth.population``, ``deepmend.groundtruth.sim2``) and
so does the geolocation prior; all read it through :func:`population_grid`.

**Cells without a value.** Some rows have an empty density (25 of the 17,485 cells of the shipped
file: coast and lake cells — by Marseille, Sète, in Corsica and on Lake Geneva in France, along the
Severn estuary between Cardiff and Bristol and 18 more in Great Britain, one in Ireland). An empty value is missing data, not
an empty place, and a NaN read as is poisons every sum it enters (a simulator's prior, hence every
map of a BS whose window touches the cell, used to become NaN and then silently a point mass at
the BS). :func:`population_grid` fills each such cell with the mean of its neighbours (8-
neighbourhood) that have a value, 0 when none has, and reports how many it filled. Places the file
has no row for (sea, other countries) have density 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepmend.config import data_dir

#: File name of the grid in the data directory.
POPGRID_FILE = "popgrid_worldpop_10km_FR_GB_IE_BE.csv"
#: Cell size of the grid (degrees of longitude and latitude).
STEP_DEG = 1.0 / 12.0
#: Version of how the grid is read (2: missing values filled). Part of the simulators' cache tokens, so
#: maps cached from an older reading (e.g. the point masses of round 5) are never served again.
READING_VERSION = 2


@dataclass(frozen=True)
class PopulationGrid:
    """The population grid as an array, rows south → north, columns west → east.

    Attributes
    ----------
    density : numpy.ndarray of float64, shape (n_lat, n_lon)
        Inhabitants per km² of each cell (finite, ≥ 0; 0 where the file has no row).
    lon0, lat0 : int
        Index of the first column / row: cell (r, c) spans longitudes [(lon0 + c)·step,
        (lon0 + c + 1)·step) and latitudes [(lat0 + r)·step, (lat0 + r + 1)·step), WGS84 degrees.
    step : float
        Cell size in degrees (1/12).
    filled : int
        Cells the file lists without a value, filled from their neighbours.
    """

    density: np.ndarray
    lon0: int
    lat0: int
    step: float
    filled: int

    @property
    def lon_centres(self) -> np.ndarray:
        """Longitudes (degrees) of the column centres, shape (n_lon,)."""
        return (self.lon0 + np.arange(self.density.shape[1]) + 0.5) * self.step

    @property
    def lat_centres(self) -> np.ndarray:
        """Latitudes (degrees) of the row centres, shape (n_lat,)."""
        return (self.lat0 + np.arange(self.density.shape[0]) + 0.5) * self.step


def fill_missing(values: np.ndarray, listed: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill the listed cells without a value (NaN) by the mean of their valued 8-neighbours.

    Parameters
    ----------
    values : numpy.ndarray, shape (H, W)
        Cell values; NaN where missing (listed without a value, or not listed).
    listed : numpy.ndarray of bool, shape (H, W)
        Cells the source lists (only these are filled; the others become 0).

    Returns
    -------
    filled : numpy.ndarray of float64, shape (H, W)
        Finite everywhere: a listed cell without a value gets the mean of its neighbours that
        have one, 0 when none has; unlisted cells are 0.
    n : int
        Number of listed cells that were filled.
    """
    from scipy.ndimage import convolve

    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    kernel = np.ones((3, 3))
    s = convolve(np.where(ok, v, 0.0), kernel, mode="constant")
    n = convolve(ok.astype(np.float64), kernel, mode="constant")
    missing = listed & ~ok
    out = np.where(ok, v, 0.0)
    out[missing] = np.where(n[missing] > 0, s[missing] / np.maximum(n[missing], 1), 0.0)
    return out, int(missing.sum())


@lru_cache(maxsize=1)
def population_grid() -> PopulationGrid | None:
    """The population grid of the data directory (read once per process), or None when not installed.

    Returns
    -------
    PopulationGrid or None
        Densities with the missing values filled (:func:`fill_missing`).
    """
    import pandas as pd

    path = data_dir() / POPGRID_FILE
    if not path.exists():
        return None
    df = pd.read_csv(path, usecols=["lon_c", "lat_c", "density_2020_per_km2"])
    ix = np.floor(df["lon_c"].to_numpy() / STEP_DEG).astype(int)
    iy = np.floor(df["lat_c"].to_numpy() / STEP_DEG).astype(int)
    x0, y0 = int(ix.min()), int(iy.min())
    values = np.full((iy.max() - y0 + 1, ix.max() - x0 + 1), np.nan)
    listed = np.zeros(values.shape, dtype=bool)
    values[iy - y0, ix - x0] = pd.to_numeric(df["density_2020_per_km2"], errors="coerce").to_numpy(dtype=np.float64)
    listed[iy - y0, ix - x0] = True
    density, n = fill_missing(values, listed)
    return PopulationGrid(np.maximum(density, 0.0), x0, y0, STEP_DEG, n)
