"""The service's caches: one fit for concurrent requests, bounded LRUs, a bounded on-disk map cache."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deepmend.api.service import MapDiskCache, OnceLRU
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.grid.lattice import Window

from api_helpers import FOUR_SITES, upload_scene


def test_once_lru_computes_once_under_concurrency():
    lru = OnceLRU(4)
    calls = []
    gate = threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return object()

    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(lru.get, "k", slow) for _ in range(8)]
        time.sleep(0.2)
        gate.set()
        values = {id(f.result()[0]) for f in futs}
    assert len(calls) == 1 and len(values) == 1 and lru.computed == 1
    assert sum(1 for f in futs if f.result()[1] is False) >= 1


def test_once_lru_errors_are_not_cached():
    lru = OnceLRU(2)
    with pytest.raises(ZeroDivisionError):
        lru.get("k", lambda: 1 / 0)
    assert lru.get("k", lambda: 5) == (5, False)
    assert lru.get("k", lambda: 6) == (5, True)


def test_once_lru_is_bounded_and_lru():
    lru = OnceLRU(2)
    lru.get("a", lambda: 1)
    lru.get("b", lambda: 2)
    lru.get("a", lambda: 0)  # touch a
    lru.get("c", lambda: 3)  # evicts b
    assert lru.peek("b") is None and lru.peek("a") == 1 and len(lru) == 2


def test_concurrent_requests_share_one_fit(service):
    """8 threads ask for a not-yet-fitted model (probabilistic α=1.7): one fit, one model object."""
    ref = service.resolve("FR", "Lyon", "Orange")
    before = service.models.computed
    with ThreadPoolExecutor(8) as ex:
        models = list(ex.map(lambda _: service.fitted(ref, "probabilistic", 1.7), range(8)))
    assert len({id(m) for m in models}) == 1
    assert service.models.computed == before + 1


def test_concurrent_map_requests(client, q, sites):
    """Parallel requests for fresh maps of several sites and models all succeed and agree."""
    ids = [f["properties"]["site_id"] for f in sites[10:16]]
    jobs = [(s, m) for s in ids for m in ("voronoi", "probabilistic")] * 3
    with ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda j: client.get("/api/map.npy", params=q(site=j[0], model=j[1])), jobs))
    assert all(r.status_code == 200 for r in res)
    by_job: dict = {}
    for j, r in zip(jobs, res):
        by_job.setdefault(j, set()).add(r.content)
    assert all(len(v) == 1 for v in by_job.values())


def _map(seed: int) -> DiffusionMap:
    rng = np.random.default_rng(seed)
    p = rng.random((600, 600)).astype(np.float32)
    p /= p.sum(dtype=np.float64)
    return DiffusionMap(Window("EPSG:2154", 800_000.0, 6_500_000.0), p.astype(np.float32), np.ones((600, 600), bool), f"S{seed}", "test")


def test_disk_cache_roundtrip_and_foreign_files(tmp_path):
    cache = MapDiskCache(tmp_path, 10**9)
    dm = _map(1)
    dm.meta["cache_key"] = "k1"
    cache.put("k1", dm)
    got = cache.get("k1")
    assert got is not None and np.array_equal(got.prob, dm.prob)
    assert cache.get("k2") is None
    # a file under the right name but for another key (or corrupt) is never served
    other = _map(2)
    other.meta["cache_key"] = "zzz"
    other.save(cache.path("k3"))
    assert cache.get("k3") is None
    cache.path("k4").parent.mkdir(parents=True, exist_ok=True)
    cache.path("k4").write_bytes(b"garbage")
    assert cache.get("k4") is None


def test_disk_cache_is_bounded_lru(tmp_path):
    one = _map(0)
    one.meta["cache_key"] = "probe"
    probe = MapDiskCache(tmp_path / "probe", 10**9)
    probe.put("probe", one)
    size = probe.path("probe").stat().st_size
    cache = MapDiskCache(tmp_path / "c", int(size * 4.5))
    for k in range(4):
        dm = _map(k)
        dm.meta["cache_key"] = f"k{k}"
        cache.put(f"k{k}", dm)
        os.utime(cache.path(f"k{k}"), (1000 + k, 1000 + k))
    assert cache.get("k0") is not None  # touch k0: now the most recent
    for k in range(4, 6):
        dm = _map(k)
        dm.meta["cache_key"] = f"k{k}"
        cache.put(f"k{k}", dm)
    assert cache.total_bytes() <= size * 4.5
    assert cache.get("k5") is not None and cache.get("k1") is None and cache.get("k2") is None
    assert cache.path("k0").exists()  # recently read, kept over older entries


def test_disk_cache_concurrent_put_get(tmp_path):
    cache = MapDiskCache(tmp_path, 10**9)
    maps = {}
    for k in range(4):
        maps[k] = _map(k)
        maps[k].meta["cache_key"] = f"k{k}"

    def work(n):
        k = n % 4
        cache.put(f"k{k}", maps[k])
        got = cache.get(f"k{k}")
        return got is None or np.array_equal(got.prob, maps[k].prob)

    with ThreadPoolExecutor(8) as ex:
        assert all(ex.map(work, range(32)))
    assert not [p for p in tmp_path.rglob("*.part")]


def test_request_waiting_too_long_answers_503_with_retry_after(private_api):
    """A request waiting on a fit another request is running gets 503 + Retry-After after ``wait_s``, never hangs.

    Made to fail once by passing no timeout to the models cache in ``Maps._fitted``: the
    second request then waited for the whole fit and answered 200 after it.
    """
    from deepmend.models.voronoi import VoronoiModel

    release = threading.Event()

    class SlowVoronoi(VoronoiModel):
        def _fit(self, scene):
            release.wait(30)
            super()._fit(scene)

    svc, c = private_api(models={"voronoi": SlowVoronoi}, wait_s=0.5)
    params = {**upload_scene(c, FOUR_SITES), "site": "A", "model": "voronoi"}
    with ThreadPoolExecutor(1) as ex:
        first = ex.submit(c.get, "/api/map", params=params)
        for _ in range(100):  # the first request is fitting
            if svc.models._pending:
                break
            time.sleep(0.05)
        r = c.get("/api/map", params={**params, "site": "B"})
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "still being computed" in r.json()["error"]
        release.set()
        assert first.result(60).status_code in (200, 503)  # the leader is bounded too (test below)
    for _ in range(200):  # the fit goes on in the fit pool and lands in the cache
        if not svc.models._pending:
            break
        time.sleep(0.05)
    assert c.get("/api/map", params={**params, "site": "B"}).status_code == 200


def test_leader_past_wait_s_gets_503_and_a_later_request_the_finished_fit(private_api):
    """The request that STARTS a fit is bounded by ``wait_s`` like the ones waiting on it.

    It answers 503 + Retry-After while the fit goes on in the service's fit pool; once the
    fit is done a later request gets 200 with the map of that fit (fitted once, not again).
    Made to fail once by building the value in the caller's thread again (``OnceLRU.get``
    running ``factory`` itself for a new key instead of submitting it to the pool): the
    leader then waited for the whole fit and answered 200.
    """
    from deepmend.models.voronoi import VoronoiModel

    release = threading.Event()
    fits = []

    class SlowVoronoi(VoronoiModel):
        def _fit(self, scene):
            fits.append(threading.current_thread().name)
            release.wait(30)
            super()._fit(scene)

    svc, c = private_api(models={"voronoi": SlowVoronoi}, wait_s=1.0)
    params = {**upload_scene(c, FOUR_SITES), "site": "A", "model": "voronoi"}
    r = c.get("/api/map", params=params)  # the leader: nobody else asks for this fit
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) >= 1 and "still being computed" in r.json()["error"]
    assert fits and fits[0].startswith("deepmend-fit"), fits  # the fit runs in the service's pool, not the request's thread
    release.set()
    for _ in range(200):
        if not svc.models._pending:
            break
        time.sleep(0.05)
    r = c.get("/api/map", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["site_id"] == "A" and len(fits) == 1  # the finished fit, not a new one
    png = c.get(r.json()["png"])
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_alpha_is_quantised_so_distinct_floats_share_one_fit(service):
    """Every distinct α used to refit the model (issue 18): the API rounds it to ALPHA_STEP.
    Made to fail by removing the rounding in Maps.estimator (1.31 then keeps its own fit)."""
    from deepmend.api.maps import ALPHA_STEP

    maps = service._maps
    a, b = maps.estimator("probabilistic", 1.31), maps.estimator("probabilistic", 1.3)
    assert ALPHA_STEP == 0.05 and a.get_params()["alpha"] == 1.3
    assert a.cache_token() == b.cache_token()
    assert maps.estimator("probabilistic", 1.34).get_params()["alpha"] == 1.35


def test_a_baseline_fit_that_waited_too_long_stays_pending_then_fills(private_api):
    """VoronoiBoost's background fit can raise BusyError while a ground truth it trains on is still
    being built by another request (the server's warm-up): its metrics row must stay "incomplete"
    (the app asks again) and fill on a later request — it once stayed null ("—") for good.
    Made to fail once by recording every background-fit error as final in ``Metrics._fit_in_background``."""
    from deepmend.errors import BusyError
    from deepmend.models.probabilistic import ProbabilisticModel

    calls = []

    class FlakyBoost(ProbabilisticModel):
        name = "voronoiboost"
        label = "VoronoiBoost (test stand-in)"
        description = "fails its first fit with BusyError, then fits"

        def __init__(self, alpha: float = 2.0) -> None:
            super().__init__(alpha=alpha)

        def _fit(self, scene):
            calls.append(1)
            if len(calls) == 1:
                raise BusyError("a ground truth it trains on is still being computed")
            super()._fit(scene)

    svc, c = private_api(models={"voronoiboost": FlakyBoost}, wait_s=5.0)
    params = {**upload_scene(c, FOUR_SITES), "site": "A", "model": "voronoi"}
    seen = []
    for _ in range(200):
        r = c.get("/api/metrics", params=params)
        assert r.status_code in (200, 503), r.text
        if r.status_code == 200:
            m = r.json()
            seen.append(m.get("incomplete"))
            if m["baselines"].get("voronoiboost") is not None:
                break
            assert m.get("incomplete"), m  # not filled: must say so, never a final null
        time.sleep(0.05)
    assert m["baselines"]["voronoiboost"] is not None and len(calls) >= 2, (seen, calls)
