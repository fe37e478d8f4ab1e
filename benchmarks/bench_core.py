"""Core engine benchmark: Voronoi and probabilistic (α = 1.3) maps for every Orange site of Lyon.

End to end = scene (catalog, lattice, mask), per-deployment work, and every BS's map
written to a temporary directory. The ratio is taken against a naive implementation
run in the same process on a few BSs: a Python loop over the window's 360,000 cells
with one KD-tree query per cell (the reference code's way of building its inputs) for
Voronoi, and a per-cell sum over all sites for the probabilistic model.

Run: .venv/bin/python benchmarks/bench_core.py [--naive-bs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from deepmend.grid.diffusion_map import finalize
from deepmend.registry import make_model
from deepmend.scene import Scene


def naive_voronoi(scene: Scene, i: int) -> np.ndarray:
    win = scene.window(i)
    xs, ys = win.centers()
    out = np.zeros((win.size, win.size), np.float32)
    for r in range(win.size):
        for c in range(win.size):
            out[r, c] = scene.tree.query((xs[c], ys[r]))[1] == i
    rs, cs = scene.slices(i)
    return finalize(out, scene.mask[rs, cs])


def naive_probabilistic(scene: Scene, i: int, alpha: float) -> np.ndarray:
    win = scene.window(i)
    xs, ys = win.centers()
    sx, sy = scene.deployment.x, scene.deployment.y
    out = np.zeros((win.size, win.size), np.float64)
    for r in range(win.size):
        for c in range(win.size):
            w = np.maximum(np.hypot(sx - xs[c], sy - ys[r]), 1.0) ** -alpha
            out[r, c] = w[i] / w.sum()
    rs, cs = scene.slices(i)
    return finalize(out, scene.mask[rs, cs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive-bs", type=int, default=1, help="BSs computed by the naive loops (each takes seconds)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    scene = Scene.from_catalog("FR", "Lyon", "Orange")
    t_scene = time.perf_counter() - t0
    n = len(scene.targets)
    print(f"scene FR/Lyon/Orange: {n} target BSs, lattice {scene.lattice.nx}×{scene.lattice.ny}, built in {t_scene:.2f} s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, params in (("voronoi", {}), ("probabilistic", {"alpha": 1.3})):
            model = make_model(name, **params)
            t1 = time.perf_counter()
            model.fit(scene)
            t_fit = time.perf_counter() - t1
            t2 = time.perf_counter()
            fast = {}
            for m in model.predict_many():
                m.save(Path(tmp) / f"{name}_{m.site_id}.npz")
                fast[m.site_id] = m.lattice_prob  # the naive loops below run in lattice order (rows northward)
            t_maps = time.perf_counter() - t2
            per_bs = (t_fit + t_maps) / n * 1e3
            per_bs_e2e = (t_scene + t_fit + t_maps) / n * 1e3
            naive_ms = []
            for i in scene.targets[: args.naive_bs]:
                t3 = time.perf_counter()
                ref = naive_voronoi(scene, int(i)) if name == "voronoi" else naive_probabilistic(scene, int(i), 1.3)
                naive_ms.append((time.perf_counter() - t3) * 1e3)
                got = fast[str(scene.deployment.site_ids[i])]
                assert np.allclose(ref, got, atol=1e-6), "naive and vectorised maps differ"
            naive = float(np.mean(naive_ms))
            rows.append((name, n, t_fit, t_maps, per_bs, per_bs_e2e, naive, naive / per_bs))
    print()
    print("| model | BSs | per-deployment work (s) | all maps incl. write (s) | ms per BS (model) | ms per BS (end to end, incl. scene) | naive loop ms per BS | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, t_fit, t_maps, per_bs, e2e, naive, ratio in rows:
        print(f"| {name} | {n} | {t_fit:.2f} | {t_maps:.2f} | {per_bs:.1f} | {e2e:.1f} | {naive:.0f} | {ratio:.0f}× |")


if __name__ == "__main__":
    main()
