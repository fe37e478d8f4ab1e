"""The offline basemap's data: place names, the 1:10m outline with admin areas, the population layer."""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient

from deepmend.api.app import create_app
from deepmend.data.catalog import country_region


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_places_are_named_populous_and_on_the_countrys_land(client):
    body = client.get("/api/places", params={"country": "ireland"}).json()
    assert body["country"] == "IE"
    names = [p["name"] for p in body["places"]]
    assert names[0] == "Dublin" and "Cork" in names
    pops = [p["population"] for p in body["places"]]
    assert pops == sorted(pops, reverse=True) and min(pops) >= 15000
    land = country_region("IE").geometry
    assert all(shapely.contains_xy(land, p["lon"], p["lat"]) for p in body["places"])


def test_outlines_hold_the_detailed_country_and_admin_areas(client):
    fc = client.get("/api/outlines", params={"country": "IE"}).json()
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds == ["country", "admin"]  # the outline and Dublin (its postal districts as one area)
    gb = client.get("/api/outlines", params={"country": "GB"}).json()
    assert sum(f["properties"]["kind"] == "admin" for f in gb["features"]) > 300  # every LAD


def test_population_layer_and_unknown_country(client):
    fc = client.get("/api/population", params={"country": "BE"}).json()
    assert len(fc["features"]) > 100 and all(f["properties"]["density_per_km2"] >= 0 for f in fc["features"])
    # France's grid has cells without a WorldPop value (NaN in the CSV): left out, never a 500 on invalid JSON
    r = client.get("/api/population", params={"country": "FR"})
    assert r.status_code == 200, r.text
    dens = [f["properties"]["density_per_km2"] for f in r.json()["features"]]
    assert len(dens) > 5000 and all(isinstance(d, float) and d >= 0 for d in dens)
    r = client.get("/api/places", params={"country": "Atlantis"})
    assert r.status_code == 404 and "country" in r.json()["error"]


def test_basemap_resolves_country_names_as_every_command_does(client):
    """One resolver (``catalog.find_country``): 'uk' is GB here as for ``deepmend predict``.

    Made to fail once with the API's former own country matching (code or name only): 'uk'
    answered 404 "unknown city for GB".
    """
    from deepmend.data.catalog import find_city

    assert find_city("uk", "London")[0]["code"] == "GB"
    for name in ("uk", "United Kingdom", "gb"):
        r = client.get("/api/places", params={"country": name})
        assert r.status_code == 200 and r.json()["country"] == "GB", (name, r.text)
