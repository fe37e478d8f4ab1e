"""Small synthetic scenes for the ground-truth tests: a few sites in a square region."""

from __future__ import annotations

import numpy as np
import shapely

from deepmend.data.deployment import Deployment
from deepmend.data.regions import Region, project
from deepmend.groundtruth.config import SimulatorConfig
from deepmend.scene import Scene

CRS = "EPSG:2154"
X0, Y0 = 650_050.0, 6_500_050.0  # cell centres of the national lattice (window symmetric about the site)


def deployment(xy: list[tuple[float, float]], ids: list[str] | None = None) -> Deployment:
    n = len(xy)
    a = np.asarray(xy, dtype=float)
    return Deployment(
        site_ids=np.array(ids or [f"s{k}" for k in range(n)]), operator=np.array(["Op"] * n), x=a[:, 0], y=a[:, 1], crs=CRS,
        height_m=np.full(n, np.nan), technology=np.array(["4G"] * n), name="synthetic",
    )


def square_region(cx: float, cy: float, half: float) -> Region:
    metric = shapely.box(cx - half, cy - half, cx + half, cy + half)
    return Region("square", project(metric, CRS, "EPSG:4326"), metric, CRS)


def scene(xy, targets=None, half: float = 40_000.0, ids=None) -> Scene:
    return Scene(deployment(xy, ids), square_region(X0, Y0, half), None if targets is None else np.asarray(targets), name="synthetic")




def cluster(n_ring: int = 6, ring_m: float = 1500.0) -> list[tuple[float, float]]:
    """A centre site, a ring of neighbours and two far sites (keeps ≥ 3 sites without the ring)."""
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False) + 0.3
    ring = [(X0 + ring_m * np.cos(a), Y0 + ring_m * np.sin(a)) for a in ang]
    return [(X0, Y0), (X0 + 150_000.0, Y0), (X0, Y0 + 150_000.0)] + ring


def grid_around(n: int = 2, step_m: float = 2000.0) -> list[tuple[float, float]]:
    """The centre site, two far sites, then a (2n+1)² grid of neighbours around the centre."""
    pts = [(X0 + dx * step_m, Y0 + dy * step_m) for dx in range(-n, n + 1) for dy in range(-n, n + 1) if (dx, dy) != (0, 0)]
    return [(X0, Y0), (X0 + 150_000.0, Y0), (X0, Y0 + 150_000.0)] + pts
