"""Cut a job's targets into spatial tiles, each small enough for its own Scene.

Why tiles: a Scene computes its mask and nearest-site rasters over the lattice that
covers all of its targets' windows; for France that is ~1e8 cells per raster. A tile's
Scene covers only its targets' windows (tile + 30 km each side) on the national 100 m
lattice (METHOD.md §1).

Tiles come from a region quadtree (standard definition: a box split into four equal
quadrants, recursively) over the target positions, split until a tile holds at most
``max_sites`` targets (dense cities get small tiles, the countryside large ones), so
every task costs about the same. The split is deterministic, so tile ids are stable
across runs and a store can be resumed.

Margin: a tile's deployment holds every site within ``margin_m`` of the tile's box
(default 90 km, the catalog's convention). A cell of a target's window lies at most
30·√2 ≈ 42.4 km from the target, and its nearest site at most that far from the cell,
so every site that can be nearest to a window cell lies within 85 km: Voronoi (and the
k-nearest inputs of DeepMEND) are exact, identical to one Scene over the whole country.
The probabilistic model's far-field sum is truncated at the margin, as documented in
models/probabilistic.py for catalog scenes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project
from deepmend.engine.job import Job
from deepmend.grid.lattice import Lattice

DEFAULT_MAX_SITES = 192
#: Tiles of a run whose maps only go to the store (``predict --store``): the workers keep
#: no map in memory, so larger tiles are affordable and halve the lattice cells computed
#: per BS (the 30 km margins overlap less): France 12,551 → 6,602 cells per BS.
DEFAULT_STORE_MAX_SITES = 800
DEFAULT_MARGIN_M = 90_000.0
#: Tiles are never split below this side (co-located targets cannot be separated).
MIN_TILE_M = 2_000.0


@dataclass(frozen=True)
class Tile:
    """One task's worth of targets with everything needed to build its Scene (picklable)."""

    tile_id: str
    box: tuple[float, float, float, float]  # targets' box [xmin, xmax) × [ymin, ymax), metres
    deployment: Deployment
    targets: np.ndarray  # indices into ``deployment``
    mask_region: Region  # the job's mask clipped to the tile's lattice

    @property
    def site_ids(self) -> list[str]:
        return [str(s) for s in self.deployment.site_ids[self.targets]]

    def __len__(self) -> int:
        return int(self.targets.size)


def _quadtree(x: np.ndarray, y: np.ndarray, max_sites: int) -> list[tuple[str, tuple[float, float, float, float], np.ndarray]]:
    """Leaves (id, box, member indices) of a quadtree over points, in depth-first id order."""
    side = max(float(x.max() - x.min()), float(y.max() - y.min()), MIN_TILE_M) + 1.0
    root = (float(x.min()), float(x.min()) + side, float(y.min()), float(y.min()) + side)
    out = []
    stack = [("t", root, np.arange(x.size))]
    while stack:
        tid, (x0, x1, y0, y1), idx = stack.pop()
        if idx.size <= max_sites or (x1 - x0) <= MIN_TILE_M:
            out.append((tid, (x0, x1, y0, y1), idx))
            continue
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        east, north = x[idx] >= xm, y[idx] >= ym
        quads = [(~east & ~north, (x0, xm, y0, ym)), (east & ~north, (xm, x1, y0, ym)),
                 (~east & north, (x0, xm, ym, y1)), (east & north, (xm, x1, ym, y1))]
        for q in range(3, -1, -1):  # pushed in reverse: popped (and listed) in quadrant order
            sel, box = quads[q]
            if sel.any():
                stack.append((f"{tid}{q}", box, idx[sel]))
    return out


def _clip_region(region: Region, lattice: Lattice) -> Region:
    """The region inside the tile's lattice (+1 km): rasterising it is then cheap."""
    pad = 1_000.0
    box = shapely.box(lattice.x0 - pad, lattice.y0 - pad, lattice.x0 + lattice.nx * lattice.res + pad, lattice.y0 + lattice.ny * lattice.res + pad)
    metric = shapely.intersection(region.metric, box)
    return Region(region.name, project(metric, region.crs, "EPSG:4326"), metric, region.crs)


def make_tiles(job: Job, *, max_sites: int = DEFAULT_MAX_SITES, margin_m: float = DEFAULT_MARGIN_M) -> list[Tile]:
    """The job's targets as tiles, in a deterministic order.

    Parameters
    ----------
    job : Job
        The deployment, its targets and mask region (metres, the job's metric CRS).
    max_sites : int, default DEFAULT_MAX_SITES
        Most targets per tile (≥ 1).
    margin_m : float, default DEFAULT_MARGIN_M (90 km)
        Sites within this distance of a tile's box join its deployment (see the module docstring).

    Returns
    -------
    list of Tile
        Each with its id, box (x0, x1, y0, y1), sub-deployment, target indices into it, and the
        mask region clipped to its lattice; empty when the job has no target.
    """
    dep = job.deployment
    t = np.asarray(job.targets, dtype=int)
    if t.size == 0:
        return []
    tiles = []
    for tid, (x0, x1, y0, y1), members in _quadtree(dep.x[t], dep.y[t], max(1, int(max_sites))):
        targets = t[members]
        near = np.flatnonzero((dep.x >= x0 - margin_m) & (dep.x <= x1 + margin_m) & (dep.y >= y0 - margin_m) & (dep.y <= y1 + margin_m))
        sub = dep.subset(near)
        local = np.searchsorted(near, targets)
        lattice = Lattice.for_sites(dep.crs, dep.x[targets], dep.y[targets])
        tiles.append(Tile(tid, (x0, x1, y0, y1), sub, local, _clip_region(job.mask_region, lattice)))
    return tiles
