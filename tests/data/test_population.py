"""The population grid (deepmend.data.population): missing values are filled, never NaN downstream.

The shipped WorldPop grid lists 25 coastal/lake cells without a density; read as NaN they used to
turn every ground-truth map whose window touched them (Marseille, Montpellier, Bristol …) into a
point mass at the BS, silently.
"""

import numpy as np
import pytest

from deepmend.data import population as pop


def test_fill_missing_uses_valued_neighbours_only():
    v = np.array([[1.0, 3.0, np.nan], [np.nan, np.nan, np.nan], [5.0, np.nan, np.nan]])
    listed = np.array([[True, True, False], [True, True, False], [True, False, True]])
    out, n = pop.fill_missing(v, listed)
    assert n == 3  # (1,0), (1,1) and (2,2) are listed without a value; unlisted cells are not counted
    assert out[1, 0] == pytest.approx((1 + 3 + 5) / 3)
    assert out[1, 1] == pytest.approx((1 + 3 + 5) / 3)
    assert out[2, 2] == 0.0  # no valued neighbour
    assert out[0, 2] == 0.0 and out[2, 1] == 0.0  # not listed: no people (sea, other countries)
    assert out[0, 0] == 1.0 and out[0, 1] == 3.0 and out[2, 0] == 5.0  # values kept
    assert np.isfinite(out).all()


def test_grid_file_with_empty_densities_reads_finite(tmp_path, monkeypatch):
    step = pop.STEP_DEG
    rows = ["cell_id,country,lon_min,lat_min,lon_c,lat_c,area_km2,pop_2020,density_2020_per_km2"]
    for k, (i, j, d) in enumerate([(24, 600, "100"), (25, 600, ""), (26, 600, "300"), (25, 601, "200")]):
        rows.append(f"c{k},FR,{i * step},{j * step},{(i + 0.5) * step},{(j + 0.5) * step},60,,{d}")
    (tmp_path / pop.POPGRID_FILE).write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("DEEPMEND_DATA_DIR", str(tmp_path))
    pop.population_grid.cache_clear()
    try:
        g = pop.population_grid()
        assert g is not None and g.filled == 1 and np.isfinite(g.density).all()
        r, c = 600 - g.lat0, 25 - g.lon0
        assert g.density[r, c] == pytest.approx(200.0)  # mean of 100, 300, 200
        assert g.lon_centres[c] == pytest.approx(25.5 * step) and g.lat_centres[r] == pytest.approx(600.5 * step)
    finally:
        pop.population_grid.cache_clear()


def test_shipped_grid_has_no_nan_after_reading():
    g = pop.population_grid()
    if g is None:
        pytest.skip("population grid not installed")
    assert np.isfinite(g.density).all() and (g.density >= 0).all()
    assert g.filled >= 1  # the shipped file does list cells without a value


def test_ground_truth_of_a_bs_by_a_missing_cell_is_a_real_map():
    """Marseille's coast has a cell without a density: the simulated map must not collapse onto the BS."""
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.scene import Scene

    if pop.population_grid() is None:
        pytest.skip("population grid not installed")
    scene = Scene.from_catalog("FR", "Marseille", "Orange")
    m = GroundTruthSimulator(lazy=True).fit(scene).predict(int(scene.targets[0]))
    assert np.isfinite(m.prob).all()
    assert (m.prob > 0).sum() > 1000 and m.prob.max() < 0.5
    assert abs(float(m.prob.sum()) - 1) < 1e-4


def test_a_non_finite_prior_is_refused(monkeypatch):
    from deepmend.groundtruth import population as gtpop
    from deepmend.groundtruth.config import SimulatorConfig
    from synthetic import X0, Y0, make_deployment, square_region
    from deepmend.scene import Scene

    scene = Scene(make_deployment(np.array([[X0, Y0], [X0 + 3000.0, Y0]])), square_region())
    monkeypatch.setattr(gtpop, "population_density", lambda sc, rows=None, cols=None: np.full((len(sc.lattice.ys[rows]) if rows else sc.lattice.ny, len(sc.lattice.xs[cols]) if cols else sc.lattice.nx), np.nan, np.float32))
    with pytest.raises(ValueError, match="not finite"):
        gtpop.user_prior(scene, SimulatorConfig())


@pytest.mark.slow
def test_second_ground_truth_by_a_missing_cell_is_a_real_map():
    from deepmend.groundtruth.sim2 import SignalDominanceSimulator
    from deepmend.scene import Scene

    if pop.population_grid() is None:
        pytest.skip("population grid not installed")
    scene = Scene.from_catalog("FR", "Marseille", "Orange")
    m = SignalDominanceSimulator(use_cache=False).fit(scene).predict(int(scene.targets[0]))
    assert np.isfinite(m.prob).all() and (m.prob > 0).sum() > 100 and m.prob.max() < 0.5


@pytest.mark.parametrize("which", ["sim1", "sim2"])
def test_map_caches_forget_maps_of_an_older_grid_reading(which, monkeypatch):
    """The API caches maps by the model's cache token: maps computed from the NaN-reading grid (point
    masses) must not be served again after the fix, so the token carries the reading version."""
    from deepmend.groundtruth.sim2 import SignalDominanceSimulator
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    model = GroundTruthSimulator() if which == "sim1" else SignalDominanceSimulator()
    now = model.cache_token()
    assert now == type(model)().cache_token()  # stable for the same configuration and reading
    monkeypatch.setattr(pop, "READING_VERSION", pop.READING_VERSION - 1)
    assert model.cache_token() != now
