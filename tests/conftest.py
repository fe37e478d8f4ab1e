"""Shared fixtures: small synthetic scenes in a real metric CRS, and the bundled Lyon scene."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from deepmend.data.crs import to_wgs84
from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project

CRS = "EPSG:2154"
X0, Y0 = 842_000.0, 6_519_000.0  # near Lyon, Lambert-93


def make_deployment(xy: np.ndarray, name: str = "synthetic") -> Deployment:
    n = len(xy)
    return Deployment(
        site_ids=np.array([f"S{i}" for i in range(n)]),
        operator=np.array(["Op"] * n),
        x=np.asarray(xy[:, 0], float),
        y=np.asarray(xy[:, 1], float),
        crs=CRS,
        height_m=np.full(n, np.nan),
        technology=np.array(["4G"] * n),
        name=name,
        source=f"{name}.csv",
    )


def square_region(half_m: float = 20_000.0, cx: float = X0, cy: float = Y0) -> Region:
    metric = shapely.box(cx - half_m, cy - half_m, cx + half_m, cy + half_m)
    return Region("square", project(metric, CRS, "EPSG:4326"), metric, CRS)


@pytest.fixture
def small_deployment() -> Deployment:
    rng = np.random.default_rng(7)
    xy = np.column_stack([X0 + rng.uniform(-12_000, 12_000, 9), Y0 + rng.uniform(-12_000, 12_000, 9)])
    return make_deployment(xy)


@pytest.fixture
def small_scene(small_deployment):
    from deepmend.scene import Scene

    return Scene(small_deployment, square_region())


@pytest.fixture(scope="session")
def lyon_scene():
    from deepmend.scene import Scene

    return Scene.from_catalog("FR", "Lyon", "Orange")


def lonlat(dep: Deployment) -> tuple[np.ndarray, np.ndarray]:
    return to_wgs84(dep.x, dep.y, dep.crs)
