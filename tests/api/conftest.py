"""Fixtures of the API tests: one app per session on a private cache dir, with the Lyon scene fitted once.

The real ground-truth simulator needs minutes to fit a city, so these tests register a
cheap stand-in under the name "groundtruth" (a probabilistic map with another α), and
hide the trained models (VoronoiBoost, teacher, DeepMEND: they train on other cities'
ground truth): the API's job is to route, compare and cache maps, which the stand-in
exercises fully.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from deepmend.models.probabilistic import ProbabilisticModel

SCENE = {"country": "FR", "city": "Lyon", "operator": "Orange"}


class FakeGroundTruth(ProbabilisticModel):
    name = "groundtruth"
    label = "Ground truth (test stand-in)"
    description = "probabilistic model with α = 3, standing in for the simulator in tests"

    def __init__(self, alpha: float = 3.0) -> None:
        super().__init__(alpha=3.0)


@pytest.fixture(autouse=True, scope="module")
def _stand_in_models():
    """The fake ground truth, and no trained models, for this folder's modules only.

    Module-scoped and undone after each module, so tests elsewhere in the same
    session see the real registry.
    """
    from deepmend.models import MODELS

    mp = pytest.MonkeyPatch()
    mp.setitem(MODELS, "groundtruth", FakeGroundTruth)
    for slow in ("voronoiboost", "teacher", "deepmend"):  # trained models: tested by their owners
        if slow in MODELS:
            mp.delitem(MODELS, slow)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def api_env(tmp_path_factory):
    """A private cache dir for the whole session."""
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("api-cache")
    mp.setenv("DEEPMEND_CACHE_DIR", str(cache))
    yield cache
    mp.undo()


@pytest.fixture(scope="session")
def app(api_env):
    from deepmend.api.app import create_app

    return create_app(static_dir=api_env / "no-web-app")


@pytest.fixture(scope="session")
def service(app):
    return app.state.service


@pytest.fixture(scope="session")
def client(app):
    """Server exceptions are NOT re-raised: a 500 shows up as a status the tests assert against."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


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
