"""Density rasters on the output lattice, written as a GeoTIFF band by band.

Memory: the raster (B, ny, nx) is a float64 memory-mapped file next to the output, not
RAM, so a large lattice does not need the RAM of the whole raster. The GeoTIFF is float32,
north-up, with one band per (value column, time slot) named in the band descriptions.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deepmend.grid.lattice import Lattice

BLOCK_ROWS = 1024


class DensityRaster:
    """A (B, ny, nx) float64 raster on ``lattice`` (rows northward), disk-backed.

    Parameters
    ----------
    lattice : Lattice
        The output lattice (metres, its CRS; rows northward, row 0 = south).
    n_slots : int
        Bands B (value columns × time slots).
    workdir : str or Path, optional
        Where the memory-mapped accumulator lives (a temporary directory inside it; default
        the system's temporary directory).
    """

    def __init__(self, lattice: Lattice, n_slots: int, workdir: str | Path | None = None) -> None:
        self.lattice = lattice
        self.n_slots = n_slots
        self._tmp = tempfile.TemporaryDirectory(prefix=".density-", dir=workdir)
        self.data = np.lib.format.open_memmap(Path(self._tmp.name) / "acc.npy", mode="w+", dtype=np.float64, shape=(n_slots, lattice.ny, lattice.nx))

    def close(self) -> None:
        """Release the memory map and delete its temporary directory."""
        del self.data
        self._tmp.cleanup()

    def set_cells(self, cells: np.ndarray, values: np.ndarray) -> None:
        """Put ``values`` (m, B) at the flat lattice indices ``cells`` (m,) (rows northward)."""
        for t in range(self.n_slots):  # a loop over bands
            self.data[t].reshape(-1)[cells] = values[:, t]

    def blocks(self):
        """(r0, r1) row blocks, northward."""
        for r0 in range(0, self.lattice.ny, BLOCK_ROWS):
            yield r0, min(r0 + BLOCK_ROWS, self.lattice.ny)

    def write_geotiff(self, path: str | Path, labels: list[str], tags: dict | None = None) -> np.ndarray:
        """Write float32 bands (north-up, with CRS), block by block; return each band's float64 sum."""
        import rasterio
        from rasterio.windows import Window as RioWindow

        from deepmend.io import atomic_path

        lat = self.lattice
        profile = {"driver": "GTiff", "width": lat.nx, "height": lat.ny, "count": self.n_slots, "dtype": "float32", "crs": lat.crs,
                   "transform": lat.transform, "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256,
                   "BIGTIFF": "IF_SAFER"}
        sums = np.zeros(self.n_slots)
        with atomic_path(path) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                for r0, r1 in self.blocks():
                    win = RioWindow(0, lat.ny - r1, lat.nx, r1 - r0)
                    block = self.data[:, r0:r1, :].astype(np.float32)
                    sums += block.sum(axis=(1, 2), dtype=np.float64)
                    dst.write(block[:, ::-1, :], window=win)
                for t, lab in enumerate(labels, start=1):
                    dst.set_band_description(t, str(lab))
                dst.update_tags(**{k: str(v) for k, v in (tags or {}).items()})
        return sums
