"""The shipped VoronoiBoost regressor: recipe, checksum refusal, trusted types, reproducibility, single flight, API.

Made to fail once each (then restored):
* ``test_tampered_regressor_is_refused``: with the checksum comparison in ``_verified`` removed,
  the flipped byte went unnoticed (skops loaded the tampered archive, or failed with a
  zipfile error instead of the checksum line).
* ``test_untrusted_type_is_refused_even_with_a_matching_checksum``: with ``trusted=`` given
  the file's own untrusted types (``get_untrusted_types``) instead of :data:`TRUSTED_TYPES`,
  ``posix.system`` was loaded.
* ``test_shipped_regressor_equals_one_retrained_on_its_table``: with ``learning_rate`` 0.05
  → 0.06 in ``HYPERPARAMETERS`` the predictions differ.
* ``test_concurrent_first_loads_build_once`` / ``test_concurrent_training_on_request_builds_once``:
  with ``once(...)`` replaced by a direct call in ``load_shipped`` / ``_fit``, 8 loads / 8 tables.
* ``test_api_metrics_row_filled_on_first_request_without_training``: with
  ``VoronoiBoostModel.fits_quickly`` returning False (the old path), the first answer had
  ``baselines.voronoiboost`` null and ``incomplete`` true.
"""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.models import voronoiboost as vb
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.registry import make_model
from deepmend.resources import SHARED
from deepmend.scene_spec import city_key


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


def _copy_shipped(tmp_path):
    man = json.loads(vb.SHIPPED_MANIFEST.read_text())
    for name in (vb.SHIPPED_MANIFEST.name, man["regressor"]["file"], man["table"]["file"]):
        shutil.copy(vb.SHIPPED_MANIFEST.parent / name, tmp_path / name)
    return tmp_path / vb.SHIPPED_MANIFEST.name, man


def test_shipped_recipe_is_small_and_never_saw_a_test_city():
    man, js = vb.read_manifest()
    scenes = [tuple(s) for s in man["training"]["scenes"]]
    assert scenes == list(vb.SHIPPED_TRAIN)
    held = {city_key(c) for c in vb.HELD_OUT_CITIES}
    assert held == {"orleans", "le mans", "rennes", "nantes"}
    assert not [s for s in scenes if city_key(s[1]) in held]
    for entry in (man["regressor"], man["table"]):
        f = js.parent / entry["file"]
        assert f.stat().st_size < 3_000_000
        assert vb.sha256_file(f) == entry["sha256"]
    assert man["training"]["seed"] == 0 and man["training"]["n_per_scene"] == vb.DEFAULT_SITES_PER_SCENE


