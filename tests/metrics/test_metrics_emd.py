"""EMD: against a dense linear programme on the full cost matrix."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import linprog

from deepmend.metrics import emd_km


def w1_linprog(p: np.ndarray, q: np.ndarray, cell_km: float) -> float:
    """Exact W1 between two maps (cells as points at their centres) by solving
    the transport LP over the full n×n plan with scipy's HiGHS."""
    h, w = p.shape
    pts = [(r + 0.5, c + 0.5) for r in range(h) for c in range(w)]
    n = len(pts)
    cost = np.zeros((n, n))
    for i, (ri, ci) in enumerate(pts):
        for j, (rj, cj) in enumerate(pts):
            cost[i, j] = math.hypot(ri - rj, ci - cj) * cell_km
    a = p.ravel() / p.sum()
    b = q.ravel() / q.sum()
    a_eq = np.zeros((2 * n, n * n))
    for i in range(n):
        a_eq[i, i * n : (i + 1) * n] = 1.0  # row sums: mass leaving cell i
        a_eq[n + i, i::n] = 1.0  # column sums: mass arriving at cell i
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    assert res.status == 0
    return float(res.fun)


def coarsen_loop(p: np.ndarray, block: int) -> np.ndarray:
    h, w = p.shape
    out = np.zeros((-(-h // block), -(-w // block)))
    for r in range(h):
        for c in range(w):
            out[r // block, c // block] += p[r, c]
    return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", [(4, 5), (6, 3)])
def test_emd_block1_matches_linprog(seed, shape, random_map):
    rng = np.random.default_rng(seed)
    p, q = random_map(rng, shape), random_map(rng, shape)
    expected = w1_linprog(p, q, cell_km=0.1)
    assert emd_km(p, q, block=1, tail_mass=0.0) == pytest.approx(expected, rel=1e-7, abs=1e-12)
    # The default tail cut stays within its documented bound: tail_mass × diagonal.
    diag_km = math.hypot(shape[0] - 1, shape[1] - 1) * 0.1
    assert abs(emd_km(p, q, block=1) - expected) <= 1e-5 * diag_km + 1e-12


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("block", [2, 3])
def test_emd_coarse_matches_linprog_on_coarsened_grid(seed, block, random_map):
    # 7×8 is not a multiple of 2 or 3 in both axes: exercises the zero padding.
    rng = np.random.default_rng(10 + seed)
    p, q = random_map(rng, (7, 8)), random_map(rng, (7, 8))
    res_m = 250.0
    expected = w1_linprog(coarsen_loop(p, block), coarsen_loop(q, block), cell_km=block * res_m / 1000)
    got = emd_km(p, q, res_m=res_m, block=block, tail_mass=0.0)
    assert got == pytest.approx(expected, rel=1e-7, abs=1e-12)  # HiGHS tolerances
    # And the coarsening error bound of the docstring holds against the fine W1.
    fine = w1_linprog(p, q, cell_km=res_m / 1000)
    assert abs(got - fine) <= math.sqrt(2) * (block - 1) * res_m / 1000 + 1e-12


def test_emd_point_mass_moved_three_cells_east_is_300_m():
    p = np.zeros((5, 7))
    q = np.zeros((5, 7))
    p[2, 1] = 1.0
    q[2, 4] = 1.0
    assert emd_km(p, q, res_m=100.0, block=1) == pytest.approx(0.3, abs=1e-12)


def test_emd_diagonal_move_and_split():
    p = np.zeros((6, 6))
    q = np.zeros((6, 6))
    p[0, 0] = 1.0
    q[3, 4] = 0.5  # 5 cells away (3-4-5 triangle)
    q[0, 2] = 0.5  # 2 cells away
    assert emd_km(p, q, res_m=100.0, block=1) == pytest.approx(0.5 * 0.5 + 0.5 * 0.2, abs=1e-12)


def test_emd_renormalises_and_is_symmetric(random_map):
    rng = np.random.default_rng(7)
    p, q = random_map(rng, (6, 5)), random_map(rng, (6, 5))
    base = emd_km(p, q, block=1)
    assert emd_km(3.0 * p, 0.2 * q, block=1) == pytest.approx(base, rel=1e-12)
    assert emd_km(q, p, block=1) == pytest.approx(base, rel=1e-9)
    assert emd_km(p, p) == 0.0


def test_emd_rejects_empty_or_negative_maps():
    p = np.zeros((4, 4))
    p[1, 1] = 1.0
    with pytest.raises(ValueError):
        emd_km(p, np.zeros((4, 4)))
    with pytest.raises(ValueError):
        emd_km(np.zeros((4, 4)), p)
    neg = p.copy()
    neg[0, 0] = -0.1
    with pytest.raises(ValueError):
        emd_km(neg, p)
    with pytest.raises(ValueError):
        emd_km(p, p[:3])


def test_emd_large_problem_solves_to_optimality_without_warning():
    # 60×60 coarse cells with mass everywhere: the 3600-point size of a
    # 600×600 map at block 10, where POT's default iteration cap is too low.
    r, c = np.mgrid[0:120, 0:120] + 0.5
    p = np.exp(-((r - 60) ** 2 + (c - 60) ** 2) / (2 * 30.0**2))
    q = np.exp(-((r - 66) ** 2 + (c - 56) ** 2) / (2 * 35.0**2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = emd_km(p, q, res_m=100.0, block=2, tail_mass=0.0)
    # Jensen: W1 ≥ distance between the means (up to the coarsening bound).
    dmean = np.hypot(*(((p / p.sum()) * x).sum() - ((q / q.sum()) * x).sum() for x in (r, c))) * 0.1
    assert dmean - math.sqrt(2) * 0.1 <= w <= 2.0
