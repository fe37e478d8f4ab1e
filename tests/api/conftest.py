"""Fixtures of the API tests (the app, its cache and the stand-in ground truth are in tests/conftest.py).

The real ground-truth simulator needs minutes to fit a city, so the API folders use a
cheap stand-in under the name "groundtruth" and hide the trained models: the API's job
is to route, compare and cache maps, which the stand-in exercises fully.
"""

from __future__ import annotations

import pytest

from api_helpers import SCENE


@pytest.fixture(scope="session")
def sites(client):
    r = client.get("/api/sites", params=SCENE)
    assert r.status_code == 200, r.text
    return r.json()["features"]


@pytest.fixture(scope="session")
def site_id(sites):
    # a site near the centre of Lyon (Place Bellecour ≈ 4.832 E, 45.758 N)
    best = min(sites, key=lambda f: (f["properties"]["lon"] - 4.832) ** 2 + (f["properties"]["lat"] - 45.758) ** 2)
    return best["properties"]["site_id"]


@pytest.fixture
def q(site_id):
    def make(**kw):
        return {**SCENE, "site": site_id, **kw}

    return make
