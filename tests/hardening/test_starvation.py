"""Cheap requests are answered while every request slot waits on a ground-truth fit (issue 18, item 1).

A real uvicorn server on 127.0.0.1, a cold cache and a 120-site upload whose first
ground-truth fit takes seconds. Fifty requests for its ground-truth maps are sent at once —
more than anyio's 40 shared worker threads — and, while the fit still runs, ``/api/catalog``
and ``/`` must answer 200. No timed assertion: the proof is the order of events (the answers
arrive while the fit is still pending in the service's fit pool); the clients' 120 s timeout
only keeps a broken server from hanging the test.

Made to fail once by running the map endpoints in anyio's shared pool again (``heavy`` in
``deepmend/api/app.py`` returning ``fn`` unchanged): the fifty waiting requests took all 40
threads, ``/api/catalog`` was answered only after the fit had finished, and the assertion that
the fit was still running failed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api_helpers import serve_in_thread

SITES = "site_id,operator,lat,lon\n" + "\n".join(
    f"C{k},Op,{45.70 + 0.025 * (k % 4) + 0.004 * (k // 4 % 10):.4f},{4.78 + 0.03 * (k // 4) + 0.005 * (k % 4):.4f}" for k in range(120)) + "\n"


@pytest.fixture
def served(tmp_path, monkeypatch):
    from deepmend.api.app import create_app
    from deepmend.api.service import Service
    from deepmend.resources import SHARED

    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))
    SHARED.clear()
    svc = Service(cache_root=tmp_path / "cache", wait_s=300)
    app = create_app(static_dir=tmp_path / "none", service=svc)
    with serve_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}", svc


def test_catalog_and_index_answer_while_a_ground_truth_fit_holds_every_slot(served):
    base, svc = served
    up = httpx.post(base + "/api/uploads", files={"file": ("s.csv", SITES.encode())}, timeout=120)
    assert up.status_code == 200, up.text
    q = {"country": "upload", "city": up.json()["upload_id"], "operator": "all", "model": "groundtruth"}
    httpx.get(base + "/api/sites", params={k: q[k] for k in ("country", "city", "operator")}, timeout=120).raise_for_status()

    limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
    with httpx.Client(base_url=base, timeout=120, limits=limits) as client, ThreadPoolExecutor(50) as ex:
        waiting = [ex.submit(client.get, "/api/map", params={**q, "site": f"C{k % 120}"}) for k in range(50)]
        for _ in range(1200):  # the fit has started in the fit pool
            if svc.models._pending:
                break
            time.sleep(0.05)
        assert svc.models._pending, "the ground-truth fit did not start"
        time.sleep(1.0)  # let the fifty requests reach the server and take their threads

        with httpx.Client(base_url=base, timeout=120) as cheap:
            cat = cheap.get("/api/catalog")
            index = cheap.get("/")
        still_fitting = bool(svc.models._pending)
        answers = [f.result(300) for f in waiting]

    assert cat.status_code == 200 and cat.json()["countries"], cat.text[:300]
    assert index.status_code == 200
    assert still_fitting, "/api/catalog was answered only after the ground-truth fit had finished (starved)"
    assert all(r.status_code in (200, 503) for r in answers), sorted({r.status_code for r in answers})
    assert sum(r.status_code == 200 for r in answers) >= 1
