"""Use case (docs/USE_CASE.md): device counts per BS from the population grid, geolocated back.

    .venv/bin/python docs/use_case_population.py [--half-km 40] [--models voronoi probabilistic deepmend]

1. Region: a square of 2·half km around Lyon; targets = France's Orange sites (Arcep 2018) in it.
2. Counts: each WorldPop 10 km cell is cut into 10×10 sub-points carrying 1 % of its people
   (points on land only). A sub-point's people attach to its 5 nearest Orange sites (all
   of France's, not only the targets) with weights ∝ (d₁/d_k)⁴, a soft best-server rule:
   mostly the nearest site, some load on the neighbours. counts_i = Σ people attached to
   i; people attached to non-target sites are dropped from the truth as well, so truth and
   counts hold the same total.
3. Geolocation: ``deepmend geolocate`` with each model, totals per 10 km cell through
   ``--polygons`` (the WorldPop cells as GeoJSON).
4. Errors on the interior cells (≥ 10 km inside the square): relative L1 = Σ|est − truth| / Σ truth,
   Pearson r, median absolute relative error; and a figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--half-km", type=float, default=40.0)
    ap.add_argument("--models", nargs="+", default=["voronoi", "probabilistic", "deepmend"])
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "use_case")
    ap.add_argument("--workers", default="2")
    args = ap.parse_args()
    import shapely
    from scipy.spatial import cKDTree
    from shapely.geometry import mapping

    from deepmend.config import data_dir
    from deepmend.data.crs import to_metric
    from deepmend.engine.job import open_country

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    cx, cy, h = 842_000.0, 6_519_000.0, args.half_km * 1000
    job = open_country("FR", "Orange", "fr2018")
    dep = job.deployment
    box = shapely.box(cx - h, cy - h, cx + h, cy + h)
    in_box = shapely.contains_xy(box, dep.x, dep.y)
    is_target = np.zeros(len(dep), bool)
    is_target[job.targets] = True
    is_target &= in_box
    # geolocate runs on the whole national deployment (tiles + margins), values only for targets

    pop = pd.read_csv(data_dir() / "popgrid_worldpop_10km_FR_GB_IE_BE.csv")
    pop = pop[pop.country == "FR"].reset_index(drop=True)
    step = 1 / 12
    # cells whose centre is in the box
    px, py = to_metric(pop.lon_c.to_numpy(), pop.lat_c.to_numpy(), "EPSG:2154")
    cells = pop[shapely.contains_xy(box, px, py)].reset_index(drop=True)
    sub = (np.arange(10) + 0.5) / 10 * step
    lon = (cells.lon_min.to_numpy()[:, None, None] + sub[None, None, :]).repeat(10, 1).reshape(len(cells), -1)
    lat = (cells.lat_min.to_numpy()[:, None, None] + sub[None, :, None]).repeat(10, 2).reshape(len(cells), -1)
    sx, sy = to_metric(lon.ravel(), lat.ravel(), "EPSG:2154")
    owner = np.repeat(np.arange(len(cells)), 100)
    people = np.repeat(cells.pop_2020.to_numpy() / 100.0, 100)
    land = shapely.contains_xy(job.mask_region.metric, sx, sy) & shapely.contains_xy(box, sx, sy)
    sx, sy, owner, people = sx[land], sy[land], owner[land], people[land]
    d, k = cKDTree(dep.xy).query(np.column_stack([sx, sy]), k=5)
    w = (np.maximum(d[:, :1], 1.0) / np.maximum(d, 1.0)) ** 4
    w /= w.sum(axis=1, keepdims=True)
    att = people[:, None] * w  # people of sub-point s attached to site k[s, j]
    counts = np.bincount(k.ravel(), weights=att.ravel(), minlength=len(dep))
    tgt = is_target[k]
    truth = np.bincount(np.repeat(owner, 5)[tgt.ravel()], weights=att.ravel()[tgt.ravel()], minlength=len(cells))
    values = pd.DataFrame({"site_id": dep.site_ids[is_target], "value": counts[is_target]})
    values.to_csv(work / "counts.csv", index=False)
    # the 10 km cells as polygons (WGS84) for --polygons
    feats = [{"type": "Feature", "properties": {"name": c.cell_id},
              "geometry": mapping(shapely.box(c.lon_min, c.lat_min, c.lon_min + step, c.lat_min + step))} for c in cells.itertuples()]
    (work / "cells.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    # interior cells: centre ≥ 10 km inside the box
    cxm, cym = to_metric(cells.lon_c.to_numpy(), cells.lat_c.to_numpy(), "EPSG:2154")
    interior = (np.abs(cxm - cx) <= h - 10_000) & (np.abs(cym - cy) <= h - 10_000)
    print(f"{is_target.sum()} target sites, {len(cells)} WorldPop cells ({interior.sum()} interior), {values.value.sum():.0f} people attached to targets "
          f"(of {people.sum():.0f} on land in the box)")
    results = {"n_sites": int(is_target.sum()), "n_cells": len(cells), "n_interior": int(interior.sum()), "people": float(values.value.sum()), "models": {}}
    est_by_model = {}
    for model in args.models:
        out = work / f"density_{model}.tif"
        cmd = [sys.executable, "-m", "deepmend.cli", "geolocate", "--values", str(work / "counts.csv"), "--country", "FR", "--operator", "Orange",
               "--dataset", "fr2018", "--model", model, "--out", str(out), "--polygons", str(work / "cells.geojson"),
               "--totals", str(work / f"totals_{model}.csv"), "--workers", args.workers]
        import time

        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"{model}: failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
            results["models"][model] = {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else str(r.returncode)}
            continue
        tot = pd.read_csv(work / f"totals_{model}.csv").set_index("polygon")["total"].reindex(cells.cell_id).to_numpy()
        est_by_model[model] = tot
        t, e = truth[interior], tot[interior]
        rep = json.loads(Path(str(out) + ".json").read_text())
        m = {"rel_l1": float(np.abs(e - t).sum() / t.sum()), "pearson_r": float(np.corrcoef(e, t)[0, 1]),
             "median_abs_rel_err": float(np.median(np.abs(e - t) / np.maximum(t, 1.0))), "wall_s": round(wall, 1),
             "raster_sum": rep["mass"]["raster_sum"][0], "lost_below_floor": rep["mass"]["lost_below_floor"][0]}
        results["models"][model] = m
        print(model, json.dumps(m))
    (work / "results.json").write_text(json.dumps(results, indent=2))
    figure(cells, truth, est_by_model, interior, work, ROOT / "docs" / "img" / "use_case_population.png")


def figure(cells, truth, est, interior, work, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from matplotlib.colors import LogNorm

    step = 1 / 12
    lon0, lat0 = cells.lon_min.min(), cells.lat_min.min()
    nx = int(round((cells.lon_min.max() - lon0) / step)) + 1
    ny = int(round((cells.lat_min.max() - lat0) / step)) + 1
    ix = np.rint((cells.lon_min - lon0) / step).astype(int)
    iy = np.rint((cells.lat_min - lat0) / step).astype(int)

    def grid(v):
        g = np.full((ny, nx), np.nan)
        g[iy, ix] = v
        return g

    panels = [("population attached (truth)", truth)] + [(f"{m} estimate", v) for m, v in est.items()]
    n = len(panels) + 1
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.4))
    vmax = np.nanmax(truth)
    norm = LogNorm(vmin=max(vmax * 1e-3, 1.0), vmax=vmax)
    ext = [lon0, lon0 + nx * step, lat0, lat0 + ny * step]
    for ax, (title, v) in zip(axes, panels):
        im = ax.imshow(grid(v), origin="lower", extent=ext, norm=norm, cmap="viridis")
        if title.endswith("estimate"):
            t = truth[interior]
            e = v[interior]
            title += f"\nrel. L1 {np.abs(e - t).sum() / t.sum():.3f}"
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes[: len(panels)], shrink=0.8, label="people per WorldPop cell")
    model = next(iter(est), None)
    if model:
        with rasterio.open(work / f"density_{model}.tif") as src:
            band = src.read(1)
            b = src.bounds
        ax = axes[-1]
        pos = band[band > 0]
        ax.imshow(np.where(band > 0, band, np.nan), extent=[b.left, b.right, b.bottom, b.top], norm=LogNorm(vmin=np.percentile(pos, 2), vmax=pos.max()), cmap="magma")
        ax.set_title(f"{model} density, 100 m (people/ha)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Geolocating device counts per BS (Orange, Arcep 2018, Lyon area); population: WorldPop 2020 (CC BY 4.0)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
