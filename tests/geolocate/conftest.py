"""Synthetic jobs for geolocation: small, in Lambert-93, with hand-checkable geometry."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project
from deepmend.engine.job import Job

CRS = "EPSG:2154"
X0, Y0 = 842_000.0, 6_519_000.0  # near Lyon, Lambert-93 (multiples of 100 m: lattice-aligned)


def make_deployment(xy: np.ndarray, name: str) -> Deployment:
    n = len(xy)
    return Deployment(np.array([f"S{i}" for i in range(n)]), np.array(["Op"] * n), np.asarray(xy[:, 0], float), np.asarray(xy[:, 1], float),
                      CRS, np.full(n, np.nan), np.array(["4G"] * n), name=name, source=f"{name}.csv")


def box_region(x0: float, y0: float, x1: float, y1: float, name: str = "box") -> Region:
    metric = shapely.box(x0, y0, x1, y1)
    return Region(name, project(metric, CRS, "EPSG:4326"), metric, CRS)


@pytest.fixture
def grid_job() -> Job:
    """16 sites on a jittered 4×4 grid (6 km spacing), mask a 40 km square: several tiles with max_sites=4."""
    rng = np.random.default_rng(3)
    g = np.arange(4) * 6_000.0 - 9_000.0
    gx, gy = np.meshgrid(g, g)
    xy = np.column_stack([X0 + gx.ravel() + rng.uniform(-900, 900, 16), Y0 + gy.ravel() + rng.uniform(-900, 900, 16)])
    return Job("grid", make_deployment(xy, "grid"), box_region(X0 - 20_000, Y0 - 20_000, X0 + 20_000, Y0 + 20_000), np.arange(16))


@pytest.fixture
def two_site_job() -> Job:
    """A and B split a 10 km box at x = X0 (west/east halves); C lies 50 km north, outside the mask."""
    xy = np.array([[X0 - 2_500.0, Y0 - 2_500.0], [X0 + 2_500.0, Y0 - 2_500.0], [X0, Y0 + 50_000.0]])
    return Job("two", make_deployment(xy, "two"), box_region(X0 - 5_000, Y0 - 5_000, X0 + 5_000, Y0 + 5_000), np.array([0, 1]))
