"""The fast normaliser of the probabilistic model against the exact sum, within its stated bound."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.models.probabilistic import ProbabilisticModel, denominators, denominators_fast


@pytest.mark.parametrize("alpha, k", [(1.3, 4), (2.0, 4), (3.0, 4), (5.0, 7)])  # α ≤ 4: FFT far field; above: K nearest only
def test_fast_normaliser_within_its_bound(small_scene, alpha, k):
    exact = denominators(small_scene, np.array([alpha]))[0]
    fast, eps = denominators_fast(small_scene, alpha, k=k)
    m = small_scene.mask
    assert (fast[~m] == 0).all() and np.isfinite(eps[m]).all()
    rel = np.abs(fast[m] / exact[m] - 1.0)
    assert (rel <= eps[m] + 1e-6).all(), (rel.max(), eps[m].max())  # 1e-6: the exact code reads float32 distances
    assert rel.max() < 0.05 and eps[m].max() < 0.5  # and the bound is not vacuous here


def test_fast_model_maps_close_to_exact(small_scene, monkeypatch):
    from deepmend.models import probabilistic

    monkeypatch.setattr(probabilistic, "FAST_K", 4)  # 9 sites: the default K would sum them all exactly
    ex = ProbabilisticModel(1.3).fit(small_scene)
    fa = ProbabilisticModel(1.3, normaliser="fast").fit(small_scene)
    assert 0 < fa.normaliser_error_ < 0.2
    for i in small_scene.targets[:3]:
        a, b = ex.predict(int(i)).prob, fa.predict(int(i)).prob
        assert np.abs(a - b).sum() <= 2.5 * fa.normaliser_error_ + 1e-5
