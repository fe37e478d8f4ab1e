"""What a batch run covers: a deployment, the mask region and the target sites.

A :class:`Job` is a Scene's inputs without the Scene: nothing per cell is computed
here, so a job may span a whole country. The engine cuts it into tiles, each of which
becomes a small Scene (see :mod:`deepmend.engine.tiles`).

Whole countries: the bundled national files (France 2018, UK, Ireland) are opened with
every site of the operator; the mask is the country's land (Natural Earth 1:10m). That
coastline is off by up to ~1.5 km, so 405 of France's 24,337 Orange sites lie just
"at sea": sites up to ``COAST_SNAP_M`` off the coast are kept and a disc of
``COAST_DISC_M`` around each is added to the mask (their own cell must be valid); sites
farther out are excluded and reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely

from deepmend.data.deployment import Deployment, merge_colocated
from deepmend.data.regions import Region, project
from deepmend.errors import InputError

#: Sites this close to the (coarse) coastline count as on land.
COAST_SNAP_M = 2_000.0
#: Radius of the disc of valid cells added around such a site (≥ one cell diagonal).
COAST_DISC_M = 200.0
#: A target outside its list's CRS area and this far from the other targets lies in another area (overseas):
#: one store or geolocation raster cannot hold it (:func:`check_one_area`).
OTHER_AREA_KM = 1_000.0


@dataclass(frozen=True)
class Job:
    """Deployment + mask region + targets (indices into the deployment), plus what was excluded."""

    name: str
    deployment: Deployment
    mask_region: Region
    targets: np.ndarray
    excluded: dict = field(default_factory=dict)  # site id → reason
    notes: tuple = ()  # what was done to a user's input (rows skipped, sites snapped …), one sentence each

    @property
    def crs(self) -> str:
        return self.deployment.crs

    def with_targets(self, targets: np.ndarray) -> "Job":
        return replace(self, targets=np.asarray(targets, dtype=int))

    def id_index(self) -> dict[str, int]:
        """Every site id of the deployment, merged members included, → its index."""
        out: dict[str, int] = {}
        for i, ids in enumerate(self.deployment.members):  # a loop over sites, not cells
            for s in ids:
                out.setdefault(str(s), i)
        for i, s in enumerate(self.deployment.site_ids):
            out[str(s)] = i
        return out


def _national_dataset(country: str, dataset: str | None):
    from deepmend.data.catalog import COUNTRIES, DATASETS

    code = str(country).upper()
    if code == "UK":
        code = "GB"
    if code not in COUNTRIES:
        raise InputError(f"unknown country; valid: {', '.join(COUNTRIES)}", column="country", value=country)
    national = [d for d in DATASETS if d.country == code and d.scope == "national"]
    if dataset:
        match = [d for d in national if d.key == str(dataset).lower()]
        if not match:
            raise InputError(f"no national data set of that name for {code}; valid: {', '.join(d.key for d in national) or 'none'}", column="dataset", value=dataset)
        return code, match[0]
    if not national:
        raise InputError(f"no bundled national site file for {code}", column="country", value=country)
    return code, national[0]


def open_country(country: str, operator: str, dataset: str | None = None) -> Job:
    """Every site of ``operator`` in a bundled national file, masked by the country's land.

    Raises
    ------
    InputError
        If the country has no bundled national file, or ``operator`` is not one of its operators
        (listing the valid ones).
    """
    from deepmend.data.catalog import _sites, country_region

    code, ds = _national_dataset(country, dataset)
    allsites = _sites(ds.file, code)
    ops = sorted(set(map(str, allsites.operator)))
    op = next((o for o in ops if o.lower() == str(operator).lower()), None)
    if op is None:
        raise InputError(f"unknown operator in {ds.key}; valid: {', '.join(ops)}", column="operator", value=operator)
    dep = merge_colocated(allsites.subset(allsites.operator == op))
    land = country_region(code)
    inside = shapely.contains_xy(land.metric, dep.x, dep.y)
    excluded: dict[str, str] = {}
    mask_region = land
    if not inside.all():
        out = np.flatnonzero(~inside)
        dist = shapely.distance(land.metric, shapely.points(dep.x[out], dep.y[out]))
        snap = out[dist <= COAST_SNAP_M]
        for k, d in zip(out[dist > COAST_SNAP_M], dist[dist > COAST_SNAP_M]):
            excluded[str(dep.site_ids[k])] = f"{d / 1000:.1f} km outside the {land.name} land polygon"
        if snap.size:
            discs = shapely.buffer(shapely.points(dep.x[snap], dep.y[snap]), COAST_DISC_M, quad_segs=4)
            metric = shapely.union_all([land.metric, *discs])
            mask_region = Region(land.name, project(metric, land.crs, "EPSG:4326"), metric, land.crs)
        inside[snap] = True
    return Job(f"{code}/{ds.key}/{op}", dep, mask_region, np.flatnonzero(inside), excluded)


def open_jobs(country: str | None, city: str | None, operator: str | None, sites: str | None = None,
              region: str | None = None, crs: str | None = None, dataset: str | None = None) -> list[Job]:
    """Like :func:`open_job`, but a user's multi-operator site list gives one job per operator's network
    (each tessellated on its own, :func:`deepmend.data.deployment.split_networks`), in operator order.

    ``sites`` is a path, a (Geo)DataFrame or a :class:`~deepmend.data.deployment.Deployment`;
    ``region`` a path, a GeoDataFrame, a Region or a bundled name (:func:`deepmend.scene.resolve_region`).

    Raises
    ------
    InputError
        If ``operator`` names no operator of the user's list, or as :func:`open_job`.
    """
    if sites is not None and not (isinstance(sites, str) and not sites):
        from deepmend.data.deployment import split_networks
        from deepmend.data.readers import read_sites
        from deepmend.scene import Scene, resolve_region

        if isinstance(sites, Deployment):
            dep = sites if operator is None else sites.subset(np.char.lower(sites.operator.astype(str)) == str(operator).lower())
            if len(dep) == 0:
                raise InputError(f"no site of operator {operator!r}; operators: {', '.join(sites.operators())}", column="operator", value=operator)
        else:
            dep = read_sites(sites, crs=crs, country=country, operator=operator, audience="cli")
        reg = resolve_region(region, dep.crs) if region is not None else None
        nets = split_networks(dep)
        jobs = []
        for op, net in nets.items():
            scene = Scene.from_files(net, reg)
            # "<list>/<operator>" whenever an operator is chosen or several are there: the same network, the same name (and store)
            named = len(nets) > 1 or (operator is not None and op != "")
            jobs.append(Job(f"{scene.name}/{op}" if named else scene.name, scene.deployment, scene.mask_region, scene.targets,
                            notes=scene.notes))
            check_one_area(jobs[-1])
        return jobs
    return [open_job(country, city, operator, sites, region, crs, dataset)]


def check_one_area(job: Job) -> None:
    """A store (and a geolocation raster) holds one CRS: refuse, in words, targets outside its area of use
    (a national list with an overseas site), instead of a lattice thousands of km wide.

    Raises
    ------
    InputError
        Naming the first such site, its distance to the others and what to do.
    """
    from pyproj import CRS

    aou = CRS.from_user_input(job.crs).area_of_use
    t = np.asarray(job.targets, dtype=int)
    if aou is None or t.size == 0:
        return
    dep = job.deployment
    lon, lat = dep.lon[t], dep.lat[t]
    out = ~((lon >= aou.west - 1.0) & (lon <= aou.east + 1.0) & (lat >= aou.south - 1.0) & (lat <= aou.north + 1.0))
    if not out.any() or out.all():
        return
    from pyproj import Geod

    clon, clat = float(np.median(lon[~out])), float(np.median(lat[~out]))
    dist = np.zeros(t.size)
    dist[out] = Geod(ellps="WGS84").inv(np.full(int(out.sum()), clon), np.full(int(out.sum()), clat), lon[out], lat[out])[2] / 1000
    out &= dist > OTHER_AREA_KM  # a wide list just past its CRS's edge (two UTM zones) is mapped as before
    if not out.any():
        return
    k = int(np.flatnonzero(out)[0])
    d = float(dist[k])
    raise InputError(f"{int(out.sum())} site(s) lie outside the area of {job.crs} where the other sites lie (e.g. site "
                     f"{dep.site_ids[t[k]]} at lat {lat[k]:.4f}, lon {lon[k]:.4f}, {d:,.0f} km away), and a map store or a geolocation raster "
                     "holds one area: map those sites from a list of their own (predict --all --out DIR maps such a list part by part)",
                     file=dep.source or job.name)


def network_stores(store, jobs) -> list:
    """The store of each network: ``store`` itself for one network, else ``store/<operator>.zarr`` (a store holds one network's maps).

    Raises
    ------
    InputError
        If ``store`` is already the map store of one network while the list holds several.
    """
    import re
    from pathlib import Path

    if store is None:
        return [None] * len(jobs)
    if len(jobs) == 1:
        return [str(store)]
    if (Path(store) / "zarr.json").exists():
        raise InputError(f"is the map store of one network, and this list holds {len(jobs)} operators' networks "
                         f"({', '.join(str(j.deployment.operator[0]) for j in jobs[:6] if len(j.deployment))}), each stored on its own "
                         "under the --store folder: choose a new --store, or one operator", file=str(store))
    out, seen = [], set()
    for k, j in enumerate(jobs):
        op = str(j.deployment.operator[0]) if len(j.deployment) else "network"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", op).strip("._") or "network"
        if slug.lower() in seen:  # two operators whose names clean alike
            slug = f"{slug}_{k + 1}"
        seen.add(slug.lower())
        out.append(str(Path(store) / f"{slug}.zarr"))
    return out


def open_job(country: str | None, city: str | None, operator: str | None, sites: str | None = None,
             region: str | None = None, crs: str | None = None, dataset: str | None = None) -> Job:
    """Resolve the CLI's scene options into a job: a catalog city, a whole country, or a user's files
    (one operator's network: a multi-operator list is refused, see :func:`open_jobs`).

    Raises
    ------
    InputError
        If ``--region`` is given without ``--sites``, neither a catalog scene nor ``--sites`` is
        given, or a name or file is refused by the catalog or the readers.
    """
    if sites:
        from deepmend.data.readers import read_sites
        from deepmend.scene import Scene, resolve_region

        dep = read_sites(sites, crs=crs, country=country, operator=operator, audience="cli")
        scene = Scene.from_files(dep, resolve_region(region, dep.crs) if region else None)
        return Job(scene.name, scene.deployment, scene.mask_region, scene.targets, notes=scene.notes)
    if region:
        raise InputError("--region goes with --sites (catalog scenes carry their own region)", column="--region", value=region)
    if not country or not operator:
        raise InputError("choose --country and --operator (and --city for one city, or neither for the whole country), or pass --sites FILE; see 'deepmend catalog'")
    if city:
        from deepmend.data.catalog import open_scenario

        sc = open_scenario(country, city, operator)
        return Job(f"{sc.country}/{sc.city}/{sc.operator}", sc.deployment, sc.mask_region, sc.targets)
    return open_country(country, operator, dataset)