def test_tampered_regressor_is_refused(tmp_path):
    js, man = _copy_shipped(tmp_path)
    f = tmp_path / man["regressor"]["file"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(InputError, match="checksum mismatch") as err:
        vb.load_shipped(js)
    assert err.value.file == str(f)
    with pytest.raises(InputError, match="checksum mismatch"):
        make_model("voronoiboost", weights=str(js))  # refused before any work
    t = tmp_path / man["table"]["file"]
    t.write_bytes(t.read_bytes() + b"\0")
    with pytest.raises(InputError, match="checksum mismatch"):
        vb.load_shipped_table(js)


def test_untrusted_type_is_refused_even_with_a_matching_checksum(tmp_path):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    js, man = _copy_shipped(tmp_path)
    f = tmp_path / man["regressor"]["file"]
    sio.dump(FunctionTransformer(func=os.system), f)  # what a hostile file would hold
    man["regressor"]["sha256"] = vb.sha256_file(f)
    js.write_text(json.dumps(man))
    with pytest.raises(InputError, match="outside the trusted list"):
        vb.load_shipped(js)


def test_manifest_of_other_features_is_refused(tmp_path):
    js, man = _copy_shipped(tmp_path)
    man["features_version"] = vb.FEATURES_VERSION + 1
    js.write_text(json.dumps(man))
    with pytest.raises(InputError, match="incompatible"):
        make_model("voronoiboost", weights=str(js))


def test_shipped_regressor_equals_one_retrained_on_its_table():
    """Same data (the shipped table), same recipe (hyper-parameters, seed): the same predictions."""
    reg, _ = vb.load_shipped()
    f, s = vb.load_shipped_table()
    again = vb.fit_regressor(f, s)
    x, _ = vb.long_table(f, s)
    np.testing.assert_array_equal(reg.predict(x), again.predict(x))
    assert np.array_equal(vb.predict_scales(reg, f), vb.predict_scales(again, f))


@pytest.mark.slow
def test_shipped_table_is_reproduced_from_the_simulator():
    """The first training scene's rows, recomputed from the default simulator, equal the shipped table's."""
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    f, s = vb.load_shipped_table()
    spec = vb.SHIPPED_TRAIN[0]
    f1, s1 = vb.training_table([spec], GroundTruthSimulator(), n_per_scene=vb.DEFAULT_SITES_PER_SCENE, seed=0, use_cache=False, progress=False)
    np.testing.assert_allclose(f1, f[: len(f1)], rtol=1e-9)
    np.testing.assert_allclose(s1, s[: len(s1)], rtol=1e-6)


def test_shipped_model_fits_without_training(small_scene, monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("the shipped regressor must not train")

    monkeypatch.setattr(vb, "training_table", no_training)
    m = make_model("voronoiboost").fit(small_scene)
    assert m.fits_quickly() and m.params()["sha256"] and m.params()["in_sample"] is False
    assert sorted(m.params()["trained_on"]) == sorted({city_key(s[1]) for s in vb.SHIPPED_TRAIN})
    p = m.predict(int(small_scene.targets[0]))
    assert abs(float(p.prob.sum(dtype=np.float64)) - 1) < 1e-5
    assert m.cache_token() == make_model("voronoiboost").cache_token()
    assert m.cache_token() != make_model("voronoiboost", train_specs=[("FR", "Lyon", "Orange")]).cache_token()


def _threads(n, fn):
    barrier = threading.Barrier(n)
    out, errors = [None] * n, []

    def run(k):
        try:
            barrier.wait()
            out[k] = fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    return out


def test_concurrent_first_loads_build_once(monkeypatch):
    man, js = vb.read_manifest()
    SHARED.discard(("voronoiboost-shipped", man["regressor"]["sha256"], str(js.resolve())))
    calls = []
    real = vb._load_regressor

    def counting(*a, **k):
        calls.append(threading.get_ident())
        return real(*a, **k)

    monkeypatch.setattr(vb, "_load_regressor", counting)
    got = _threads(8, lambda: vb.load_shipped()[0])
    assert len(calls) == 1
    assert all(g is got[0] for g in got)


def test_concurrent_training_on_request_builds_once(small_scene, monkeypatch):
    """8 threads fit VoronoiBoost trained on request with identical parameters: one table, one regressor."""
    tables, fits = [], []
    real_rows, real_fit = vb.training_rows, vb.fit_regressor

    def rows(*a, **k):
        tables.append(1)
        return real_rows(*a, **k)

    def fit(*a, **k):
        fits.append(1)
        return real_fit(*a, **k)

    monkeypatch.setattr(vb, "training_rows", rows)
    monkeypatch.setattr(vb, "fit_regressor", fit)
    spec = [("FR", "Lyon", "Orange")]
    models = _threads(8, lambda: vb.VoronoiBoostModel(train_specs=spec, n_per_scene=4, ground_truth=ProbabilisticModel(2.0)).fit(small_scene))
    assert len(tables) == 1 and len(fits) == 1
    assert all(m.regressor_ is models[0].regressor_ for m in models)
    assert models[0].train_cities_ == {"lyon"} and models[0].fits_quickly() is False


def test_api_metrics_row_filled_on_first_request_without_training(tmp_path, api_service, monkeypatch):
    """The real service with the real VoronoiBoost: its metrics row is filled in the first answer, nothing trains."""
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    def no_training(*a, **k):
        raise AssertionError("the shipped regressor must not train")

    monkeypatch.setattr(vb, "training_table", no_training)
    svc = api_service(cache_root=tmp_path / "cache")
    svc.registry["voronoiboost"] = vb.VoronoiBoostModel
    with TestClient(create_app(static_dir=tmp_path / "none", service=svc), raise_server_exceptions=False) as c:
        up = c.post("/api/uploads", files={"file": ("s.csv", b"site_id,lat,lon\nA,45.76,4.84\nB,45.70,4.90\nC,45.80,4.95\nD,45.72,4.78\nE,45.75,4.70\n")})
        assert up.status_code == 200, up.text
        params = {"country": "upload", "city": up.json()["upload_id"], "operator": "all", "site": "A"}
        r = c.get("/api/metrics", params={**params, "model": "voronoi"})
        assert r.status_code == 200, r.text
        m = r.json()
        assert m["incomplete"] is False
        row = m["baselines"]["voronoiboost"]
        assert row is not None and all(0 <= row[k] for k in ("ks", "emd_km", "js")) and row["ks"] <= 1
        assert m["gain_over"]["voronoiboost"] is not None
        r = c.get("/api/map", params={**params, "model": "voronoiboost"})
        assert r.status_code == 200, r.text
        assert r.json()["params"]["in_sample"] is False
