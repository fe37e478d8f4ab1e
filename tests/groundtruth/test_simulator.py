import numpy as np
import pytest

from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.metrics import radius_of_mass
from deepmend.registry import make_model

from gt_synth import X0, Y0, cluster, grid_around, scene


def test_registered():
    assert isinstance(make_model("groundtruth"), GroundTruthSimulator)


def test_seeded_determinism(fast_config):
    sc = scene(cluster(4), targets=[0])
    a = GroundTruthSimulator(fast_config, use_cache=False).fit(sc).predict(0)
    b = GroundTruthSimulator(fast_config, use_cache=False).fit(sc).predict(0)
    c = GroundTruthSimulator(fast_config.with_(seed=7), use_cache=False).fit(sc).predict(0)
    np.testing.assert_array_equal(a.prob, b.prob)
    assert not np.allclose(a.prob, c.prob)
    assert a.meta["params"]["seed"] == 0 and a.meta["site"]["scenario"]


def test_sums_to_one_and_zero_outside_mask():
    sc = scene(cluster(4), targets=[0, 3], half=15_000.0)  # region smaller than the window
    model = GroundTruthSimulator(SimulatorConfig(), use_cache=False).fit(sc)  # population prior
    for i in (0, 3):
        m = model.predict(i)
        assert (~m.mask).any()
        assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1.0) < 1e-5
        assert not m.prob[~m.mask].any()
        assert np.isfinite(m.prob).all() and (m.prob >= 0).all()


def test_lone_omni_site_is_rotation_symmetric():
    far = [(X0, Y0), (X0 + 200_000.0, Y0), (X0, Y0 + 200_000.0)]
    cfg = SimulatorConfig(prior="uniform", sectors=0, shadow_sigma_db=0.0, streak_sigma_db=0.0, terrain_sigma_db=0.0, los="expected")
    m = GroundTruthSimulator(cfg, use_cache=False).fit(scene(far, targets=[0])).predict(0)
    p = m.lattice_prob[1:, 1:].astype(np.float64)  # lattice cells 1..599 are symmetric about the site's cell 300
    np.testing.assert_allclose(p, np.rot90(p), rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(p, p.T, rtol=1e-4, atol=1e-12)


def test_terrain_elongates_a_lone_site_and_is_seeded():
    """The directional terrain gain is what gives maps their elongation (issue 8's anisotropy)."""
    from deepmend.metrics import anisotropy

    far = [(X0, Y0), (X0 + 200_000.0, Y0), (X0, Y0 + 200_000.0)]
    flat = SimulatorConfig(prior="uniform", sectors=0, shadow_sigma_db=0.0, streak_sigma_db=0.0, terrain_sigma_db=0.0, los="expected")
    hilly = flat.with_(terrain_sigma_db=6.0)
    sc = scene(far, targets=[0])
    a = GroundTruthSimulator(hilly, use_cache=False).fit(sc).predict(0).prob
    b = GroundTruthSimulator(hilly, use_cache=False).fit(sc).predict(0).prob
    np.testing.assert_array_equal(a, b)
    round_ = GroundTruthSimulator(flat, use_cache=False).fit(sc).predict(0).prob
    assert anisotropy(round_) < 1.01 < 1.1 < anisotropy(a)


def test_map_widens_without_neighbours(fast_config):
    # one area type for both scenes, so only the neighbours differ; a region the grid covers
    cfg = fast_config.with_(suburban_sites_per_km2=0.0, urban_sites_per_km2=1e9, temperature_db=3.0, shadow_sigma_db=0.0, streak_sigma_db=0.0)
    xy = grid_around(2, 3000.0)
    dense = GroundTruthSimulator(cfg, use_cache=False).fit(scene(xy, targets=[0], half=8000.0)).predict(0)
    lone = GroundTruthSimulator(cfg, use_cache=False).fit(scene(xy[:3], targets=[0], half=8000.0)).predict(0)
    rc = (300.5, 300.5)
    assert radius_of_mass(lone.lattice_prob, rc, 0.9) > 1.3 * radius_of_mass(dense.lattice_prob, rc, 0.9)


def test_cache_reused(fast_config):
    sc = scene(cluster(3), targets=[0])
    a = GroundTruthSimulator(fast_config).fit(sc)
    b = GroundTruthSimulator(fast_config).fit(sc)
    assert not a.from_cache_ and b.from_cache_
    np.testing.assert_array_equal(a.predict(0).prob, b.predict(0).prob)


def test_bad_parameter_is_input_error():
    from deepmend.errors import InputError

    with pytest.raises(InputError, match="temperature_db"):
        SimulatorConfig(temperature_db=-1)
    with pytest.raises(InputError, match="unknown simulator parameter"):
        SimulatorConfig().with_(nope=1)
