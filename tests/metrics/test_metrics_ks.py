"""2-D KS: against a corner-by-corner, quadrant-by-quadrant brute force."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.metrics import ks2d, ks2d_many
from deepmend.metrics import ks as ks_module


def ks_brute(p: np.ndarray, q: np.ndarray) -> float:
    """Loop over every grid corner (i, j), 0 ≤ i ≤ H, 0 ≤ j ≤ W, and the four
    quadrants around it, summing the cells of each quadrant explicitly."""
    h, w = p.shape
    best = 0.0
    for i in range(h + 1):
        for j in range(w + 1):
            quads = {"sw": 0.0, "se": 0.0, "nw": 0.0, "ne": 0.0}
            for r in range(h):
                for c in range(w):
                    key = ("s" if r < i else "n") + ("w" if c < j else "e")
                    quads[key] += float(p[r, c]) - float(q[r, c])
            best = max(best, max(abs(v) for v in quads.values()))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(5, 7), (6, 6), (1, 5), (4, 1)])
def test_ks_matches_brute_force(seed, shape, random_map):
    rng = np.random.default_rng(seed)
    p, q = random_map(rng, shape), random_map(rng, shape)
    assert ks2d(p, q) == pytest.approx(ks_brute(p, q), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_ks_is_symmetric_and_in_unit_range(seed, random_map):
    rng = np.random.default_rng(100 + seed)
    p, q = random_map(rng, (12, 9)), random_map(rng, (12, 9))
    d = ks2d(p, q)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(ks2d(q, p), abs=1e-15)


def test_ks_identical_maps_is_zero(random_map):
    p = random_map(np.random.default_rng(1), (8, 11))
    assert ks2d(p, p) == 0.0
    assert ks2d(p, p.astype(np.float32)) < 1e-7


@pytest.mark.parametrize("a,b", [((0, 0), (3, 4)), ((2, 2), (2, 3)), ((4, 1), (3, 1)), ((4, 6), (0, 0))])
def test_ks_two_point_masses_in_different_cells_is_one(a, b):
    p = np.zeros((5, 7))
    q = np.zeros((5, 7))
    p[a] = 1.0
    q[b] = 1.0
    assert ks2d(p, q) == pytest.approx(1.0, abs=1e-15)


def test_ks_half_mass_moved():
    # Half of P's mass moves to another cell: the best quadrant isolates it.
    p = np.zeros((4, 4))
    q = np.zeros((4, 4))
    p[1, 1] = 1.0
    q[1, 1] = 0.5
    q[3, 2] = 0.5
    assert ks2d(p, q) == pytest.approx(0.5)


def test_ks_rejects_mismatched_grids():
    with pytest.raises(ValueError):
        ks2d(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ValueError):
        ks2d(np.zeros(12), np.zeros(12))


@pytest.mark.parametrize("k", [1, 3, ks_module._CHUNK + 3])
def test_ks_many_equals_loop(k, random_map):
    rng = np.random.default_rng(k)
    q = random_map(rng, (9, 13))
    ps = np.stack([random_map(rng, (9, 13)) for _ in range(k)]).astype(np.float32)
    got = ks2d_many(ps, q)
    assert got.shape == (k,)
    np.testing.assert_allclose(got, [ks2d(p, q) for p in ps], rtol=0, atol=1e-15)


def test_ks_many_rejects_bad_stack():
    with pytest.raises(ValueError):
        ks2d_many(np.zeros((2, 3, 4)), np.zeros((4, 3)))
    with pytest.raises(ValueError):
        ks2d_many(np.zeros((3, 4)), np.zeros((3, 4)))
