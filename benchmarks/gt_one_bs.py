"""One ground-truth map from a cold cache, in this process: the work behind a first click.

Prints one JSON line: scene, site, sites, wall and process CPU time (every thread) of
scene + model + map. Run by ``bench_groundtruth.py --one-bs`` with ``PYTHONPATH`` pointing at
the checkout to measure (this one, or an older commit's worktree) and an empty cache folder.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> None:
    country, city, operator = sys.argv[1].split("/")
    t0, c0 = time.perf_counter(), time.process_time()
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.scene import Scene

    scene = Scene.from_catalog(country, city, operator)
    site = int(scene.targets[len(scene.targets) // 2])  # a BS in the middle of the list, the same old and new
    part, i = scene.part_for(site)
    kw = {"lazy": True} if "lazy" in GroundTruthSimulator().get_params() else {}
    dm = GroundTruthSimulator(**kw).fit(part).predict(i)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"scene": sys.argv[1], "site": str(scene.deployment.site_ids[site]), "sites": len(part.deployment), "wall_s": round(wall, 2),
                      "cpu_s": round(cpu, 2), "mass": round(float(np.sum(dm.prob, dtype=np.float64)), 6),
                      "per_bs_path": bool(dm.meta.get("per_bs_path", False))}), flush=True)


if __name__ == "__main__":
    main()
