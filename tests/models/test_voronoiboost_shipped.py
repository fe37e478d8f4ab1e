"""The shipped VoronoiBoost regressor: recipe, checksum refusal, exact predictor, reproducibility, single flight, API.

Made to fail once each (then restored):
* ``test_tampered_regressor_is_refused``: with the checksum comparison in ``_verified`` removed,
  the tampered file was not refused with the checksum line.
* ``test_tree_ensemble_predicts_exactly_as_scikit_learn``: with ``v <= threshold`` → ``v < threshold``
  in ``TreeEnsemble.predict`` (the rows on the thresholds), or the NaN branch dropped, the predictions differ.
* ``test_shipped_regressor_equals_one_retrained_on_its_table``: with ``learning_rate`` 0.05
  → 0.06 in ``HYPERPARAMETERS`` the predictions differ.
* ``test_concurrent_first_loads_build_once`` / ``test_concurrent_training_on_request_builds_once``:
  with ``once(...)`` replaced by a direct call in ``load_shipped`` / ``_fit``, 8 loads / 8 tables.
* ``test_shipped_recipe_is_small_and_never_saw_a_test_city``: with FR/Rennes/SFR in ``SHIPPED_TRAIN``.
* ``test_manifest_of_other_features_is_refused``: with the ``features_version`` check dropped.
* ``test_inconsistent_arrays_are_refused_even_with_a_matching_checksum``: with the index check off.
* ``test_shipped_table_is_reproduced_from_the_simulator`` (slow): with ``optimal_scales``'s
  tolerance 1e-9 → 1e-3 (other scales than those shipped).
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
    for name in (vb.SHIPPED_MANIFEST.name, man["arrays"]["file"]):
        shutil.copy(vb.SHIPPED_MANIFEST.parent / name, tmp_path / name)
    return tmp_path / vb.SHIPPED_MANIFEST.name, man


def test_shipped_recipe_is_small_and_never_saw_a_test_city():
    man, js = vb.read_manifest()
    scenes = [tuple(s) for s in man["training"]["scenes"]]
    assert scenes == list(vb.SHIPPED_TRAIN)
    held = {city_key(c) for c in vb.HELD_OUT_CITIES}
    assert held == {"orleans", "le mans", "rennes", "nantes"}
    assert not [s for s in scenes if city_key(s[1]) in held]
    f = js.parent / man["arrays"]["file"]
    assert f.stat().st_size < 2_000_000
    assert vb.sha256_file(f) == man["arrays"]["sha256"]
    assert man["training"]["seed"] == 0 and man["training"]["n_per_scene"] == vb.DEFAULT_SITES_PER_SCENE
    feats, scales = vb.load_shipped_table()
    assert feats.shape == (len(scenes) * vb.DEFAULT_SITES_PER_SCENE, len(vb.FEATURE_NAMES)) and scales.shape == (len(feats), len(vb.TAUS))


def test_tampered_regressor_is_refused(tmp_path):
    js, man = _copy_shipped(tmp_path)
    f = tmp_path / man["arrays"]["file"]
    with np.load(f, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["tree_value"] = arrays["tree_value"] * 1.5  # a valid file with other trees: only the checksum tells
    with open(f, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    with pytest.raises(InputError, match="checksum mismatch") as err:
        vb.load_shipped(js)
    assert err.value.file == str(f)
    with pytest.raises(InputError, match="checksum mismatch"):
        make_model("voronoiboost", weights=str(js))  # refused before any work
    with pytest.raises(InputError, match="checksum mismatch"):
        vb.load_shipped_table(js)
    f.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="checksum mismatch"):
        vb.load_shipped(js)


def test_inconsistent_arrays_are_refused_even_with_a_matching_checksum(tmp_path):
    js, man = _copy_shipped(tmp_path)
    f = tmp_path / man["arrays"]["file"]
    with np.load(f, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["tree_left"] = arrays["tree_left"] + 10_000  # child indices out of range
    with open(f, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    man["arrays"]["sha256"] = vb.sha256_file(f)
    js.write_text(json.dumps(man))
    with pytest.raises(InputError, match="inconsistent"):
        vb.load_shipped(js)


def test_manifest_of_other_features_is_refused(tmp_path):
    js, man = _copy_shipped(tmp_path)
    man["features_version"] = vb.FEATURES_VERSION + 1
    js.write_text(json.dumps(man))
    with pytest.raises(InputError, match="incompatible"):
        make_model("voronoiboost", weights=str(js))


def test_tree_ensemble_predicts_exactly_as_scikit_learn():
    """The vectorised predictor equals HistGradientBoostingRegressor.predict bit for bit, NaN inputs included."""
    rng = np.random.default_rng(1)
    f = rng.lognormal(size=(120, len(vb.FEATURE_NAMES)))
    f[rng.random(f.shape) < 0.05] = np.nan  # missing values in training: splits learn where NaN goes
    s = np.sort(rng.lognormal(size=(120, len(vb.TAUS))), axis=1)
    reg = vb.fit_regressor(f, s)
    ens = vb.TreeEnsemble.from_sklearn(reg)
    x, _ = vb.long_table(f, s)
    x2 = np.column_stack([rng.uniform(0.2, 1, 400), rng.lognormal(size=(400, len(vb.FEATURE_NAMES)))])
    x2[rng.random(x2.shape) < 0.1] = np.nan
    x2[:, 0] = np.abs(x2[:, 0])
    inner = ~ens.is_leaf  # rows lying exactly on split thresholds (ties go left, as in scikit-learn)
    x3 = np.repeat(x[:1], int(inner.sum()), axis=0)
    x3[np.arange(len(x3)), ens.feature[inner]] = ens.threshold[inner]
    for rows in (x, x2, x3):
        np.testing.assert_array_equal(ens.predict(rows), reg.predict(rows))
    again = vb.TreeEnsemble.from_arrays(ens.arrays())
    np.testing.assert_array_equal(again.predict(x2), reg.predict(x2))


def test_shipped_regressor_equals_one_retrained_on_its_table():
    """Same data (the shipped table), same recipe (hyper-parameters, seed): the same predictions."""
    reg, _ = vb.load_shipped()
    f, s = vb.load_shipped_table()
    again = vb.fit_regressor(f, s)
    x, _ = vb.long_table(f, s)
    np.testing.assert_array_equal(reg.predict(x), again.predict(x))
    assert np.array_equal(vb.predict_scales(reg, f), vb.predict_scales(again, f))
    rng = np.random.default_rng(0)  # and off the training rows
    other = f[rng.integers(0, len(f), 200)] * rng.uniform(0.7, 1.3, (200, f.shape[1]))
    np.testing.assert_array_equal(vb.predict_scales(reg, other), vb.predict_scales(again, other))


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
    SHARED.discard(("voronoiboost-shipped", man["arrays"]["sha256"], str(js.resolve())))
    calls = []
    real = vb._load_arrays

    def counting(*a, **k):
        calls.append(threading.get_ident())
        return real(*a, **k)

    monkeypatch.setattr(vb, "_load_arrays", counting)
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
