"""Shape descriptors: against explicit loops over cells and radii."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepmend.metrics import anisotropy, mass_inside, radii_of_mass, radius_of_mass


def radius_brute(p: np.ndarray, center: tuple[float, float], q: float, res_m: float) -> float:
    """Try every candidate radius (each distinct cell-centre distance) in
    increasing order and sum the mass within it cell by cell."""
    h, w = p.shape
    total = float(p.sum())
    radii = sorted({math.hypot(r + 0.5 - center[0], c + 0.5 - center[1]) for r in range(h) for c in range(w)})
    for rad in [0.0] + radii:
        inside = 0.0
        for r in range(h):
            for c in range(w):
                if math.hypot(r + 0.5 - center[0], c + 0.5 - center[1]) <= rad:
                    inside += float(p[r, c])
        if inside >= q * total * (1 - 1e-12):
            return rad * res_m / 1000
    raise AssertionError("unreachable")


def anisotropy_brute(p: np.ndarray) -> float:
    """Moments accumulated cell by cell; each cell is a uniform unit square, so
    it adds 1/12 of variance along each axis (see the docstring)."""
    h, w = p.shape
    m = s_y = s_x = 0.0
    for r in range(h):
        for c in range(w):
            m += p[r, c]
            s_y += p[r, c] * (r + 0.5)
            s_x += p[r, c] * (c + 0.5)
    my, mx = s_y / m, s_x / m
    cyy = cxx = cxy = 0.0
    for r in range(h):
        for c in range(w):
            cyy += p[r, c] * (r + 0.5 - my) ** 2 / m
            cxx += p[r, c] * (c + 0.5 - mx) ** 2 / m
            cxy += p[r, c] * (r + 0.5 - my) * (c + 0.5 - mx) / m
    lo, hi = np.linalg.eigvalsh(np.array([[cyy + 1 / 12, cxy], [cxy, cxx + 1 / 12]]))
    return math.sqrt(hi / lo)


def gaussian(shape: tuple[int, int], center: tuple[float, float], sy: float, sx: float, theta: float = 0.0) -> np.ndarray:
    r, c = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    dy, dx = r - center[0], c - center[1]
    u = math.cos(theta) * dy + math.sin(theta) * dx
    v = -math.sin(theta) * dy + math.cos(theta) * dx
    g = np.exp(-0.5 * ((u / sy) ** 2 + (v / sx) ** 2))
    return g / g.sum()


# ---- mass_inside ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_mass_inside_matches_loop(seed, random_map):
    rng = np.random.default_rng(seed)
    p = random_map(rng, (9, 6))
    region = rng.random((9, 6)) < 0.4
    expected = sum(float(p[r, c]) for r in range(9) for c in range(6) if region[r, c])
    assert mass_inside(p, region) == pytest.approx(expected, abs=1e-14)


def test_mass_inside_whole_and_empty_region(random_map):
    p = random_map(np.random.default_rng(0), (5, 5))
    assert mass_inside(p, np.ones((5, 5), bool)) == pytest.approx(1.0)
    assert mass_inside(p, np.zeros((5, 5), bool)) == 0.0
    with pytest.raises(ValueError):
        mass_inside(p, np.ones((5, 5)))  # not boolean: likely a label raster
    with pytest.raises(ValueError):
        mass_inside(p, np.ones((5, 4), bool))


# ---- radius_of_mass ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_radius_matches_brute_force(seed, random_map):
    rng = np.random.default_rng(seed)
    shape = (7, 9) if seed % 2 else (10, 5)
    p = random_map(rng, shape)
    center = (float(rng.uniform(0, shape[0])), float(rng.uniform(0, shape[1])))
    if seed == 0:
        center = (3.5, 2.5)  # on a cell centre: many tied distances
    for q in (0.1, 0.5, 0.9, 1.0):
        assert radius_of_mass(p, center, q, res_m=50.0) == pytest.approx(
            radius_brute(p, center, q, res_m=50.0), abs=1e-12
        )


def test_radii_of_mass_equals_single_calls(random_map):
    p = random_map(np.random.default_rng(4), (8, 8))
    qs = [0.25, 0.5, 0.9]
    np.testing.assert_array_equal(radii_of_mass(p, (4.2, 3.1), qs), [radius_of_mass(p, (4.2, 3.1), q) for q in qs])


def test_radius_of_single_cell_mass():
    p = np.zeros((5, 5))
    p[2, 3] = 1.0
    # Centre of that cell: radius 0.
    assert radius_of_mass(p, (2.5, 3.5), 0.5) == 0.0
    assert radius_of_mass(p, (2.5, 3.5), 1.0) == 0.0
    # One of its corners: half a cell diagonal, √2/2 × 100 m.
    assert radius_of_mass(p, (2.0, 3.0), 0.9) == pytest.approx(math.sqrt(2) / 2 * 0.1, abs=1e-15)
    # 3 cells south, 4 west of its centre: 500 m.
    assert radius_of_mass(p, (-0.5, -0.5), 1.0) == pytest.approx(0.5, abs=1e-15)
    assert radius_of_mass(p, (0.0, 0.0), 0.0) == 0.0


def test_radius_of_uniform_ring_mass():
    # Half the mass at the centre cell, half at distance 2 cells: 50 % → 0, 90 % → 200 m.
    p = np.zeros((5, 5))
    p[2, 2] = 0.5
    p[0, 2] = p[4, 2] = p[2, 0] = p[2, 4] = 0.125
    assert radius_of_mass(p, (2.5, 2.5), 0.5) == 0.0
    assert radius_of_mass(p, (2.5, 2.5), 0.9) == pytest.approx(0.2)


def test_radius_rejects_bad_fraction():
    p = np.ones((3, 3))
    with pytest.raises(ValueError):
        radius_of_mass(p, (1.5, 1.5), 1.5)
    with pytest.raises(ValueError):
        radius_of_mass(np.zeros((3, 3)), (1.5, 1.5), 0.5)


# ---- anisotropy -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_anisotropy_matches_brute_force(seed, random_map):
    rng = np.random.default_rng(seed)
    p = random_map(rng, (6, 11), empty=0.7)
    assert anisotropy(p) == pytest.approx(anisotropy_brute(p), rel=1e-10)


def test_anisotropy_isotropic_gaussian_is_one():
    assert anisotropy(gaussian((40, 40), (20.0, 20.0), 4.0, 4.0)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("theta", [0.0, math.pi / 4, 1.0])
def test_anisotropy_elongated_gaussian(theta):
    # σ 9 × 3 cells on a grid wide enough (±3.5σ) that truncation is negligible:
    # ratio √((81 + 1/12)/(9 + 1/12)) ≈ 2.988 at any orientation, well above 2.
    a = anisotropy(gaussian((64, 64), (32.0, 32.0), 9.0, 3.0, theta))
    assert a == pytest.approx(math.sqrt((81 + 1 / 12) / (9 + 1 / 12)), abs=0.01)
    assert a > 2


def test_anisotropy_uniform_rectangle_is_exact():
    p = np.zeros((20, 20))
    p[4:16, 8:11] = 1.0  # 12 × 3 cells
    assert anisotropy(p) == pytest.approx(4.0, rel=1e-12)
    assert anisotropy(p.T) == pytest.approx(4.0, rel=1e-12)


def test_anisotropy_single_cell_is_one():
    p = np.zeros((5, 5))
    p[1, 3] = 1.0
    assert anisotropy(p) == pytest.approx(1.0)
