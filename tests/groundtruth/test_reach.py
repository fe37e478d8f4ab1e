"""Simulator version 3: the per-BS path equals the whole-deployment fit, and the reach bound holds."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.simulator import RSRP_REF_DBM, GroundTruthSimulator

from gt_synth import grid_around, scene



def _city():
    """A 5×5 grid of sites 2 km apart, two far sites, and a target 28.5 km east whose window's edge cuts through the grid
    (other sites' supports and the roads between them are clipped by it: the nested fields and the padded prior are tested)."""
    from gt_synth import X0, Y0

    return scene(grid_around(2, 2000.0) + [(X0 + 28_500.0, Y0 + 700.0)], targets=[0, 3, 14, 26, 27], half=35_000.0)


def test_per_bs_path_equals_the_whole_fit():
    """A cold map (per-BS path: D and the population prior on the window only) = the map sliced from the whole fit."""
    sc = _city()
    full = GroundTruthSimulator(SimulatorConfig(), use_cache=False).fit(sc)
    assert full.deployment_fitted
    for i in (27, 0, 14):
        lazy = GroundTruthSimulator(SimulatorConfig(), use_cache=False, lazy=True).fit(sc)
        a = lazy.predict(i)
        assert a.meta["per_bs_path"] and not lazy.deployment_fitted  # nothing of the whole lattice was computed
        b = full.predict(i)
        assert not b.meta["per_bs_path"]
        np.testing.assert_allclose(a.prob, b.prob, rtol=2e-5, atol=1e-12)
        rs, cs = sc.slices(i)
        den, prior = lazy.window_products(i)
        np.testing.assert_allclose(prior, full.prior_[rs, cs], rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(den, full.denominator_[rs, cs], rtol=1e-5, atol=0)


def test_a_part_of_a_window_is_the_same_term():
    """A site's term computed on a part of its window equals that part of its whole-window term (the seeded fields are nested)."""
    sc = _city()
    m = GroundTruthSimulator(SimulatorConfig(), use_cache=False, lazy=True).fit(sc)
    whole = m.site_power(0)
    part = m.site_power(0, slice(250, 371), slice(40, 333))
    np.testing.assert_array_equal(part, whole[250:371, 40:333])


def test_outside_the_reach_a_site_is_rarely_heard_at_the_floor():
    """Beyond a site's reach its strongest sector reaches reach_floor_dbm on < 1 − Φ(k) of the cells (the documented bound)."""
    cfg = SimulatorConfig()
    sc = _city()
    m = GroundTruthSimulator(cfg, use_cache=False, lazy=True).fit(sc)
    at_floor = np.float32(np.exp((cfg.reach_floor_dbm - RSRP_REF_DBM) / cfg.temperature_db))
    shares = []
    for j in range(3, len(sc.deployment) - 1):
        term = m.site_power(j)
        sup = m.supports_[j]
        wr, wc = m._origin(j)
        outside = np.ones(term.shape, bool)
        outside[sup[0] - wr : sup[1] - wr, sup[2] - wc : sup[3] - wc] = False
        h = (sup[1] - sup[0]) // 2
        sr, sc_ = sc.site_rc(j)
        yy, xx = np.mgrid[0 : term.shape[0], 0 : term.shape[1]]
        ring = outside & (np.hypot(yy - sr, xx - sc_) <= h + 10)  # the first km beyond the support, where it is likeliest
        assert ring.sum() > 1000
        # Σ over 3 sectors ≥ 3 × the floor's term ⇒ the strongest sector is at the floor or above
        shares.append(float(np.mean(term[ring] >= 3 * at_floor)))
    assert np.mean(shares) <= ndtr(-cfg.reach_margin_sigma), shares


def test_beyond_the_reach_the_mean_field_is_the_expected_term():
    """Beyond its reach a site enters D by its mean field: Σ of its realised terms over rings ≈ Σ of the mean field (closed form)."""
    import numpy as np

    sc = _city()
    m = GroundTruthSimulator(SimulatorConfig(), use_cache=False, lazy=True).fit(sc)
    yy, xx = np.mgrid[-300:300, -300:300]
    d = np.hypot(yy, xx)
    rings = [(d > 20) & (d <= 50), (d > 50) & (d <= 100), (d > 100) & (d <= 200)]  # 2–5, 5–10, 10–20 km
    real, mean = np.zeros(len(rings)), np.zeros(len(rings))
    for j in range(3, len(sc.deployment) - 1):
        wr, wc = m._origin(j)
        t = m.site_power(j).astype(np.float64)
        mm = m._mean_on(j, wr, wr + 600, wc, wc + 600)
        real += [t[r].sum() for r in rings]
        mean += [mm[r].sum() for r in rings]
    np.testing.assert_allclose(real / mean, 1.0, atol=0.1)
