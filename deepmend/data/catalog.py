"""The bundled deployments: country → city → operator → number of sites.

Two kinds of data set exist. *City* files (France 2022) hold only the sites of a
study area, so the study area is also the mask. *National* files (France 2018, UK,
Ireland) hold a whole network: a city then only selects the target sites, while the
tessellation uses every site of the operator and the mask is the country's land.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from deepmend.config import HOW_TO_POINT, data_dirs, data_file, find_data, require_data_dir
from deepmend.data.crs import COUNTRY_CRS
from deepmend.data.deployment import Deployment, merge_colocated
from deepmend.data.readers import read_sites
from deepmend.data.regions import Region, project, read_polygons
from deepmend.errors import InputError


@dataclass(frozen=True)
class Dataset:
    key: str
    country: str
    file: str
    scope: str  # "city" or "national"
    areas_file: str
    areas_field: str
    city_suffix: str  # appended to city names so that each catalog city is unique
    label: str


@dataclass(frozen=True)
class Country:
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

DATASETS: tuple[Dataset, ...] = (
    Dataset("fr2022", "FR", "fr_city_4g_sites_2022.csv", "city", "boundaries/fr_cities_voronoiboost_study_areas.geojson", "city", "", "ANFR/Arcep 4G sites of the VoronoiBoost study areas (2022)"),
    Dataset("fr2018", "FR", "fr_sites_arcep2018.csv", "national", "boundaries/fr_cities_communes_ign2018.geojson", "nom", " (2018)", "Arcep national site file (Jan 2018)"),
    Dataset("uk", "GB", "uk_sites.csv", "national", "boundaries/uk_cities_lad2013.geojson", "name", "", "NetMonster UK community 4G sites (2026)"),
    Dataset("ie", "IE", "ie_sites.csv", "national", "boundaries/ie_dublin_osm_postal_districts.geojson", "name", "", "ComReg national sites (~2017)"),
)

#: Cities listed without any bundled sites (no public site list could be obtained).
EMPTY_CITIES: dict[str, dict[str, str]] = {"BE": {"Brussels": "boundaries/be_brussels_region_nsi.geojson"}}

ATTRIBUTION = (
    "Sites: Arcep & ANFR (Licence Ouverte), VoronoiBoost study (Martínez-Durive et al. 2022), NetMonster UK (GPL-2.0), "
    "ComReg via Di Francesco et al. (MIT). Boundaries: Natural Earth, IGN Admin Express, ONS (© Crown copyright 2014), "
    "OpenStreetMap contributors (ODbL). Population: WorldPop 2020 (CC BY 4.0)."
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
    c = COUNTRIES[code]
    geom = shapely.union_all(list(read_polygons(data_file(f"boundaries/{c.boundary}")).values()))
    return Region(c.name, geom, project(geom, "EPSG:4326", c.crs), c.crs)


@lru_cache(maxsize=16)
def _areas(areas_file: str, field: str, crs: str) -> dict[str, Region]:
    polys = read_polygons(data_file(areas_file), name_field=field)
    # a long descriptive feature name ("Dublin (union of postal districts, OSM)") → the city
    polys = {name.split(" (")[0]: g for name, g in polys.items()}
    return {name: Region(name, g, project(g, "EPSG:4326", crs), crs) for name, g in polys.items()}


def _inside(dep: Deployment, region: Region) -> np.ndarray:
    return shapely.contains_xy(region.metric, dep.x, dep.y)


@lru_cache(maxsize=1)
def catalog() -> dict:
    """The catalog as plain data: countries → cities → operators with site counts.

    Entries whose files are missing from the data directory are not offered (the embedded
    default holds France / Lyon only; see :mod:`deepmend.config`).
    """
    require_data_dir()
    out: dict = {"countries": [], "default": dict(DEFAULT), "attribution": ATTRIBUTION}
    for code, c in COUNTRIES.items():
        if find_data(f"boundaries/{c.boundary}") is None:
            continue
        cities = []
        for ds in (d for d in DATASETS if d.country == code and find_data(d.file) and find_data(d.areas_file)):
            dep = _sites(ds.file, code)
            for city, region in _areas(ds.areas_file, ds.areas_field, c.crs).items():
                inside = _inside(dep, region)
                ops, counts = np.unique(dep.operator[inside], return_counts=True)
                keep = counts >= MIN_SITES
                ops, counts = ops[keep], counts[keep]
                if ops.size:
                    cities.append({"name": city + ds.city_suffix, "dataset": ds.key, "source": ds.label,
                                   "operators": [{"name": str(o), "n_sites": int(n)} for o, n in zip(ops, counts)]})
        for city, file in EMPTY_CITIES.get(code, {}).items():
            if find_data(file) is None:
                continue
            cities.append({"name": city, "dataset": None, "source": "no public site list", "operators": []})
        out["countries"].append({"code": code, "name": c.name, "crs": c.crs, "cities": sorted(cities, key=lambda d: d["name"])})
    if not any(c["cities"] for c in out["countries"]):
        how, d = data_dirs()[0]
        raise InputError(f"no catalog data in this data directory ({how}); {HOW_TO_POINT}", file=str(d))
    return out


def _names(items: list[dict]) -> str:
    return ", ".join(sorted(i["name"] for i in items))


def find_city(country: str, city: str) -> tuple[dict, dict]:
    """The catalog entries of a country and city, or an error listing the valid ones."""
    cat = catalog()
    cmatch = [c for c in cat["countries"] if c["code"].upper() == str(country).upper() or c["name"].lower() == str(country).lower()]
    if not cmatch:
        raise InputError(f"unknown country; valid: {', '.join(c['code'] for c in cat['countries'])}", column="country", value=country)
    centry = cmatch[0]
    city_match = [c for c in centry["cities"] if c["name"].lower() == str(city).lower()]
    if not city_match:
        raise InputError(f"unknown city for {centry['code']}; valid: {_names(centry['cities'])}", column="city", value=city)
    return centry, city_match[0]


def city_region(country: str, city: str) -> Region:
    centry, cty = find_city(country, city)
    code = centry["code"]
    if cty["dataset"] is None:
        geom = shapely.union_all(list(read_polygons(data_file(EMPTY_CITIES[code][cty["name"]])).values()))
        return Region(cty["name"], geom, project(geom, "EPSG:4326", centry["crs"]), centry["crs"])
    ds = next(d for d in DATASETS if d.key == cty["dataset"])
    base = cty["name"][: len(cty["name"]) - len(ds.city_suffix)] if ds.city_suffix else cty["name"]
    return _areas(ds.areas_file, ds.areas_field, centry["crs"])[base]


def open_scenario(country: str, city: str, operator: str, *, margin_m: float = 90_000.0) -> Scenario:
    """Resolve a catalog (country, city, operator) into a deployment, its targets and its mask.

    Sites within ``margin_m`` of the city count for the tessellation: the windows of the
    target sites reach 30 km out, and beyond that the probabilistic model's far field is
    documented as truncated (see models/probabilistic.py).
    """
    centry, cty = find_city(country, city)
    if not cty["operators"]:
        raise InputError(f"no bundled sites for {cty['name']} ({cty['source']})", column="city", value=city)
    op_match = [o for o in cty["operators"] if o["name"].lower() == str(operator).lower()]
    if not op_match:
        raise InputError(f"unknown operator for {cty['name']}; valid: {_names(cty['operators'])}", column="operator", value=operator)
    op = op_match[0]["name"]
    ds = next(d for d in DATASETS if d.key == cty["dataset"])
    region = city_region(centry["code"], cty["name"])
    land = country_region(centry["code"])
    dep_all = _sites(ds.file, centry["code"])
    near = shapely.contains_xy(region.metric.buffer(margin_m), dep_all.x, dep_all.y) & (dep_all.operator == op)
    dep = merge_colocated(dep_all.subset(near))
    mask_region = land.intersection(region, name=region.name) if ds.scope == "city" else land
    targets = np.flatnonzero(_inside(dep, region))
    return Scenario(centry["code"], cty["name"], op, ds.key, dep, targets, mask_region, region)
