"""VoronoiBoost: features vs a brute-force loop, gauge vs nearest-site raster, ring masses, training."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.models.voronoiboost import (
    TAUS, VoronoiBoostModel, _neighbour_lists, cell_gauge, city_key, optimal_scales, ring_map, training_rows,
)
from deepmend.models.voronoiboost_features import CELL_CAP_M, FEATURE_NAMES, HOPS, compute_features


def _brute_features(xy: np.ndarray) -> np.ndarray:
    """Per-site Python loops: BFS on the Delaunay triangles, cells by half-plane intersection."""
    n = len(xy)
    nbrs = [set() for _ in range(n)]
    for tri in Delaunay(xy).simplices:
        for a in tri:
            for b in tri:
                if a != b:
                    nbrs[a].add(int(b))
    cells = []
    for i in range(n):
        cell = shapely.Point(xy[i]).buffer(CELL_CAP_M, quad_segs=16)
        for j in range(n):
            if j == i:
                continue
            mid, d = (xy[i] + xy[j]) / 2, xy[j] - xy[i]
            u = d / np.linalg.norm(d)
            perp = np.array([-u[1], u[0]]) * 1e6
            half = shapely.Polygon([mid + perp, mid + perp - u * 1e6, mid - perp - u * 1e6, mid - perp])
            cell = cell.intersection(half)
        cells.append(cell)
    area = np.array([c.area for c in cells]) / 1e6
    cent = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    off = np.hypot(*(cent - xy).T)
    rows = []
    for i in range(n):
        row = []
        frontier, seen, hop = {i}, {i}, 0
        for k in range(1, max(HOPS) + 1):
            frontier = {v for u in frontier for v in nbrs[u]} - seen
            seen |= frontier
            if k in HOPS:
                members = sorted(seen - {i})
                d = np.array([np.hypot(*(xy[j] - xy[i])) for j in members])
                inside = seen
                edges = [np.hypot(*(xy[u] - xy[v])) for u in inside for v in nbrs[u] if v in inside and u < v]
                row += [len(members), d.mean(), d.mean() / d.min(), np.mean(edges), np.mean(area[members])]
        v = np.array(cells[i].exterior.coords)
        diam = max(np.hypot(*(a - b)) for a in v for b in v)
        widths = []
        for t in np.deg2rad(np.arange(90) * 2.0):
            p = v @ np.array([np.cos(t), np.sin(t)])
            widths.append(p.max() - p.min())
        far = max(np.hypot(*(a - xy[i])) for a in v)
        row += [area[i], diam, min(widths), far, off[i], np.mean([off[j] for j in nbrs[i]])]
        rows.append(row)
    return np.array(rows)


def test_features_match_brute_force():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 20_000, (40, 2)) + np.array([842_000.0, 6_519_000.0])
    fast = compute_features(xy)
    slow = _brute_features(xy)
    assert fast.shape == (40, len(FEATURE_NAMES))
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)


def test_gauge_matches_nearest_site_raster(small_scene):
    nbrs = _neighbour_lists(small_scene.deployment.xy)
    for i in range(len(small_scene.deployment)):
        g = cell_gauge(small_scene, i, nbrs[i])
        rs, cs = small_scene.slices(i)
        w = small_scene.window(i)
        xs, ys = w.centers()
        dist = np.hypot(xs[None, :] - small_scene.deployment.x[i], ys[:, None] - small_scene.deployment.y[i])
        in_cell = (small_scene.nearest[rs, cs] == i) & (dist <= CELL_CAP_M)
        clear = np.abs(g - 1) > 1e-4  # cells on the boundary are ties
        np.testing.assert_array_equal((g <= 1)[clear], in_cell[clear])
        r, c = small_scene.site_rc(i)
        assert g[r, c] < 0.1


def test_rings_hold_stated_mass(small_scene):
    nbrs = _neighbour_lists(small_scene.deployment.xy)
    scales = np.array([0.4, 0.8, 1.2, 1.6, 2.4])
    for i in range(len(small_scene.deployment)):
        g = cell_gauge(small_scene, i, nbrs[i])
        rs, cs = small_scene.slices(i)
        mask = small_scene.mask[rs, cs]
        p = ring_map(g, mask, scales)
        assert abs(float(p.sum(dtype=np.float64)) - 1) < 1e-5
        assert (p[~mask] == 0).all()
        lo = -np.inf
        edges = list(scales) + [np.inf]
        want = np.diff(np.concatenate([[0.0], TAUS, [1.0]]))
        for k, hi in enumerate(edges):
            ring = (g > lo) & (g <= hi) & mask
            if ring.any():
                assert float(p[ring].sum(dtype=np.float64)) == pytest.approx(want[k], abs=1e-5)
                assert np.ptp(p[ring]) < 1e-9  # uniform inside a ring
            lo = hi


def test_empty_rings_pass_mass_outward():
    g = np.array([[0.1, 0.2], [3.0, 3.0]], dtype=np.float32)
    p = ring_map(g, np.ones((2, 2), bool), np.array([0.5, 0.6, 0.7, 0.8, 0.9]))
    assert p[0].sum() == pytest.approx(0.25)
    assert p[1].sum() == pytest.approx(0.75)


def test_optimal_scales_hold_tau(small_scene):
    truth = ProbabilisticModel(1.5).fit(small_scene)
    nbrs = _neighbour_lists(small_scene.deployment.xy)
    i = int(small_scene.targets[0])
    g = cell_gauge(small_scene, i, nbrs[i])
    p = truth.predict(i).lattice_prob.astype(np.float64)  # the gauge is in lattice order
    s = optimal_scales(g, p)
    assert np.all(np.diff(s) >= 0)
    for tau, sc in zip(TAUS, s):
        assert p[g <= sc].sum() >= tau - 1e-6
        assert p[g < sc].sum() < tau + 1e-6


def test_model_trains_and_predicts_monotone_rings(small_scene):
    truth = ProbabilisticModel(1.3).fit(small_scene)
    f, s = training_rows(small_scene, truth, small_scene.targets)
    model = VoronoiBoostModel().train(f, s, ["Synthetic"])
    model.fit(small_scene)
    assert np.all(np.diff(model.scales_, axis=1) >= 0)
    m = model.predict(int(small_scene.targets[0]))
    assert abs(float(m.prob.sum(dtype=np.float64)) - 1) < 1e-5


def test_city_key_folds_accents_and_suffix():
    assert city_key("Orléans (2018)") == city_key("orleans") == "orleans"
