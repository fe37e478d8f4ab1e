"""Jensen–Shannon and total variation: against cell-by-cell loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepmend.metrics import jensen_shannon, total_variation


def js_brute(p: np.ndarray, q: np.ndarray) -> float:
    total = 0.0
    for a, b in zip(p.ravel().tolist(), q.ravel().tolist()):
        m = 0.5 * (a + b)
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return total


def tv_brute(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(p.ravel().tolist(), q.ravel().tolist()))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(5, 7), (13, 4), (1, 9)])
def test_divergences_match_brute_force(seed, shape, random_map):
    rng = np.random.default_rng(seed)
    p, q = random_map(rng, shape, empty=0.5), random_map(rng, shape, empty=0.5)
    assert jensen_shannon(p, q) == pytest.approx(js_brute(p, q), abs=1e-13)
    assert total_variation(p, q) == pytest.approx(tv_brute(p, q), abs=1e-13)
    assert 0.0 <= jensen_shannon(p, q) <= 1.0
    assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(q, p), abs=1e-15)


def test_disjoint_supports_give_one():
    p = np.zeros((4, 6))
    q = np.zeros((4, 6))
    p[:2] = 1.0 / 12
    q[2:, :3] = 1.0 / 6
    assert jensen_shannon(p, q) == pytest.approx(1.0, abs=1e-15)
    assert total_variation(p, q) == pytest.approx(1.0, abs=1e-15)


def test_identical_maps_give_zero(random_map):
    p = random_map(np.random.default_rng(3), (7, 7))
    assert jensen_shannon(p, p) == 0.0
    assert total_variation(p, p) == 0.0


def test_half_overlap_hand_computed():
    # P = (½, ½, 0), Q = (0, ½, ½), M = (¼, ½, ¼):
    # KL(P‖M) = ½·log2 2 + ½·log2 1 = ½ = KL(Q‖M), so JS = ½; TV = ½(½ + 0 + ½) = ½.
    p = np.array([[0.5, 0.5, 0.0]])
    q = np.array([[0.0, 0.5, 0.5]])
    assert jensen_shannon(p, q) == pytest.approx(0.5, abs=1e-15)
    assert total_variation(p, q) == pytest.approx(0.5, abs=1e-15)


def test_divergences_reject_mismatched_grids():
    with pytest.raises(ValueError):
        jensen_shannon(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        total_variation(np.zeros((2, 3)), np.zeros((3, 2)))
