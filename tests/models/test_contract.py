"""Every registered model through the same contract checks (like scikit-learn's ``parametrize_with_checks``).

The contract (docs/ARCHITECTURE.md, :mod:`deepmend.models.base`): the constructor only
stores parameters; ``get_params``/``set_params``/``clone`` round-trip; fitted state lives
in trailing-underscore attributes; ``predict`` before ``fit`` raises scikit-learn's
``NotFittedError`` naming the model; a fitted model's maps are probabilities; the cache
token needs no fit; concurrent first use of a model (cold shared-resource cache) is safe.

Made to fail once each: a constructor that loaded the weights (the old DeepMENDModel)
fails ``test_constructor_only_stores_parameters`` (``net``/``config`` attributes appear);
removing ``check_fitted`` from ``DiffusionModel.predict`` fails ``test_predict_before_fit``
(an AttributeError about ``scene_``); dropping ``_EXPORT_LOCK`` and the single flight in
``onnx_bytes`` made ``test_concurrent_first_use`` fail with torch's
``GLOBALS.in_onnx_export`` assertion on the first runs.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from deepmend.errors import InputError
from deepmend.groundtruth.config import SimulatorConfig
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.registry import MODELS, build_model, make_model
from deepmend.resources import SHARED

NAMES = sorted(MODELS)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


def cheap(name: str, scene):
    """A registered model with parameters cheap enough for a unit test, fitted-ready.

    Only parameters change (through ``set_params``), never the code path: VoronoiBoost
    gets a regressor trained on this scene's own rows (its default trains on 7 cities).
    """
    m = build_model(name)
    if name == "teacher":
        m.set_params(ground_truth=ProbabilisticModel(2.0), alphas=(1.0, 2.0, 3.0))
    elif name == "groundtruth":
        m.set_params(config=SimulatorConfig(prior="uniform"), use_cache=False, n_jobs=2)
    elif name == "voronoiboost":
        from deepmend.models.voronoiboost import training_rows

        truth = ProbabilisticModel(2.0).fit(scene)
        f, s = training_rows(scene, truth, scene.targets)
        m.train(f, s, ["Synthetic"])
    elif name == "deepmend":
        # weights without a shipped graph: the ONNX export runs (the path that raced)
        from deepmend.models.deepmend import DEFAULT_WEIGHTS

        m.set_params(runtime="onnx", weights=str(DEFAULT_WEIGHTS.with_name("deepmend_softlabels.json")))
    return m


@pytest.mark.parametrize("name", NAMES)
def test_constructor_only_stores_parameters(name):
    cls = MODELS[name]
    m = cls()
    params = m.get_params(deep=False)
    assert set(vars(m)) == set(params), f"{cls.__name__}.__init__ sets more than its parameters: {sorted(set(vars(m)) - set(params))}"
    assert not [k for k in vars(m) if k.endswith("_")]
    assert all(params[k] is getattr(m, k) for k in params)


@pytest.mark.parametrize("name", NAMES)
def test_get_set_params_and_clone(name):
    m = build_model(name)
    c = clone(m)  # sklearn checks that every parameter survives construction unchanged
    assert type(c) is type(m) and c is not m
    assert c.get_params(deep=False).keys() == m.get_params(deep=False).keys()
    key = next(iter(m.get_params(deep=False)), None)
    if key is not None:
        assert m.set_params(**{key: m.get_params(deep=False)[key]}) is m
    assert repr(m).startswith(type(m).__name__)


@pytest.mark.parametrize("name", NAMES)
def test_predict_before_fit_names_the_model(name):
    m = build_model(name)
    with pytest.raises(NotFittedError, match=type(m).__name__):
        m.predict(0)
    with pytest.raises(NotFittedError, match=type(m).__name__):
        next(iter(m.predict_many([0])))


@pytest.mark.parametrize("name", NAMES)
def test_cache_token_needs_no_fit(name):
    m = build_model(name)
    t = m.cache_token()
    assert isinstance(t, str) and t == build_model(name).cache_token()
    assert not [k for k in vars(m) if k.endswith("_")]


def test_bad_parameters_fail_at_validate_not_at_construction(tmp_path):
    m = build_model("deepmend", weights=str(tmp_path / "nowhere.json"))  # free, never fails
    with pytest.raises(InputError, match="nowhere"):
        m.validate()
    with pytest.raises(InputError, match="nowhere"):
        m.fit(None)
    with pytest.raises(InputError, match="nowhere"):
        make_model("deepmend", weights=str(tmp_path / "nowhere.json"))
    with pytest.raises(InputError, match="alpha"):
        make_model("probabilistic", alpha=-1)


@pytest.mark.parametrize("name", NAMES)
def test_fitted_maps_are_probabilities(name, small_scene):
    m = cheap(name, small_scene).fit(small_scene)
    fitted = [k for k in vars(m) if k.endswith("_")]
    assert "scene_" in fitted
    maps = list(m.predict_many(small_scene.targets[:2]))
    assert len(maps) == 2
    for dm in maps:
        assert dm.model == name and dm.prob.dtype == np.float32 and dm.prob.shape == dm.mask.shape
        assert abs(float(dm.prob[dm.mask].sum(dtype=np.float64)) - 1) < 1e-5
        assert (dm.prob >= 0).all() and (dm.prob[~dm.mask] == 0).all()
    np.testing.assert_array_equal(m.predict(int(small_scene.targets[0])).prob, maps[0].prob)


@pytest.mark.parametrize("name", NAMES)
def test_concurrent_first_use(name, small_scene):
    """8 threads fit and predict the same model at once on a cold shared-resource cache."""
    SHARED.clear()
    site = int(small_scene.targets[1])
    out, errors = [None] * 8, []
    start = threading.Barrier(8)

    def work(k: int) -> None:
        try:
            m = cheap(name, small_scene)
            start.wait()
            out[k] = m.fit(small_scene).predict(site).prob
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for p in out[1:]:
        np.testing.assert_array_equal(p, out[0])
