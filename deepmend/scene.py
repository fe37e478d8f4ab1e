"""A scene: one deployment on one lattice, with the work every model shares done once.

Models never loop over BSs to build their inputs: the lattice, the region mask, the
KD-tree and the nearest-site labels are computed here once per deployment and sliced
per BS, which is what makes a map cost milliseconds instead of seconds (METHOD.md §1:
the national 100 m lattice of the reference code; §2: co-located sites merged).

Orientation: the scene's rasters (:attr:`Scene.mask`, :attr:`Scene.nearest`,
:meth:`Scene.knn`) are in lattice order, rows running northward (row 0 = south);
``DiffusionMap.from_lattice`` turns a window of them north-up. Coordinates are metres in
the deployment's metric CRS (METHOD.md §1).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Iterator

import numpy as np
import shapely
from scipy.spatial import cKDTree

from deepmend.data.catalog import Scenario, open_scenario

from deepmend.data.crs import is_local_metric, local_metric_crs, to_metric
from deepmend.data.deployment import Deployment, merge_colocated
from deepmend.data.regions import Region, project
from deepmend.errors import InputError
from deepmend.grid.lattice import Lattice, Window


#: Sites are only refused for having no position at all: one site takes the whole
#: region, two split it by their bisector, collinear sites give parallel strips.
#: Each BS's work is bounded by its window plus this margin (the catalog's and the batch
#: engine's convention): every site that can be nearest to a cell of a 60 km window lies
#: within 30·√2 + 42.4 ≈ 85 km of the BS, so Voronoi and the k-nearest features are exact;
#: the probabilistic model's far field is truncated there (models/probabilistic.py).
INFLUENCE_MARGIN_M = 90_000.0
#: Targets whose bounding box fits in this side form one part (one lattice, one fit).
MAX_PART_SIDE_M = 200_000.0
#: Side of the square bins that cut a wider deployment into parts.
PART_SIDE_M = 100_000.0
#: A lattice of more cells than this is refused (≈ 700 km × 700 km): use :meth:`Scene.parts`.
MAX_LATTICE_CELLS = 50_000_000
#: Sites this close outside a region (coarse coastlines) are kept as targets, as national runs do.
SNAP_M = 2_000.0
#: Radius of the disc of valid cells added around such a site (≥ one cell diagonal).
SNAP_DISC_M = 200.0
#: Largest extent of an upload (bounding-box side of its sites) the API accepts.
MAX_UPLOAD_EXTENT_KM = 200.0


def bundled_region(name: str, crs: str) -> Region | None:
    """A bundled region by name, or None when ``name`` names none: a country code (``FR``, ``GB``/``UK``,
    ``IE``, ``BE``: the country's land, Natural Earth 1:10m) or ``CC/City`` (a catalog city's study area).

    Parameters
    ----------
    name : str
        ``CC`` or ``CC/City`` (case- and accent-insensitive).
    crs : str
        The metric CRS of the region returned.

    Returns
    -------
    Region or None
    """
    from deepmend.data.catalog import COUNTRIES, city_region, country_region

    text = str(name).strip()
    code = text.upper()
    if code == "UK":
        code = "GB"
    if code in COUNTRIES:
        return country_region(code).to_crs(crs)
    if "/" in text and text.split("/", 1)[0].strip().upper() in set(COUNTRIES) | {"UK"}:
        cc, city = (t.strip() for t in text.split("/", 1))
        return city_region("GB" if cc.upper() == "UK" else cc.upper(), city).to_crs(crs)
    return None


def resolve_region(region, crs: str) -> Region:
    """A region as a user gives it: a :class:`Region`, a vector file or GeoDataFrame (any CRS), or a
    bundled name (:func:`bundled_region`: ``FR``, ``GB/London`` …), in ``crs``.

    Raises
    ------
    InputError
        An unreadable file, or a name that is neither a file nor a bundled region (listing the codes).

    Parameters
    ----------
    region : Region, str, Path or geopandas.GeoDataFrame
        The region as given.
    crs : str
        The metric CRS of the region returned.

    Returns
    -------
    Region
    """
    from pathlib import Path

    from deepmend.data.catalog import COUNTRIES
    from deepmend.data.regions import read_region

    if isinstance(region, Region):
        return region if region.crs == crs else region.to_crs(crs)
    if isinstance(region, (str, Path)) and not Path(region).exists():
        found = bundled_region(str(region), crs)
        if found is not None:
            return found
        if isinstance(region, str) and "." not in Path(region).name:
            raise InputError(f"no such region file, and not a bundled region: give a polygon file, a country code ({', '.join(COUNTRIES)}) "
                             "or CC/City as in 'deepmend catalog'", file=str(region))
    return read_region(region, crs)


def validate_geometry(dep: Deployment) -> None:
    """Reject deployments that cannot be mapped at all (no site, or positions that are not numbers).

    Parameters
    ----------
    dep : Deployment
        The sites, in their metric CRS.

    Returns
    -------
    None

    Raises
    ------
    InputError
        If the deployment has no site or a non-finite x/y.
    """
    if len(dep) == 0:
        raise InputError("no sites", file=dep.source or dep.name)
    if not (np.isfinite(dep.x).all() and np.isfinite(dep.y).all()):
        raise InputError("site positions are not finite numbers", file=dep.source or dep.name)


def extent_km(dep: Deployment) -> float:
    """Longest side of the sites' bounding box (km, in the deployment's metric CRS).

    Parameters
    ----------
    dep : Deployment
        The sites (x, y in metres).

    Returns
    -------
    float
        max(ptp(x), ptp(y)) / 1000; 0 for an empty deployment.
    """
    if len(dep) == 0:
        return 0.0
    return float(max(np.ptp(dep.x), np.ptp(dep.y)) / 1000.0)


def check_extent(dep: Deployment, limit_km: float = MAX_UPLOAD_EXTENT_KM, *, where: str | None = None) -> None:
    """Refuse a deployment wider than ``limit_km`` before any per-cell work (an upload's cost limit).

    Parameters
    ----------
    dep : Deployment
        The sites.
    limit_km : float, default MAX_UPLOAD_EXTENT_KM (200 km)
        Largest bounding-box side accepted.
    where : str, optional
        The file named in the error (default the deployment's source or name).

    Returns
    -------
    None

    Raises
    ------
    InputError
        If :func:`extent_km` exceeds ``limit_km``; names the site farthest from the median.
    """
    span = extent_km(dep)
    if span > limit_km:
        far = int(np.argmax(np.hypot(dep.x - np.median(dep.x), dep.y - np.median(dep.y))))
        raise InputError(f"the sites span {span:,.0f} km (e.g. site {dep.site_ids[far]} at lat {dep.lat[far]:.4f}, lon {dep.lon[far]:.4f}); "
                         f"the limit is {limit_km:,.0f} km: split the list by area", file=where if where is not None else (dep.source or dep.name))


def _swapped_fits(dep: Deployment, region: Region, idx: np.ndarray) -> bool:
    lon, lat = dep.lon[idx], dep.lat[idx]
    if np.any(np.abs(lon) > 90):
        return False
    sx, sy = to_metric(lat, lon, region.crs)
    return bool(shapely.contains_xy(region.metric, sx, sy).mean() > 0.5)


def place_in_region(dep: Deployment, region: Region) -> tuple[np.ndarray, Region, list[str]]:
    """Targets, mask region and notes for a user's sites in a user's region.

    Sites inside are targets; sites up to :data:`SNAP_M` outside (a coarse coastline) are
    targets too, with a disc of :data:`SNAP_DISC_M` added to the valid area so their own
    cell is valid (the distance is reported); sites farther out are neighbours only: they
    shape the border cells, and get no map.

    Parameters
    ----------
    dep : Deployment
        The sites, in their metric CRS.
    region : Region
        The valid area (reprojected to ``dep.crs`` if needed).

    Returns
    -------
    targets : numpy.ndarray of int, shape (n_targets,)
        Sorted indices into ``dep``.
    region : Region
        The region, grown by the snapped sites' discs.
    notes : list of str
        One sentence per adjustment (snapped sites, neighbour-only sites).

    Raises
    ------
    InputError
        If no site lies in (or within :data:`SNAP_M` of) the region, saying when the lat and
        lon columns look swapped.
    """
    region = region if region.crs == dep.crs else region.to_crs(dep.crs)
    inside = shapely.contains_xy(region.metric, dep.x, dep.y)
    notes: list[str] = []
    where = dep.source or dep.name
    out = np.flatnonzero(~inside)
    if out.size == 0:
        return np.arange(len(dep)), region, notes
    dist = shapely.distance(region.metric, shapely.points(dep.x[out], dep.y[out]))
    snap = out[dist <= SNAP_M]
    far = out[dist > SNAP_M]
    if far.size == len(dep):
        if _swapped_fits(dep, region, far):
            raise InputError(f"all {len(dep)} sites lie outside region '{region.name}' but would lie inside with lat and lon swapped: "
                             "the lat and lon columns look swapped", file=where)
        k = int(far[np.argmin(dist)])
        raise InputError(f"no site lies in region '{region.name}' (nearest: site {dep.site_ids[k]}, {dist.min() / 1000:.1f} km outside)", file=where)
    if snap.size:
        discs = shapely.buffer(shapely.points(dep.x[snap], dep.y[snap]), SNAP_DISC_M, quad_segs=4)
        metric = shapely.union_all([region.metric, *discs])
        region = Region(region.name, project(metric, region.crs, "EPSG:4326"), metric, region.crs)
        d = dist[dist <= SNAP_M]
        k = int(snap[np.argmax(d)])
        notes.append(f"{snap.size} site(s) lie up to {d.max() / 1000:.2f} km outside region '{region.name}' (e.g. {dep.site_ids[k]}); "
                     f"kept (≤ {SNAP_M / 1000:g} km: snapped to the region, their own cell made valid)")
    if far.size:
        notes.append(f"{far.size} site(s) lie more than {SNAP_M / 1000:g} km outside region '{region.name}' "
                     f"(e.g. {', '.join(map(str, dep.site_ids[far[:3]]))}): used as neighbours, no map")
    targets = np.sort(np.concatenate([np.flatnonzero(inside), snap]))
    return targets, region, notes


def check_inside(dep: Deployment, region: Region, targets: np.ndarray) -> None:
    """Every target site must lie in its region; say so clearly when lat/lon look swapped.

    Parameters
    ----------
    dep : Deployment
        The sites.
    region : Region
        The mask region, in ``dep.crs``.
    targets : numpy.ndarray of int
        Indices of the target sites.

    Returns
    -------
    None

    Raises
    ------
    InputError
        If a target lies outside the region (naming the first such site), or most do and
        they would lie inside with lat and lon swapped.
    """
    inside = shapely.contains_xy(region.metric, dep.x[targets], dep.y[targets])
    if inside.all():
        return
    where = dep.source or dep.name
    if inside.mean() < 0.5 and _swapped_fits(dep, region, targets):
        raise InputError(f"{(~inside).sum()} of {inside.size} sites lie outside region '{region.name}' but would lie inside with lat and lon swapped: the lat and lon columns look swapped", file=where)
    k = targets[int(np.flatnonzero(~inside)[0])]
    raise InputError(
        f"{(~inside).sum()} of {inside.size} sites lie outside region '{region.name}', e.g. site {dep.site_ids[k]} at lat {dep.lat[k]:.5f}, lon {dep.lon[k]:.5f}",
        file=where, column="site_id", value=str(dep.site_ids[k]),
    )


def _hull_region(dep: Deployment) -> Region:
    hull = shapely.MultiPoint(dep.xy).convex_hull.buffer(30_000.0)
    return Region(f"{dep.name} (30 km around the sites)", project(hull, dep.crs, "EPSG:4326"), hull, dep.crs)


def _reproject(dep: Deployment, crs: str) -> Deployment:
    x, y = to_metric(dep.lon, dep.lat, crs)
    return replace(dep, x=np.asarray(x, float), y=np.asarray(y, float), crs=crs, _lonlat={})


#: Side (cells) of the blocks :func:`nearest_labels` tests as a whole.
NEAREST_BLOCK = 4


def nearest_labels(tree: cKDTree, lat: Lattice, block: int = NEAREST_BLOCK) -> np.ndarray:
    """Index of the nearest site of every cell centre of ``lat`` (int32, rows northward).

    Exact: the same labels as querying every cell centre in ``tree``, computed block by block.
    For a block of ``block``×``block`` cells with centre q, every cell centre c lies within
    r = √2·(block − 1)/2·res of q; if the two nearest sites of q satisfy d₂ − d₁ > 2r, then
    for every other site s, d(c, s) ≥ d₂ − r > d₁ + r ≥ d(c, s₁) (triangle inequality), so
    s₁ is every cell's unique nearest site. Only the cells of the other blocks (those that
    a Voronoi edge may cross) are queried one by one.

    Parameters
    ----------
    tree : scipy.spatial.cKDTree
        KD-tree of the deployment's sites (metres, the lattice's CRS).
    lat : Lattice
        The lattice.
    block : int, default NEAREST_BLOCK
        Side of the blocks tested at once, cells.

    Returns
    -------
    numpy.ndarray of int32, shape (ny, nx)
        Site index per cell, lattice order (row 0 = south): the Voronoi tessellation as a raster.
    """
    ny, nx = lat.shape
    if tree.n == 1:
        return np.zeros((ny, nx), dtype=np.int32)
    by, bx = -(-ny // block), -(-nx // block)
    half = block * lat.res / 2
    qx = lat.x0 + np.arange(bx) * block * lat.res + half
    qy = lat.y0 + np.arange(by) * block * lat.res + half
    gx, gy = np.meshgrid(qx, qy)
    d, i = tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=2)
    r = np.sqrt(2.0) * (block - 1) / 2 * lat.res
    pure = (d[:, 1] - d[:, 0]) > 2 * r + 1e-3  # 1 mm: far above the rounding of the distances
    out = np.empty((by, block, bx, block), dtype=np.int32)
    out[...] = i[:, 0].astype(np.int32).reshape(by, 1, bx, 1)
    kb = np.flatnonzero(~pure)
    if kb.size:
        off = np.arange(block)
        rows = (kb // bx)[:, None, None] * block + off[None, :, None]  # (K, block, 1)
        cols = (kb % bx)[:, None, None] * block + off[None, None, :]  # (K, 1, block)
        rows, cols = np.broadcast_arrays(rows, cols)
        px = lat.x0 + (cols.ravel() + 0.5) * lat.res
        py = lat.y0 + (rows.ravel() + 0.5) * lat.res
        _, j = tree.query(np.column_stack([px, py]), k=1)
        out.reshape(by * block, bx * block)[rows.ravel(), cols.ravel()] = j
    return np.ascontiguousarray(out.reshape(by * block, bx * block)[:ny, :nx])


class Scene:
    """Deployment + mask region + target sites, with lazily computed shared rasters.

    One scene is one operator's network on one lattice. A deployment wider than
    :data:`MAX_PART_SIDE_M` is mapped part by part (:meth:`parts`, :meth:`part_for`), so
    the cost of a map never depends on how far apart the sites of the list are.

    Parameters
    ----------
    deployment : Deployment
        The operator's sites in a metric CRS (co-located sites already merged).
    mask_region : Region
        The valid area (land inside the region of interest); reprojected to the
        deployment's CRS.
    targets : numpy.ndarray of int, optional
        Indices of the sites that get a map; default all.
    name : str, optional
        Display name (default the deployment's).
    strict : bool, default True
        Reject target sites outside the mask region (a user's file); bundled scenes pass
        ``False`` because real coastal sites may sit just off a coarse coastline — their maps
        then fall back to the nearest valid cells.
    notes : tuple of str
        What was done to the user's input (skipped rows, snapped sites …).
    auto_region : bool, default False
        True when the region is the sites' buffered hull rather than the user's.

    Raises
    ------
    InputError
        From :func:`validate_geometry`, when no target is left, or (``strict``) from
        :func:`check_inside`.
    """

    def __init__(self, deployment: Deployment, mask_region: Region, targets: np.ndarray | None = None, *, name: str = "", strict: bool = True,
                 notes: tuple[str, ...] = (), auto_region: bool = False) -> None:
        """Store the deployment, region and targets; see the class docstring."""
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
        #: what was done to the user's input (skipped rows, snapped sites …), one sentence each
        self.notes = tuple(notes)
        self._auto_region = auto_region

    @classmethod
    def from_catalog(cls, country: str, city: str, operator: str) -> "Scene":
        """A bundled scene: the operator's sites within 90 km of the city and the city's region.

        Parameters
        ----------
        country, city, operator : str
            Catalog names (accent- and case-insensitive, resolved by ``data.catalog``).

        Returns
        -------
        Scene
            Non-strict (coastal sites kept), with :attr:`scenario` set.

        Raises
        ------
        InputError
            If a name is not in the catalog, naming the valid ones (from ``open_scenario``).
        """
        sc = open_scenario(country, city, operator)
        scene = cls(sc.deployment, sc.mask_region, sc.targets, name=f"{sc.country}/{sc.city}/{sc.operator}", strict=False)
        scene.scenario = sc
        return scene

    @classmethod
    def from_files(cls, deployment: Deployment, region=None, *, operator: str | None = None,
                   several_networks: bool = False) -> "Scene":
        """A user's own sites: one operator's network, co-located sites merged (ids kept).

        ``region`` is a :class:`Region`, a polygon file or GeoDataFrame (any CRS), or a bundled
        name (``"FR"``, ``"GB/London"``: :func:`resolve_region`); None: the sites' hull + 30 km.
        Without a region, the valid area is the convex hull of the sites buffered by 30 km.
        With one, sites just outside it are snapped and sites far outside are neighbours
        only (:func:`place_in_region`).

        Parameters
        ----------
        deployment : Deployment
            The sites as read (any number of operators).
        region : Region, optional
            The valid area.
        operator : str, optional
            Keep only this operator's sites (case-insensitive).
        several_networks : bool, default False
            Keep several operators (for listing only: models must be fitted per network, see
            :func:`deepmend.data.deployment.split_networks`).

        Returns
        -------
        Scene

        Raises
        ------
        InputError
            If ``operator`` matches no site, the list holds several operators and none was
            chosen, or from :func:`place_in_region`.
        """
        dep = deployment
        if operator is not None:
            dep = dep.subset(np.char.lower(dep.operator.astype(str)) == str(operator).lower())
            if len(dep) == 0:
                raise InputError(f"no site of operator {operator!r}; operators: {', '.join(deployment.operators())}", file=deployment.source or deployment.name)
        ops = dep.operators()
        if len(ops) > 1 and not several_networks:
            raise InputError(f"the list holds {len(ops)} operators' networks ({', '.join(ops[:6])}); each is tessellated on its own: choose one operator",
                             file=dep.source or dep.name)
        dep = merge_colocated(dep)
        notes = list(deployment.notes)
        if region is not None and not isinstance(region, Region):
            region = resolve_region(region, dep.crs)
        if region is None:
            return cls(dep, _hull_region(dep), None, name=dep.name, notes=tuple(notes), auto_region=True)
        targets, mask_region, more = place_in_region(dep, region)
        return cls(dep, mask_region, targets, name=dep.name, strict=False, notes=tuple(notes + more))

    # --- parts: per-BS cost bounded by the window plus the influence margin -----------
    def _local_crs(self, idx: np.ndarray) -> str:
        lon = float(np.median(self.deployment.lon[idx]))
        lat = float(np.median(self.deployment.lat[idx]))
        try:
            if is_local_metric(self.crs, lon, lat):
                return self.crs
        except Exception:
            pass
        return local_metric_crs(lon, lat)

    def _is_one_part(self) -> bool:
        t = self.targets
        x, y = self.deployment.x[t], self.deployment.y[t]
        return max(np.ptp(x), np.ptp(y)) <= MAX_PART_SIDE_M and self._local_crs(t) == self.crs

    def part(self, targets: np.ndarray) -> "Scene":
        """A scene of some targets with only the sites within :data:`INFLUENCE_MARGIN_M` of them,
        in the targets' local metric CRS (a site overseas gets its own UTM zone)."""
        targets = np.asarray(targets, dtype=int)
        crs = self._local_crs(targets)
        dep = self.deployment if crs == self.crs else _reproject(self.deployment, crs)
        ok = np.isfinite(dep.x) & np.isfinite(dep.y)
        tx, ty = dep.x[targets], dep.y[targets]
        m = INFLUENCE_MARGIN_M
        near = ok & (dep.x >= tx.min() - m) & (dep.x <= tx.max() + m) & (dep.y >= ty.min() - m) & (dep.y <= ty.max() + m)
        near[targets] = True
        keep = np.flatnonzero(near)
        sub = dep.subset(keep)
        local = np.searchsorted(keep, targets)
        if self._auto_region:
            region = _hull_region(sub)
        else:
            region = self.mask_region.to_crs(crs) if crs != self.crs else self.mask_region
            lat = Lattice.for_sites(crs, sub.x[local], sub.y[local])
            box = shapely.box(lat.x0 - 1000, lat.y0 - 1000, lat.x0 + lat.nx * lat.res + 1000, lat.y0 + lat.ny * lat.res + 1000)
            metric = shapely.intersection(region.metric, box)
            region = Region(region.name, project(metric, crs, "EPSG:4326"), metric, crs)
        scene = Scene(sub, region, local, name=self.name, strict=False, notes=self.notes, auto_region=self._auto_region)
        return scene

    def parts(self) -> Iterator["Scene"]:
        """The scene itself when its targets are compact, else one scene per 100 km bin of targets."""
        if self._is_one_part():
            yield self
            return
        t = self.targets
        key = np.column_stack([np.floor(self.deployment.x[t] / PART_SIDE_M), np.floor(self.deployment.y[t] / PART_SIDE_M)])
        _, inverse = np.unique(key, axis=0, return_inverse=True)
        for k in range(int(inverse.max()) + 1):
            yield self.part(t[inverse.ravel() == k])

    def target_index(self, site: int | str) -> int:
        """Index of a site that gets a map; a neighbour-only site (far outside the region) is refused saying so.

        Raises
        ------
        InputError
            Unknown site id, a site lying more than :data:`SNAP_M` outside the region, or a neighbour
            of a bundled city (inside the region, outside the city).
        """
        i = self.site_index(site)
        if not np.isin(i, self.targets):
            dep = self.deployment
            d = float(shapely.distance(self.mask_region.metric, shapely.Point(float(dep.x[i]), float(dep.y[i]))))
            if d < 50.0:  # inside the region: a neighbour of a bundled city (the city's sites are the mapped ones)
                raise InputError(f"site {dep.site_ids[i]} is a neighbour of this scene, not one of its mapped sites (a bundled city maps "
                                 "the sites of the city; the others within 90 km only shape their maps): map it with the scene of its "
                                 "own city or from a site list", file=dep.source or None, column="site", value=str(site))
            raise InputError(f"site {dep.site_ids[i]} lies {d / 1000:.1f} km outside region '{self.mask_region.name}': "
                             "used as a neighbour only, no map", file=dep.source or None, column="site", value=str(site))
        return i

    def part_for(self, site: int | str) -> tuple["Scene", int]:
        """(scene, index) to map one site with: the scene itself when compact, else a part around the site alone."""
        i = self.target_index(site)
        if self._is_one_part():
            return self, i
        sub = self.part(np.array([i]))
        return sub, int(sub.targets[0])

    # --- shared per-deployment products -----------------------------------
    @cached_property
    def crs(self) -> str:
        return self.deployment.crs

    @cached_property
    def lattice(self) -> Lattice:
        """The lattice holding every target's window (lattice order, row 0 = south).

        Raises
        ------
        InputError
            If it would exceed :data:`MAX_LATTICE_CELLS` (map the scene part by part instead).
        """
        t = self.targets
        lat = Lattice.for_sites(self.crs, self.deployment.x[t], self.deployment.y[t])
        if lat.nx * lat.ny > MAX_LATTICE_CELLS:
            raise InputError(f"the target sites span {max(lat.nx, lat.ny) * lat.res / 1000:,.0f} km: too wide for one lattice; "
                             "map them part by part (Scene.parts)", file=self.deployment.source or self.name)
        return lat

    @cached_property
    def mask(self) -> np.ndarray:
        """Valid cells of the whole lattice (region rasterised once)."""
        return self.lattice.rasterize(self.mask_region.metric)

    @cached_property
    def tree(self) -> cKDTree:
        return cKDTree(self.deployment.xy)

    @cached_property
    def nearest(self) -> np.ndarray:
        """Index of the nearest site for every lattice cell (int32): the Voronoi tessellation as a raster.

        Identical to ``knn(1)``'s indices (see :func:`nearest_labels`), at a fraction of the cost."""
        cache = self.__dict__.get("_knn", {})
        if 1 in cache:
            return cache[1][1][..., 0]
        return nearest_labels(self.tree, self.lattice)

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
        """Index of a site given by index or by id.

        Raises
        ------
        InputError
            If an integer index is out of range, or an id is unknown (``Deployment.index_of``).
        """
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
