"""Small synthetic deployments and regions in a real metric CRS (Lambert-93, near Lyon): the one home of these helpers.

Imported by name (``from synthetic import make_deployment``): pytest puts ``tests/`` on
``sys.path`` when it loads ``tests/conftest.py``, before any test module, so the import
does not depend on which folder's tests run first (``from conftest import …`` did).
Fixtures built from these (``small_scene``, ``grid_job``, ``two_site_job`` …) are in
``tests/conftest.py``.
"""

from __future__ import annotations

import numpy as np
import shapely

from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project

CRS = "EPSG:2154"
X0, Y0 = 842_000.0, 6_519_000.0  # near Lyon, Lambert-93 (multiples of 100 m: lattice-aligned)


def make_deployment(xy: np.ndarray, name: str = "synthetic") -> Deployment:
    """Sites ``S0 … S{n-1}`` of operator ``Op`` at the (n, 2) Lambert-93 coordinates ``xy`` (m)."""
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


def box_region(x0: float, y0: float, x1: float, y1: float, name: str = "box") -> Region:
    """The rectangle [x0, x1] × [y0, y1] (Lambert-93, m) as a region."""
    metric = shapely.box(x0, y0, x1, y1)
    return Region(name, project(metric, CRS, "EPSG:4326"), metric, CRS)


def square_region(half_m: float = 20_000.0, cx: float = X0, cy: float = Y0) -> Region:
    """A square of half-side ``half_m`` (m) centred on (cx, cy)."""
    return box_region(cx - half_m, cy - half_m, cx + half_m, cy + half_m, name="square")
