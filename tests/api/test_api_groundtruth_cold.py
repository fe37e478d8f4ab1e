"""The ground truth's first maps of a cold city: the per-BS path, two at once, then the whole city in the background.

Real simulator (version 3), real service and build pools, a small uploaded city. Two first
requests for two BSs at once each take the per-BS path (D and the prior on their window only),
share one (cheap) fit, start the whole-deployment fit once in the background without waiting
for it, and answer the same maps as the whole-deployment fit.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.registry import MODELS

SITES = "site_id,operator,lat,lon\n" + "\n".join(
    f"C{k},Op,{45.70 + 0.025 * (k % 4) + 0.004 * (k // 4):.4f},{4.78 + 0.03 * (k // 4) + 0.005 * (k % 4):.4f}" for k in range(12)) + "\n"


@pytest.fixture
def service(tmp_path, monkeypatch):
    from deepmend.api.service import Service
    from deepmend.resources import SHARED

    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))
    SHARED.clear()
    svc = Service(models=dict(MODELS), cache_root=tmp_path / "cache")
    svc.start()
    yield svc
    svc.shutdown()


def test_two_first_requests_of_a_cold_city_take_the_per_bs_path_and_match_the_whole_fit(service):
    up = service.upload(SITES.encode(), "sites.csv")
    city = up["upload_id"]
    with ThreadPoolExecutor(2) as ex:
        a, b = ex.map(lambda s: service.get_map("upload", city, "all", s, "groundtruth"), ["C1", "C9"])
    assert not a.cached and not b.cached
    assert a.map.meta["per_bs_path"] and b.map.meta["per_bs_path"]  # nobody waited for the whole city
    ref = a.ref
    fitted = service.fitted(ref, "groundtruth")
    assert service.models.computed >= 1
    deadline = time.monotonic() + 600  # the whole-deployment fit runs in the background, once
    while not fitted.deployment_fitted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fitted.deployment_fitted
    scene = service.scene(ref)
    full = GroundTruthSimulator().fit(scene)  # reads the disk cache the background fit wrote
    assert full.from_cache_
    for res in (a, b):
        i = scene.deployment.index_of(res.site_id)
        np.testing.assert_allclose(res.map.prob, full.predict(i).prob, rtol=2e-5, atol=1e-12)
    c = service.get_map("upload", city, "all", "C5", "groundtruth")
    assert not c.map.meta["per_bs_path"]  # after it, maps are slices of the city's products
    np.testing.assert_allclose(c.map.prob, full.predict(scene.deployment.index_of("C5")).prob, rtol=2e-5, atol=1e-12)
