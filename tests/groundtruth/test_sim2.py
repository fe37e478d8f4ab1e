"""The second, independent ground truth (issue 19): a distribution on the mask, near its site, seeded, and
sharing no code path with the first simulator."""

import subprocess
import sys

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.groundtruth.sim2 import ERCEG, Sim2Config, SignalDominanceSimulator, erceg_pathloss, raised_cosine_db
from deepmend.metrics import radius_of_mass

from gt_synth import cluster, scene


def test_sums_to_one_on_the_mask_and_zero_outside():
    sc = scene(cluster(4), targets=[0, 3], half=15_000.0)  # region smaller than the window
    model = SignalDominanceSimulator(use_cache=False).fit(sc)
    for i in (0, 3):
        m = model.predict(i)
        assert (~m.mask).any()
        assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1.0) < 1e-5
        assert not m.prob[~m.mask].any()
        assert np.isfinite(m.prob).all() and (m.prob >= 0).all()
        assert m.meta["params"]["model"] == "sim2" and m.meta["site"]["terrain"] in ERCEG


def test_mass_is_near_the_site():
    """Inside a 2 km grid of sites: half the mass within 3 km of the site, its own cells ten times denser than 5 km out."""
    from gt_synth import grid_around

    sc = scene(grid_around(2, 2000.0), targets=[0], half=15_000.0)
    m = SignalDominanceSimulator(use_cache=False).fit(sc).predict(0)
    rc = (300.5, 300.5)
    assert radius_of_mass(m.prob, rc, 0.5) < 3.0
    yy, xx = np.mgrid[:600, :600]
    r = np.hypot(yy - 300, xx - 300)
    assert m.prob[r < 10].mean() > 10 * m.prob[(r > 45) & (r < 55)].mean()


def test_deterministic_by_seed():
    sc = scene(cluster(4), targets=[0])
    a = SignalDominanceSimulator(use_cache=False).fit(sc).predict(0).prob
    b = SignalDominanceSimulator(use_cache=False).fit(sc).predict(0).prob
    c = SignalDominanceSimulator(Sim2Config(seed=7), use_cache=False).fit(sc).predict(0).prob
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_cache_gives_the_same_maps():
    sc = scene(cluster(3), targets=[0])
    a = SignalDominanceSimulator().fit(sc)
    b = SignalDominanceSimulator().fit(sc)
    assert not a.from_cache_ and b.from_cache_
    np.testing.assert_array_equal(a.predict(0).prob, b.predict(0).prob)


def test_neighbours_take_users_away():
    """Signal dominance: a BS with close neighbours holds its users in a smaller radius than a lone one."""
    from gt_synth import grid_around

    xy = grid_around(2, 3000.0)
    cfg = Sim2Config(builtup_floor=1e6)  # users ∝ population only, alike in both scenes
    dense = SignalDominanceSimulator(cfg, use_cache=False).fit(scene(xy, targets=[0], half=8000.0)).predict(0)
    lone = SignalDominanceSimulator(cfg, use_cache=False).fit(scene(xy[:3], targets=[0], half=8000.0)).predict(0)
    rc = (300.5, 300.5)
    assert radius_of_mass(lone.prob, rc, 0.9) > 1.2 * radius_of_mass(dense.prob, rc, 0.9)


def test_published_formulas():
    # Erceg (1999): at d0 = 100 m the loss is free space, 20·log10(4π·100/λ) + corrections
    f, h_ut = 1.9, 2.0  # 1.9 GHz and a 2 m receiver: both corrections 0 (up to 6·log10(1900/2000))
    pl = erceg_pathloss(np.array([100.0, 1000.0], dtype=np.float32), 30.0, h_ut, f, "B", 0.0)
    fs = 20 * np.log10(4 * np.pi * 100.0 / (0.299792458 / f)) + 6 * np.log10(1900 / 2000)
    gamma = 4.0 - 0.0065 * 30 + 17.1 / 30
    assert pl[0] == pytest.approx(fs, abs=1e-3)
    assert pl[1] - pl[0] == pytest.approx(10 * gamma, abs=1e-3)
    g = raised_cosine_db(np.array([0.0, 32.5, 180.0]), 65.0, 25.0)
    np.testing.assert_allclose(g, [0.0, -3.0103, -25.0], atol=1e-3)


SUBPROCESS = """
import sys
import numpy as np, shapely
from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project
from deepmend.scene import Scene
from deepmend.groundtruth.sim2 import SignalDominanceSimulator
x0, y0 = 650_050.0, 6_500_050.0
xy = np.array([(x0, y0), (x0 + 2000.0, y0), (x0, y0 + 2500.0), (x0 - 3000.0, y0 - 1000.0)])
dep = Deployment(site_ids=np.array(["a", "b", "c", "d"]), operator=np.array(["Op"] * 4), x=xy[:, 0], y=xy[:, 1], crs="EPSG:2154",
                 height_m=np.full(4, np.nan), technology=np.array(["4G"] * 4), name="synthetic")
box = shapely.box(x0 - 30_000, y0 - 30_000, x0 + 30_000, y0 + 30_000)
sc = Scene(dep, Region("square", project(box, "EPSG:2154", "EPSG:4326"), box, "EPSG:2154"), np.array([0]), name="synthetic")
m = SignalDominanceSimulator(use_cache=False).fit(sc).predict(0)
assert abs(float(m.prob.sum(dtype=np.float64)) - 1) < 1e-5
bad = [n for n in ("simulator", "pathloss", "shadowing", "antenna", "population", "areas", "config") if "deepmend.groundtruth." + n in sys.modules]
print(bad)
sys.exit(1 if bad else 0)
"""


def test_independent_of_the_first_simulator(tmp_path):
    """Computing a sim2 map imports none of the first simulator's modules (its physics, prior, config)."""
    import os

    env = dict(os.environ, DEEPMEND_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", SUBPROCESS], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_parameter_is_input_error():
    with pytest.raises(InputError):
        Sim2Config(terrain=("A", "B", "Z"))
    with pytest.raises(InputError):
        Sim2Config().with_(nonsense=1)
