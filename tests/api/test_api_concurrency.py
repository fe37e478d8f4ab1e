"""Concurrent first requests on a cold cache: 8 at once, every model, a real uvicorn server — all 200.

Before the single-flight resources (issue 14), two first DeepMEND requests at once raced
on the ONNX export (500 ``AssertionError: GLOBALS.in_onnx_export must be True``) and first
ground-truth fits forked workers from the threaded server. Made to fail once by doing
what main did — building and fitting a fresh model in every request, outside the service's
single flight — with ``_EXPORT_LOCK`` and the single flight of ``onnx_bytes`` removed:
the deepmend case answered 500s.

Every registered model runs with its real code on a small uploaded scene; VoronoiBoost is
given one small training scene (its default trains on seven cities, minutes on 2 cores),
and DeepMEND the soft-label weights, which ship without an exported graph, so that the
first requests export it (the default weights ship theirs: ``deepmend.onnx``).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from deepmend.models.deepmend import DEFAULT_WEIGHTS, DeepMENDModel
from deepmend.models.voronoiboost import VoronoiBoostModel
from deepmend.registry import MODELS

from api_helpers import serve_in_thread, upload_scene

pytestmark = pytest.mark.slow

SITES = "site_id,operator,lat,lon\n" + "\n".join(
    f"C{k},Op,{45.70 + 0.025 * (k % 4) + 0.004 * (k // 4):.4f},{4.78 + 0.03 * (k // 4) + 0.005 * (k % 4):.4f}" for k in range(12)) + "\n"


class SmallVoronoiBoost(VoronoiBoostModel):
    """VoronoiBoost trained on one catalog scene, 8 BSs (the code path of the default, smaller)."""

    def __init__(self, train_specs=(("FR", "Le Mans", "Orange"),), n_per_scene=8, ground_truth=None) -> None:
        super().__init__(train_specs=train_specs, n_per_scene=n_per_scene, ground_truth=ground_truth)


class SoftLabelDeepMEND(DeepMENDModel):
    """DeepMEND with the soft-label weights by default (no shipped ONNX graph: exported on first use)."""

    def __init__(self, weights=str(DEFAULT_WEIGHTS.with_name("deepmend_softlabels.json")), runtime="onnx", batch_size=8, threads=None) -> None:
        super().__init__(weights=weights, runtime=runtime, batch_size=batch_size, threads=threads)


@pytest.fixture
def server(tmp_path, monkeypatch):
    from deepmend.api.app import create_app
    from deepmend.api.service import Service
    from deepmend.resources import SHARED

    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))
    SHARED.clear()  # cold: no weights, session or table from earlier tests
    models = dict(MODELS, voronoiboost=SmallVoronoiBoost, deepmend=SoftLabelDeepMEND)
    app = create_app(static_dir=tmp_path / "none", service=Service(models=models, cache_root=tmp_path / "cache"))
    with serve_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}"


#: A second city: the same layout one degree (≈ 78 km) east — its own scene, ground truth and fits.
SITES_EAST = SITES.replace(",4.", ",5.")


@pytest.mark.parametrize("model", ["voronoi", "probabilistic", "deepmend", "groundtruth", "teacher", "voronoiboost"])
def test_eight_concurrent_first_requests_all_answer_200(server, model):
    """8 first requests at once in each of two cities (16 in flight), all 200, one map per city."""
    with httpx.Client(base_url=server, timeout=600) as c:
        cities = []
        for text in (SITES, SITES_EAST):
            cities.append({**upload_scene(c, text), "site": "C5", "model": model})
        assert cities[0]["city"] != cities[1]["city"]

        def get(k):
            r = c.get("/api/map.png", params=cities[k % 2])
            return k % 2, r.status_code, (r.content if r.status_code == 200 else r.text)

        with ThreadPoolExecutor(16) as ex:
            answers = list(ex.map(get, range(16)))
        assert [s for _, s, _ in answers] == [200] * 16, [b for _, s, b in answers if s != 200][:2]
        for city in (0, 1):  # one map per city, shared by its 8 requests
            assert len({hashlib.sha256(b).hexdigest() for k, _, b in answers if k == city}) == 1
        assert answers[0][2] != answers[1][2]  # and the two cities' maps differ
        assert c.get("/api/catalog").status_code == 200
