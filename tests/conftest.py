"""Shared fixtures: small synthetic scenes and batch jobs in a real metric CRS (tests/synthetic.py), the bundled Lyon
scene, the API app of tests/api and tests/hardening."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.data.deployment import Deployment
from deepmend.models.probabilistic import ProbabilisticModel
from synthetic import X0, Y0, box_region, make_deployment, square_region  # tests/synthetic.py (tests/ is on sys.path)


@pytest.fixture
def small_deployment() -> Deployment:
    rng = np.random.default_rng(7)
    xy = np.column_stack([X0 + rng.uniform(-12_000, 12_000, 9), Y0 + rng.uniform(-12_000, 12_000, 9)])
    return make_deployment(xy)


@pytest.fixture
def small_scene(small_deployment):
    from deepmend.scene import Scene

    return Scene(small_deployment, square_region())


@pytest.fixture(scope="session")
def lyon_scene():
    from deepmend.scene import Scene

    return Scene.from_catalog("FR", "Lyon", "Orange")


@pytest.fixture
def grid_job():
    """16 sites on a jittered 4×4 grid (6 km spacing), mask a 40 km square: several tiles with max_sites=4."""
    from deepmend.engine.job import Job

    rng = np.random.default_rng(3)
    g = np.arange(4) * 6_000.0 - 9_000.0
    gx, gy = np.meshgrid(g, g)
    xy = np.column_stack([X0 + gx.ravel() + rng.uniform(-900, 900, 16), Y0 + gy.ravel() + rng.uniform(-900, 900, 16)])
    return Job("grid", make_deployment(xy, "grid"), box_region(X0 - 20_000, Y0 - 20_000, X0 + 20_000, Y0 + 20_000), np.arange(16))


@pytest.fixture
def two_site_job():
    """A and B split a 10 km box at x = X0 (west/east halves); C lies 50 km north, outside the mask."""
    from deepmend.engine.job import Job

    xy = np.array([[X0 - 2_500.0, Y0 - 2_500.0], [X0 + 2_500.0, Y0 - 2_500.0], [X0, Y0 + 50_000.0]])
    return Job("two", make_deployment(xy, "two"), box_region(X0 - 5_000, Y0 - 5_000, X0 + 5_000, Y0 + 5_000), np.array([0, 1]))


# --- no process left behind ----------------------------------------------------------

#: Children the interpreter itself keeps until it exits (multiprocessing's helpers).
_INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _leftovers(me, ignore: set[int]) -> list:
    import psutil

    out = []
    for p in me.children(recursive=True):
        try:
            if p.pid in ignore or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(h in " ".join(p.cmdline()) for h in _INTERPRETER_HELPERS):
                continue
        except psutil.NoSuchProcess:
            continue
        out.append(p)
    return out


@pytest.fixture(autouse=True, scope="session")
def _no_leftover_processes():
    """Fail the run when the test session leaves a child process behind (a server, a worker …).

    Children still running 10 s after the last test are listed in the failure, then killed so
    that they do not outlive the run either.
    """
    import time

    import psutil

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 10
    left = _leftovers(me, before)
    while left and time.monotonic() < deadline:
        time.sleep(0.25)
        left = _leftovers(me, before)
    if left:
        desc = "; ".join(f"pid {p.pid}: {' '.join(p.cmdline())[:120]}" for p in left if p.is_running())
        for p in left:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        pytest.fail(f"the test session left {len(left)} process(es) running (killed now): {desc}", pytrace=False)


# --- the API app shared by tests/api and tests/hardening ---------------------------

#: Starlette's TestClient sends ``Host: testserver``; the API's Host allow-list
#: (deepmend/api/security.py) accepts it in tests only, through this variable.
TEST_HOST = "testserver"


@pytest.fixture(autouse=True, scope="session")
def _test_client_host():
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPMEND_ALLOWED_HOSTS", TEST_HOST)
    yield
    mp.undo()


class FakeGroundTruth(ProbabilisticModel):
    """The real simulator needs minutes per city; API tests need a cheap, distinct "truth"."""

    name = "groundtruth"
    label = "Ground truth (test stand-in)"
    description = "probabilistic model with α = 3, standing in for the simulator in tests"

    def __init__(self, alpha: float = 3.0) -> None:
        super().__init__(alpha=alpha)


def api_models() -> dict:
    """The models the API tests serve, injected into their service (no global is patched).

    The stand-in ground truth, and no trained models (VoronoiBoost, teacher, DeepMEND are
    tested by their owners and by the slow concurrency test).
    """
    from deepmend.models.voronoi import VoronoiModel

    return {"voronoi": VoronoiModel, "probabilistic": ProbabilisticModel, "groundtruth": FakeGroundTruth}


def _api_service(**kw):
    from deepmend.api.service import Service

    return Service(models=api_models(), **kw)


@pytest.fixture(scope="session")
def api_service():
    """Factory of services over :func:`api_models` (keyword arguments go to :class:`Service`)."""
    return _api_service


@pytest.fixture(scope="session")
def api_env(tmp_path_factory):
    """A private cache dir for the API app, for the whole session."""
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("api-cache")
    mp.setenv("DEEPMEND_CACHE_DIR", str(cache))
    yield cache
    mp.undo()


@pytest.fixture(scope="session")
def app(api_env, api_service):
    from deepmend.api.app import create_app

    return create_app(static_dir=api_env / "no-web-app", service=api_service())


@pytest.fixture(scope="session")
def service(app):
    return app.state.service


@pytest.fixture(scope="session")
def client(app):
    """Server exceptions are NOT re-raised: a 500 shows up as a status the tests assert against."""
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def small_upload(client):
    """The scene (country, city, operator) of ``api_helpers.SMALL_CSV`` uploaded to the shared app: 12 sites, two operators."""
    from api_helpers import SMALL_CSV, upload_scene

    return upload_scene(client, SMALL_CSV, "small.csv")


@pytest.fixture
def private_api(tmp_path, api_service, monkeypatch):
    """Factory of an app on its own service and cache dir (``tmp_path/cache``): ``make(models={…}, **service_kw)``
    → ``(service, TestClient)``; ``models`` replace or add registry entries. Clients close at teardown."""
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    clients = []

    def make(models: dict | None = None, **kw):
        monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))
        svc = api_service(cache_root=tmp_path / "cache", **kw)
        svc.registry.update(models or {})
        c = TestClient(create_app(static_dir=tmp_path / "none", service=svc), raise_server_exceptions=False)
        clients.append(c.__enter__())
        return svc, c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
