"""Voronoi and probabilistic maps checked against per-cell brute force on sampled cells."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.registry import make_model
from deepmend.models.probabilistic import ProbabilisticModel


def _sample_cells(m, rng, n=300):
    rr, cc = np.nonzero(m.mask)
    k = rng.choice(rr.size, size=min(n, rr.size), replace=False)
    return rr[k], cc[k]


def test_voronoi_is_uniform_over_nearest_cells(small_scene):
    model = make_model("voronoi").fit(small_scene)
    dep = small_scene.deployment
    rng = np.random.default_rng(0)
    for i in range(len(dep)):
        m = model.predict(i)
        assert m.prob.dtype == np.float32
        assert abs(float(m.prob.sum(dtype=np.float64)) - 1) < 1e-5
        assert (m.prob[~m.mask] == 0).all()
        xs, ys = m.coords()  # north-up, like m.prob
        rr, cc = _sample_cells(m, rng)
        for r, c in zip(rr, cc):  # brute force on sampled cells
            d = np.hypot(dep.x - xs[c], dep.y - ys[r])
            inside = int(np.argmin(d)) == i
            assert (m.prob[r, c] > 0) == inside
        vals = m.prob[m.prob > 0]
        assert np.allclose(vals, vals[0])


def test_probabilistic_matches_brute_force(small_scene):
    alpha = 1.7
    model = ProbabilisticModel(alpha).fit(small_scene)
    dep = small_scene.deployment
    m = model.predict(3)
    xs, ys = m.coords()  # north-up, like m.prob
    rng = np.random.default_rng(1)
    rr, cc = _sample_cells(m, rng, 200)
    # brute force P(i|l) up to the normalising constant of P(l|i)
    ratios = []
    for r, c in zip(rr, cc):
        d = np.maximum(np.hypot(dep.x - xs[c], dep.y - ys[r]), 1.0)
        p_il = d[3] ** -alpha / np.sum(d**-alpha)
        ratios.append(m.prob[r, c] / p_il)
    ratios = np.array(ratios)
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-4)
    assert abs(float(m.prob.sum(dtype=np.float64)) - 1) < 1e-5 and (m.prob[~m.mask] == 0).all()


def test_large_alpha_tends_to_voronoi_small_alpha_spreads(small_scene):
    vor = make_model("voronoi").fit(small_scene).predict(2).prob
    tv = {a: 0.5 * float(np.abs(ProbabilisticModel(a).fit(small_scene).predict(2).prob - vor).sum()) for a in (0.5, 2.0, 40.0, 2000.0)}
    assert tv[2000.0] < 0.002 < tv[40.0] < 0.1 < tv[2.0] < tv[0.5]  # monotone, and stable for huge alpha


def test_mask_respected_and_maps_lazy(small_scene):
    model = make_model("probabilistic", alpha=1.3).fit(small_scene)
    gen = model.predict_many()
    first = next(gen)
    assert first.site_id == "S0" and first.meta["params"] == {"alpha": 1.3}
    assert sum(1 for _ in gen) == len(small_scene.targets) - 1


@pytest.mark.parametrize("alpha", [0, -1, float("nan")])
def test_bad_alpha(alpha):
    with pytest.raises(InputError, match="alpha"):
        ProbabilisticModel(alpha).validate()
    with pytest.raises(InputError, match="alpha"):
        make_model("probabilistic", alpha=alpha)


def test_unknown_model_lists_valid():
    with pytest.raises(InputError, match="valid: .*probabilistic.*voronoi"):
        make_model("magic")


def test_lyon_scene_voronoi_cells_partition_the_mask(lyon_scene):
    """Every valid cell of a Lyon window belongs to exactly one BS's Voronoi cell."""
    model = make_model("voronoi").fit(lyon_scene)
    i = int(lyon_scene.targets[len(lyon_scene.targets) // 2])
    m = model.predict(i)
    rs, cs = lyon_scene.slices(i)
    labels = lyon_scene.nearest[rs, cs][m.mask]
    assert (m.prob[m.mask] > 0).sum() == (labels == i).sum()
    assert len(np.unique(labels)) > 50


@pytest.mark.parametrize("block", [2, 4, 7])
def test_nearest_labels_equal_a_query_of_every_cell(lyon_scene, block):
    """The block-wise nearest-site raster is exactly the per-cell KD-tree query (ties included:
    sites on a regular grid put many cell centres at equal distances)."""
    from scipy.spatial import cKDTree

    from deepmend.grid.lattice import Lattice
    from deepmend.scene import nearest_labels

    rng = np.random.default_rng(3)
    lat = Lattice("EPSG:2154", 800_000.0, 6_500_000.0, 203, 157)
    grid = np.stack(np.meshgrid(np.arange(6) * 3_000.0 + 800_050.0, np.arange(5) * 3_000.0 + 6_500_050.0), -1).reshape(-1, 2)
    clouds = [rng.uniform([800_000, 6_500_000], [820_300, 6_515_700], size=(n, 2)) for n in (1, 2, 40, 900)] + [grid]
    for xy in clouds:
        tree = cKDTree(xy)
        gx, gy = np.meshgrid(lat.xs, lat.ys)
        want = tree.query(np.column_stack([gx.ravel(), gy.ravel()]))[1].reshape(lat.shape)
        assert np.array_equal(nearest_labels(tree, lat, block), want)
    assert np.array_equal(lyon_scene.nearest, lyon_scene.knn(1)[1][..., 0])


def test_voronoi_predict_dense_equals_predict(lyon_scene):
    model = make_model("voronoi").fit(lyon_scene)
    sites = [int(i) for i in lyon_scene.targets[::25]]
    prob, mask = model.predict_dense(sites)
    for b, i in enumerate(sites):
        m = model.predict(i)
        assert np.array_equal(prob[b], m.prob) and np.array_equal(mask[b], m.mask)
