"""A small scene near Lyon for the package tests (seeded synthetic sites, a 24 km square).

Not a conftest.py: other test folders import their own conftest by name, which a second one here would shadow.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

CRS = "EPSG:2154"
X0, Y0 = 842_000.0, 6_519_000.0  # near Lyon, Lambert-93


@pytest.fixture(scope="module")
def pkg_scene():
    from deepmend.data.deployment import Deployment
    from deepmend.data.regions import Region, project
    from deepmend.scene import Scene

    rng = np.random.default_rng(11)
    n = 14
    xy = np.column_stack([X0 + rng.uniform(-9_000, 9_000, n), Y0 + rng.uniform(-9_000, 9_000, n)])
    dep = Deployment(site_ids=np.array([f"P{i}" for i in range(n)]), operator=np.array(["Op"] * n), x=xy[:, 0], y=xy[:, 1], crs=CRS,
                     height_m=np.full(n, np.nan), technology=np.array(["4G"] * n), name="pkg", source="pkg.csv")
    box = shapely.box(X0 - 12_000, Y0 - 12_000, X0 + 12_000, Y0 + 12_000)
    return Scene(dep, Region("square", project(box, CRS, "EPSG:4326"), box, CRS))


@pytest.fixture(scope="module")
def voronoi_maps(pkg_scene):
    from deepmend.registry import make_model

    return list(make_model("voronoi").fit(pkg_scene).predict_many())
