"""A small scene near Lyon for the package tests (seeded synthetic sites, a 24 km square; helpers of tests/synthetic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import X0, Y0, make_deployment, square_region


@pytest.fixture(scope="module")
def pkg_scene():
    from deepmend.scene import Scene

    rng = np.random.default_rng(11)
    n = 14
    xy = np.column_stack([X0 + rng.uniform(-9_000, 9_000, n), Y0 + rng.uniform(-9_000, 9_000, n)])
    return Scene(make_deployment(xy, "pkg"), square_region(12_000.0))


@pytest.fixture(scope="module")
def voronoi_maps(pkg_scene):
    from deepmend.registry import make_model

    return list(make_model("voronoi").fit(pkg_scene).predict_many())
