"""VoronoiBoost benchmark: features of every Orange site of Lyon, and one ring map per BS.

The reference code takes 81 s for the features of the 519 Lyon sites (METHOD.md §5);
goal < 2 s. For a ratio measured in the same process, a naive per-site implementation
(Python BFS over Delaunay neighbour sets for the k-hop neighbourhoods, the cell by
intersecting the 30 km disc with one half-plane per other site, per-vertex loops) is
run on ``--naive-bs`` sites and extrapolated linearly to all sites.

Then VoronoiBoost's **first use** (``--first-use``, on by default): fit on Lyon/Orange and
one map, in a private empty cache directory and with the process-wide resource cache
cleared, (a) with the shipped regressor (load + checksum + fit) and (b) trained on request
on the shipped recipe's scenes minus Lyon (what the API did on first use before the
regressor shipped: ground truth of each training scene, table, regressor); ratio printed.
``--train-scenes N`` trains on the first N of those scenes only (quicker, smaller ratio).

Run: .venv/bin/python benchmarks/bench_voronoiboost.py [--naive-bs 5] [--no-first-use] [--train-scenes N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely
from scipy.spatial import Delaunay

from deepmend.models.voronoiboost import TAUS, _neighbour_lists, cell_gauge, ring_map
from deepmend.models.voronoiboost_features import CELL_CAP_M, HOPS, compute_features
from deepmend.scene import Scene


def naive_features(xy: np.ndarray, sites: np.ndarray) -> None:
    n = len(xy)
    nbrs = [set() for _ in range(n)]
    for tri in Delaunay(xy).simplices:
        for a in tri:
            nbrs[a].update(int(b) for b in tri if b != a)

    def cell(i):
        c = shapely.Point(xy[i]).buffer(CELL_CAP_M, quad_segs=16)
        for j in range(n):
            if j != i:
                mid, d = (xy[i] + xy[j]) / 2, xy[j] - xy[i]
                u = d / np.linalg.norm(d)
                p = np.array([-u[1], u[0]]) * 1e6
                c = c.intersection(shapely.Polygon([mid + p, mid + p - u * 1e6, mid - p - u * 1e6, mid - p]))
        return c

    for i in sites:
        seen, frontier = {int(i)}, {int(i)}
        for k in range(1, max(HOPS) + 1):
            frontier = {v for u in frontier for v in nbrs[u]} - seen
            seen |= frontier
            if k in HOPS:
                [cell(j).area for j in list(seen)[:3]]  # a few neighbour cells per hop set (cheaper than the reference)
                [np.hypot(*(xy[u] - xy[v])) for u in seen for v in nbrs[u] if v in seen]
        c = cell(i)
        v = np.array(c.exterior.coords)
        max(np.hypot(*(a - b)) for a in v for b in v)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive-bs", type=int, default=3)
    ap.add_argument("--no-first-use", action="store_true", help="skip the first-use comparison (shipped load vs training)")
    ap.add_argument("--train-scenes", type=int, default=None, help="train on the first N training scenes only (default all but Lyon's)")
    args = ap.parse_args()
    scene = Scene.from_catalog("FR", "Lyon", "Orange")
    xy = scene.deployment.xy
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        compute_features(xy)
        times.append(time.perf_counter() - t0)
    print(f"features, {len(xy)} sites: best {min(times):.3f} s, median {np.median(times):.3f} s (goal < 2 s; reference 81 s)")
    sites = np.arange(min(args.naive_bs, len(xy)))
    t0 = time.perf_counter()
    naive_features(xy, sites)
    naive = (time.perf_counter() - t0) / len(sites) * len(xy)
    print(f"naive per-site loop: {naive:.1f} s extrapolated to {len(xy)} sites → speed-up {naive / min(times):.0f}×")
    nbrs = _neighbour_lists(xy)
    scene.mask  # noqa: B018
    t0 = time.perf_counter()
    scales = np.array([0.5, 0.9, 1.5, 2.0, 3.0])
    for i in scene.targets[:50]:
        rs, cs = scene.slices(int(i))
        ring_map(cell_gauge(scene, int(i), nbrs[int(i)]), scene.mask[rs, cs], scales, TAUS)
    print(f"ring map (gauge + rings) per BS: {(time.perf_counter() - t0) / 50 * 1e3:.1f} ms")
    if not args.no_first_use:
        first_use(scene, args.train_scenes)


def first_use(scene: Scene, n_scenes: int | None) -> None:
    """Shipped regressor vs training on request, both cold (empty cache dir, cleared resource cache)."""
    import os
    import tempfile

    from deepmend.models.voronoiboost import SHIPPED_TRAIN
    from deepmend.registry import make_model
    from deepmend.resources import SHARED
    from deepmend.scene_spec import city_key

    site = int(scene.targets[0])
    specs = [s for s in SHIPPED_TRAIN if city_key(s[1]) != "lyon"][:n_scenes]
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEEPMEND_CACHE_DIR"] = cache
        SHARED.clear()
        t0 = time.perf_counter()
        make_model("voronoiboost").fit(scene).predict(site)
        shipped = time.perf_counter() - t0
        print(f"first use, shipped regressor (load + SHA-256 + fit on {len(scene.targets)} sites + 1 map): {shipped:.2f} s")
        SHARED.clear()
        t0 = time.perf_counter()
        make_model("voronoiboost", train_specs=specs).fit(scene).predict(site)
        trained = time.perf_counter() - t0
        print(f"first use, trained on request on {len(specs)} scenes ({', '.join('/'.join(s) for s in specs)}; cold ground truth): {trained:.1f} s")
        print(f"→ shipped first use {trained / shipped:.0f}× faster")


if __name__ == "__main__":
    main()
