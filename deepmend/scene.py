"""A scene: one deployment on one lattice, with the work every model shares done once.

Models never loop over BSs to build their inputs: the lattice, the region mask, the
KD-tree and the nearest-site labels are computed here once per deployment and sliced
per BS, which is what makes a map cost milliseconds instead of seconds.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import shapely
from scipy.spatial import cKDTree

from deepmend.data.catalog import Scenario, open_scenario
from deepmend.data.crs import to_metric
from deepmend.data.deployment import Deployment, merge_colocated
from deepmend.data.regions import Region
from deepmend.errors import InputError
from deepmend.grid.lattice import Lattice, Window


#: Sites all within this distance of one straight line count as collinear (a lat/lon
#: straight line bends by a few metres once projected).
COLLINEAR_TOLERANCE_M = 50.0


def validate_geometry(dep: Deployment) -> None:
    """Reject deployments that cannot be tessellated, naming the file."""
    if len(dep) < 3:
        raise InputError(f"only {len(dep)} distinct site(s): a tessellation needs at least 3 sites not on one line", file=dep.source or dep.name)
    centred = dep.xy - dep.xy.mean(axis=0)
    normal = np.linalg.svd(centred, full_matrices=False)[2][1]
    if np.abs(centred @ normal).max() < COLLINEAR_TOLERANCE_M:
        raise InputError(f"all sites lie on one line (within {COLLINEAR_TOLERANCE_M:g} m): their Voronoi cells are unbounded strips", file=dep.source or dep.name)


def check_inside(dep: Deployment, region: Region, targets: np.ndarray) -> None:
    """Every target site must lie in its region; say so clearly when lat/lon look swapped."""
    inside = shapely.contains_xy(region.metric, dep.x[targets], dep.y[targets])
    if inside.all():
        return
    where = dep.source or dep.name
    if inside.mean() < 0.5:
        sx, sy = to_metric(dep.lat[targets], dep.lon[targets], dep.crs)
        if shapely.contains_xy(region.metric, sx, sy).mean() > 0.5:
            raise InputError(f"{(~inside).sum()} of {inside.size} sites lie outside region '{region.name}' but would lie inside with lat and lon swapped: the lat and lon columns look swapped", file=where)
    k = targets[int(np.flatnonzero(~inside)[0])]
    raise InputError(
        f"{(~inside).sum()} of {inside.size} sites lie outside region '{region.name}', e.g. site {dep.site_ids[k]} at lat {dep.lat[k]:.5f}, lon {dep.lon[k]:.5f}",
        file=where, column="site_id", value=str(dep.site_ids[k]),
    )


class Scene:
    """Deployment + mask region + target sites, with lazily computed shared rasters."""

    def __init__(self, deployment: Deployment, mask_region: Region, targets: np.ndarray | None = None, *, name: str = "", strict: bool = True) -> None:
        """``strict`` rejects target sites outside the mask region (a user's file); bundled
        scenes pass ``strict=False`` because real coastal sites may sit just off a coarse
        coastline — their maps then fall back to the nearest valid cells."""
        validate_geometry(deployment)
        if mask_region.crs != deployment.crs:
            mask_region = mask_region.to_crs(deployment.crs)
        self.deployment = deployment
        self.mask_region = mask_region
        self.targets = np.arange(len(deployment)) if targets is None else np.asarray(targets, dtype=int)
        if self.targets.size == 0:
            raise InputError(f"no sites inside region '{mask_region.name}'", file=deployment.source or deployment.name)
        if strict:
            check_inside(deployment, mask_region, self.targets)
        self.name = name or deployment.name
        self.scenario: Scenario | None = None

    @classmethod
    def from_catalog(cls, country: str, city: str, operator: str) -> "Scene":
        sc = open_scenario(country, city, operator)
        scene = cls(sc.deployment, sc.mask_region, sc.targets, name=f"{sc.country}/{sc.city}/{sc.operator}", strict=False)
        scene.scenario = sc
        return scene

    @classmethod
    def from_files(cls, deployment: Deployment, region: Region | None) -> "Scene":
        """A user's own sites; without a region, the convex hull of the sites buffered by 30 km."""
        dep = merge_colocated(deployment)
        if region is None:
            hull = shapely.MultiPoint(dep.xy).convex_hull.buffer(30_000.0)
            from deepmend.data.regions import project

            region = Region(f"{dep.name} (30 km around the sites)", project(hull, dep.crs, "EPSG:4326"), hull, dep.crs)
        return cls(dep, region, None, name=dep.name)

    # --- shared per-deployment products -----------------------------------
    @cached_property
    def crs(self) -> str:
        return self.deployment.crs

    @cached_property
    def lattice(self) -> Lattice:
        t = self.targets
        return Lattice.for_sites(self.crs, self.deployment.x[t], self.deployment.y[t])

    @cached_property
    def mask(self) -> np.ndarray:
        """Valid cells of the whole lattice (region rasterised once)."""
        return self.lattice.rasterize(self.mask_region.metric)

    @cached_property
    def tree(self) -> cKDTree:
        return cKDTree(self.deployment.xy)

    @cached_property
    def nearest(self) -> np.ndarray:
        """Index of the nearest site for every lattice cell (int32): the Voronoi tessellation as a raster."""
        return self.knn(1)[1][..., 0]

    @cached_property
    def nearest_distance(self) -> np.ndarray:
        """Distance (m, float32) from every lattice cell centre to its nearest site."""
        return self.knn(1)[0][..., 0]

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances (float32, m) and indices (int32) of the ``k`` nearest sites of every lattice cell."""
        cache = self.__dict__.setdefault("_knn", {})
        if k not in cache:
            lat = self.lattice
            gx, gy = np.meshgrid(lat.xs, lat.ys)
            d, idx = self.tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=k, workers=-1)
            shape = lat.shape + (k,)
            cache[k] = (d.astype(np.float32).reshape(shape), idx.astype(np.int32).reshape(shape))
        return cache[k]

    # --- per-BS helpers -----------------------------------------------------
    def site_index(self, site: int | str) -> int:
        if isinstance(site, (int, np.integer)):
            if not 0 <= int(site) < len(self.deployment):
                raise InputError(f"site index out of range 0..{len(self.deployment) - 1}", column="site", value=int(site))
            return int(site)
        return self.deployment.index_of(str(site))

    def window(self, i: int) -> Window:
        return self.lattice.window(float(self.deployment.x[i]), float(self.deployment.y[i]))

    def slices(self, i: int) -> tuple[slice, slice]:
        return self.lattice.slices(self.window(i))

    def site_rc(self, i: int) -> tuple[int, int]:
        """Row and column of the BS inside its own window."""
        w = self.window(i)
        return int((self.deployment.y[i] - w.bottom) // w.res), int((self.deployment.x[i] - w.left) // w.res)
