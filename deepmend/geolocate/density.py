"""Density rasters Σ_i v_i·P(ℓ|i) on the national lattice, built tile by tile.

Every BS window is aligned to the national 100 m lattice (METHOD.md §1), so adding a
map into the national raster is index arithmetic: window corner − lattice origin. Per
tile, all its BSs' sparse entries are scattered at once with ``np.bincount`` into the
tile's bounding block, which is then added into the raster — no loop over cells.

Memory: the raster of a whole country (~1e8 cells for France) is a float64 memory-mapped
file next to the output, not RAM; float64 so that the order in which tiles arrive
(which differs between local and Dask runs) changes the float32 output by no more than
the float64 rounding. GeoTIFF and polygon totals are produced by row blocks.

Mass conservation: each map sums to 1 over valid cells, so Σ_ℓ density = Σ_i v_i
exactly, minus Σ_i v_i·lost_i when maps were cut at a probability floor (reported).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deepmend.engine.tasks import TileResult
from deepmend.grid.lattice import Lattice

BLOCK_ROWS = 1024


class DensityRaster:
    """A (T, ny, nx) float64 accumulator on ``lattice`` (rows northward), disk-backed."""

    def __init__(self, lattice: Lattice, weights_by_site: dict[str, np.ndarray], n_slots: int, workdir: str | Path | None = None) -> None:
        self.lattice = lattice
        self.weights = weights_by_site
        self.n_slots = n_slots
        self._tmp = tempfile.TemporaryDirectory(prefix=".density-", dir=workdir)
        self.data = np.lib.format.open_memmap(Path(self._tmp.name) / "acc.npy", mode="w+", dtype=np.float64, shape=(n_slots, lattice.ny, lattice.nx))
        self.expected = np.zeros(n_slots)  # Σ v_i·(1 − lost_i): what the raster must hold
        self.lost = np.zeros(n_slots)  # Σ v_i·lost_i
        self.sites_added = 0

    def close(self) -> None:
        del self.data
        self._tmp.cleanup()

    def add(self, res: TileResult) -> None:
        """Scatter a tile's maps, weighted by each BS's values, into the raster."""
        ks = [k for k, s in enumerate(res.site_ids) if s in self.weights]
        if not ks:
            return
        lat = self.lattice
        r0 = np.rint((res.bottom[ks] - lat.y0) / lat.res).astype(np.int64)
        c0 = np.rint((res.left[ks] - lat.x0) / lat.res).astype(np.int64)
        if r0.min() < 0 or c0.min() < 0 or r0.max() + res.size > lat.ny or c0.max() + res.size > lat.nx:
            raise ValueError(f"tile {res.tile_id} reaches outside the density lattice")
        rb, cb = int(r0.min()), int(c0.min())
        h, w = int(r0.max()) - rb + res.size, int(c0.max()) - cb + res.size
        counts = np.diff(res.ptr)[ks]
        sel = np.concatenate([np.arange(res.ptr[k], res.ptr[k + 1]) for k in ks])
        idx = res.idx[sel].astype(np.int64)
        rows = np.repeat(r0 - rb, counts) + (res.size - 1 - idx // res.size)  # maps are north-up, the raster runs northward
        cols = np.repeat(c0 - cb, counts) + idx % res.size
        flat = rows * w + cols
        p = res.prob[sel].astype(np.float64)
        wmat = np.stack([self.weights[res.site_ids[k]] for k in ks])  # (n, T)
        lost = res.lost[ks]
        for t in range(self.n_slots):
            v = np.repeat(wmat[:, t], counts)
            block = np.bincount(flat, weights=p * v, minlength=h * w).reshape(h, w)
            self.data[t, rb : rb + h, cb : cb + w] += block
            self.expected[t] += float(np.dot(wmat[:, t], 1.0 - lost))
            self.lost[t] += float(np.dot(wmat[:, t], lost))
        self.sites_added += len(ks)

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

    def polygon_totals(self, polygons: dict[str, "object"]) -> tuple[np.ndarray, np.ndarray]:
        """Totals (n_polygons, T) by polygon (cell centre inside; overlaps go to the later polygon) and the rest (T,).

        ``polygons`` are shapely geometries in the lattice's CRS.
        """
        import shapely
        from rasterio import features

        lat = self.lattice
        names = list(polygons)
        geoms = [polygons[n] for n in names]
        tree = shapely.STRtree(geoms)
        totals = np.zeros((len(names) + 1, self.n_slots))
        for r0, r1 in self.blocks():
            box = shapely.box(lat.x0, lat.y0 + r0 * lat.res, lat.x0 + lat.nx * lat.res, lat.y0 + r1 * lat.res)
            hit = np.sort(tree.query(box))
            if hit.size == 0:
                totals[0] += self.data[:, r0:r1, :].sum(axis=(1, 2))
                continue
            sub = Lattice(lat.crs, lat.x0, lat.y0 + r0 * lat.res, lat.nx, r1 - r0, lat.res)
            north_up = features.rasterize([(geoms[i], int(i) + 1) for i in hit], out_shape=sub.shape, transform=sub.transform, fill=0, dtype="int32")
            labels = north_up[::-1].ravel()
            for t in range(self.n_slots):
                totals[:, t] += np.bincount(labels, weights=self.data[t, r0:r1, :].ravel(), minlength=len(names) + 1)
        return totals[1:], totals[0]
