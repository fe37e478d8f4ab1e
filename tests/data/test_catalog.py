"""The catalog: each city once, France's cities from the national file, and the one name resolver."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from deepmend.data import catalog as cat_mod
from deepmend.data.catalog import CITY_RADIUS_M, catalog, find_city, fold, open_scenario, resolve
from deepmend.errors import InputError


def _country(code):
    return next(c for c in catalog()["countries"] if c["code"] == code)


def test_france_lists_at_least_30_cities_each_once_including_paris():
    fr = _country("FR")
    names = [c["name"] for c in fr["cities"]]
    assert len(names) >= 30 and "Paris" in names and "Marseille" in names
    folded = [fold(n.split(" (")[0]) for n in names]
    assert len(folded) == len(set(folded)), sorted(n for n in folded if folded.count(n) > 1)
    assert not [n for n in names if n.endswith("(2018)")]
    paris = next(c for c in fr["cities"] if c["name"] == "Paris")
    assert {o["name"] for o in paris["operators"]} == {"Orange", "SFR", "Bouygues", "Free"}


@pytest.mark.parametrize("country,city,operator", [
    ("FR", "Orléans", "Orange"), ("fr", "orleans", "ORANGE"), ("France", "ORLEANS", "orange"), ("FR", " Orléans ", "Orange"),
])
def test_names_resolve_regardless_of_accents_case_and_spaces(country, city, operator):
    assert resolve(country, city, operator) == ("FR", "Orléans", "Orange")


def test_hyphens_and_previous_names_resolve():
    assert resolve("FR", "saint etienne", "sfr") == ("FR", "Saint-Étienne", "SFR")
    # the 2018 commune scenes of published figures stay reachable, unlisted
    assert resolve("FR", "orleans (2018)", "free") == ("FR", "Orléans (2018)", "Free")
    assert resolve("uk", "bristol", "ee")[0] == "GB"


def test_unknown_names_are_one_clear_error_naming_the_parameter():
    with pytest.raises(InputError) as e:
        resolve("FR", "Atlantis", "Orange")
    assert e.value.column == "city" and "Paris" in str(e.value)
    with pytest.raises(InputError) as e:
        resolve("FR", "Paris", "Proximus")
    assert e.value.column == "operator" and "Orange" in str(e.value)


def test_belgium_is_offered_honestly():
    be = _country("BE")
    assert [c["name"] for c in be["cities"]] == ["Brussels"]
    assert be["cities"][0]["operators"] == [] and "no public site list" in be["cities"][0]["source"]
    with pytest.raises(InputError, match="no bundled sites"):
        resolve("BE", "Brussels", "Proximus")


def test_a_national_city_scene_is_the_sites_within_the_radius_clipped_to_the_country():
    sc = open_scenario("FR", "Paris", "Orange")
    centre = sc.city_region.metric.centroid  # the disc lies inland: its centroid is the GeoNames centre
    d = np.hypot(sc.deployment.x[sc.targets] - centre.x, sc.deployment.y[sc.targets] - centre.y)
    assert len(sc.targets) > 500 and d.max() <= CITY_RADIUS_M + 1
    others = np.setdiff1d(np.arange(len(sc.deployment)), sc.targets)
    d_out = np.hypot(sc.deployment.x[others] - centre.x, sc.deployment.y[others] - centre.y)
    assert d_out.min() > CITY_RADIUS_M - 1  # every site of the disc is a target
    # a coastal city is clipped to the land
    marseille = find_city("FR", "Marseille")
    region = cat_mod.city_region("FR", marseille[1]["name"])
    assert region.metric.area < 0.9 * np.pi * CITY_RADIUS_M**2
    assert shapely.within(region.metric, cat_mod.country_region("FR").metric.buffer(1.0))


def test_the_api_uses_the_same_resolver(api_client_factory=None):
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    client = TestClient(create_app())
    r = client.get("/api/sites", params={"country": "fr", "city": "orleans", "operator": "orange"})
    assert r.status_code == 200 and len(r.json()["features"]) > 100
