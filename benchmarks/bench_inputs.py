"""One map from a user's site list: a 24,000-site national list against a 500-site city (docs/INPUTS.md, kind 4).

What a user runs: ``deepmend predict --sites LIST.csv --site ID --out map.npz``. Each case runs in
its own process (so its peak RSS is its own): read the list, build its scene, map one site
with Voronoi. The national list is every Orange site of the Arcep 2018 file (24,000+ sites
over all of France); the city list is the ANFR Orange supports of Lyon (519). The site
mapped is the same place in Lyon in both (the one nearest Bellecour). Cost must follow the
window plus the influence margin, not the extent of the list: the ratio printed is
national / city.

    python benchmarks/bench_inputs.py            # prints the table row for benchmarks/RESULTS.md
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(kind: str, tmp: str) -> dict:
    """Run in a child process: write the list, then time read → scene → one map."""
    import numpy as np
    import pandas as pd

    from deepmend.config import data_dir

    if kind == "national":
        df = pd.read_csv(data_dir() / "fr_sites_arcep2018.csv", usecols=["site_id", "operator", "lat", "lon"])
        df = df[df.operator == "Orange"]
    else:
        df = pd.read_csv(data_dir() / "fr_lyon_orange_anfr_supports.csv", usecols=["anfr_support_id", "operator", "lat", "lon"])
        df = df.rename(columns={"anfr_support_id": "site_id"})
    k = int(np.argmin((df.lon.to_numpy() - 4.832) ** 2 + (df.lat.to_numpy() - 45.758) ** 2))
    site = str(df.site_id.iloc[k])
    path = Path(tmp) / f"{kind}.csv"
    df.to_csv(path, index=False)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    from deepmend.data.readers import read_sites
    from deepmend.models.voronoi import VoronoiModel
    from deepmend.scene import Scene

    t0 = time.perf_counter()
    dep = read_sites(path, country="FR")
    t_read = time.perf_counter() - t0
    scene = Scene.from_files(dep)
    from deepmend.grid.lattice import Lattice

    t = scene.targets
    whole = Lattice.for_sites(scene.crs, scene.deployment.x[t], scene.deployment.y[t])  # not allocated: its size only
    part, i = scene.part_for(site)
    m = VoronoiModel().fit(part).predict(i)
    m.save(Path(tmp) / f"{kind}.npz")
    total = time.perf_counter() - t0
    return {"kind": kind, "sites": int(len(dep)), "site": site, "read_s": t_read, "total_s": total,
            "lattice_cells": int(part.lattice.nx * part.lattice.ny), "whole_list_cells": int(whole.nx * whole.ny), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss0, "map_cells": int(m.mask.sum())}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("national", "city"):
        print(json.dumps(one(sys.argv[1], sys.argv[2])))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("city", "national"):
            out = subprocess.run([sys.executable, __file__, kind, tmp], capture_output=True, text=True, env=env, check=True)
            rows[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    print("| list | sites | read s | read + scene + one map s | lattice cells used | one lattice over the whole list would be | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for kind, label in (("city", "500-site city (Lyon, ANFR)"), ("national", "24,000-site national list (Arcep 2018)")):
        r = rows[kind]
        print(f"| {label} | {r['sites']:,} | {r['read_s']:.2f} | {r['total_s']:.2f} | {r['lattice_cells']:,} | {r['whole_list_cells']:,} | {r['peak_rss_mb']:.0f} |")
    c, n = rows["city"], rows["national"]
    print(f"ratio national / city: time {n['total_s'] / c['total_s']:.2f}×, time without reading {(n['total_s'] - n['read_s']) / (c['total_s'] - c['read_s']):.2f}×, "
          f"peak RSS {n['peak_rss_mb'] / c['peak_rss_mb']:.2f}×, lattice {n['lattice_cells'] / c['lattice_cells']:.2f}×")


if __name__ == "__main__":
    main()
