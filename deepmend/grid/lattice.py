"""The national 100 m lattice and the 600×600 windows cut from it (METHOD.md §1).

The reference code places a BS's window at ``floor((x − 30 km)/100 m)·100 m``, so all
windows of a country share one lattice. We exploit that: anything per cell that does
not depend on the target BS (mask, nearest-site labels, distance sums) is computed once
on a :class:`Lattice` and *sliced* per BS. Lattice arrays have rows running northward
(row 0 is the southern edge), as in the reference code: they are the models' internal
layout. Maps handed to users (:class:`~deepmend.grid.diffusion_map.DiffusionMap`) are
north-up, matching :attr:`Window.transform`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from affine import Affine
from rasterio import features

from deepmend.data.crs import to_wgs84

RES_M = 100.0
WINDOW_CELLS = 600
HALF_WIDTH_M = WINDOW_CELLS * RES_M / 2  # 30 km


@dataclass(frozen=True)
class Window:
    """A BS's 600×600 window: its south-west corner on the national lattice, in ``crs``."""

    crs: str
    left: float
    bottom: float
    size: int = WINDOW_CELLS
    res: float = RES_M

    @classmethod
    def around(cls, x: float, y: float, crs: str, size: int = WINDOW_CELLS, res: float = RES_M) -> "Window":
        """The window of a BS at (x, y): south-west corner ``floor((x − half)/res)·res`` (METHOD.md §1).

        Parameters
        ----------
        x, y : float
            The BS's position in ``crs`` (metres).
        crs : str
            The country's metric CRS (e.g. ``"EPSG:2154"``).
        size : int, default 600
            Cells per side.
        res : float, default 100.0
            Cell size in metres.

        Returns
        -------
        Window
            Aligned to the national lattice, so every window of a country shares its cells.
        """
        half = size * res / 2
        return cls(crs, float(np.floor((x - half) / res) * res), float(np.floor((y - half) / res) * res), size, res)

    @property
    def right(self) -> float:
        return self.left + self.size * self.res

    @property
    def top(self) -> float:
        return self.bottom + self.size * self.res

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """1-D cell-centre coordinates (x by column, y by row, northward)."""
        c = (np.arange(self.size) + 0.5) * self.res
        return self.left + c, self.bottom + c

    @property
    def transform(self) -> Affine:
        """North-up affine transform: the georeference of a map's array (``DiffusionMap.prob``)."""
        return Affine(self.res, 0.0, self.left, 0.0, -self.res, self.top)

    def corners_wgs84(self) -> list[list[float]]:
        """[lon, lat] of the top-left, top-right, bottom-right, bottom-left corners (MapLibre image order)."""
        xs = np.array([self.left, self.right, self.right, self.left])
        ys = np.array([self.top, self.top, self.bottom, self.bottom])
        lon, lat = to_wgs84(xs, ys, self.crs)
        return [[float(a), float(b)] for a, b in zip(lon, lat)]

    def as_dict(self) -> dict:
        return {"crs": self.crs, "left": self.left, "bottom": self.bottom, "size": self.size, "res": self.res}


@dataclass(frozen=True)
class Lattice:
    """A rectangle of the national lattice: ``nx``×``ny`` cells from (x0, y0), rows northward."""

    crs: str
    x0: float
    y0: float
    nx: int
    ny: int
    res: float = RES_M

    @classmethod
    def covering(cls, crs: str, xmin: float, ymin: float, xmax: float, ymax: float, res: float = RES_M) -> "Lattice":
        """The smallest lattice rectangle, aligned to multiples of ``res``, holding the box."""
        x0 = float(np.floor(xmin / res) * res)
        y0 = float(np.floor(ymin / res) * res)
        nx = int(np.ceil((xmax - x0) / res))
        ny = int(np.ceil((ymax - y0) / res))
        return cls(crs, x0, y0, max(nx, 1), max(ny, 1), res)

    @classmethod
    def for_sites(cls, crs: str, x: np.ndarray, y: np.ndarray, size: int = WINDOW_CELLS, res: float = RES_M) -> "Lattice":
        """The lattice that contains every window of the given sites."""
        half = size * res / 2
        return cls.covering(crs, float(np.min(x)) - half - res, float(np.min(y)) - half - res, float(np.max(x)) + half + res, float(np.max(y)) + half + res, res)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @cached_property
    def xs(self) -> np.ndarray:
        return self.x0 + (np.arange(self.nx) + 0.5) * self.res

    @cached_property
    def ys(self) -> np.ndarray:
        return self.y0 + (np.arange(self.ny) + 0.5) * self.res

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0 + self.ny * self.res)

    def window(self, x: float, y: float) -> Window:
        return Window.around(x, y, self.crs, res=self.res)

    def slices(self, win: Window) -> tuple[slice, slice]:
        """Row and column slices of ``win`` in this lattice (lattice order: row 0 = south).

        Parameters
        ----------
        win : Window
            A window of the same CRS and resolution, lying inside the lattice.

        Returns
        -------
        tuple of slice
            ``(rows, cols)``, each ``win.size`` long.

        Raises
        ------
        ValueError
            If the window lies (partly) outside the lattice.
        """
        c0 = int(round((win.left - self.x0) / self.res))
        r0 = int(round((win.bottom - self.y0) / self.res))
        if c0 < 0 or r0 < 0 or c0 + win.size > self.nx or r0 + win.size > self.ny:
            raise ValueError(f"window at ({win.left}, {win.bottom}) lies outside the lattice")
        return slice(r0, r0 + win.size), slice(c0, c0 + win.size)

    def rasterize(self, geom: shapely.Geometry) -> np.ndarray:
        """Boolean raster of cells whose centre lies in ``geom`` (GDAL's scan-line fill, no Python loop)."""
        if geom is None or geom.is_empty:
            return np.zeros(self.shape, dtype=bool)
        north_up = features.rasterize([(geom, 1)], out_shape=self.shape, transform=self.transform, fill=0, dtype="uint8", all_touched=False)
        return np.ascontiguousarray(north_up[::-1].astype(bool))
