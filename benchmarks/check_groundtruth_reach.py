"""Effect of the ground truth's reach (simulator version 3) on a city: neglected share of D and map differences.

Fits the simulator twice on the same scene, with the default reach and with no reach cut
(``reach_floor_dbm`` = −1000 dBm: every site's term on its whole window, as version 2 did),
and reports (1) the neglected share ε(ℓ) = 1 − D_cut(ℓ)/D_full(ℓ) over the valid cells
(quantiles, max, and weighted by the user prior), (2) Σ_i P(i|ℓ) − 1 on a sample of cells,
(3) KS, EMD (km) and total variation between the two maps of ``--sample`` BSs. The same
random fields in both (version 3), so the differences are the cut's alone.

Run: .venv/bin/python benchmarks/check_groundtruth_reach.py --scene FR/Lyon/Orange --sample 40

``--versus A.npz B.npz`` instead compares two sets of maps written by benchmarks/gt_sample_maps.py
(e.g. simulator version 2 from an older checkout against this one): KS, EMD, TV quantiles.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.metrics.compare import compare
from deepmend.models.base import sample_sites
from deepmend.scene import Scene


def versus(a_path: str, b_path: str) -> None:
    """KS, EMD (km), TV between the maps of the same BSs in two .npz files."""
    with np.load(a_path) as a, np.load(b_path) as b:
        ids = sorted(set(a.files) & set(b.files))
        scores = [compare(a[k].astype(np.float64), b[k].astype(np.float64), with_tv=True) for k in ids]
    out = {"maps": len(ids)}
    for key in ("ks", "emd_km", "tv"):
        v = np.array([s[key] for s in scores])
        out[f"{key}_median"], out[f"{key}_p90"], out[f"{key}_max"] = (round(float(x), 5) for x in np.percentile(v, [50, 90, 100]))
    print(json.dumps(out, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scene", default="FR/Lyon/Orange")
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--versus", nargs=2, metavar=("A.npz", "B.npz"), help="compare two map sets instead")
    args = ap.parse_args()
    if args.versus:
        versus(*args.versus)
        return
    scene = Scene.from_catalog(*args.scene.split("/"))
    t0 = time.perf_counter()
    cut = GroundTruthSimulator(SimulatorConfig()).fit(scene)
    t1 = time.perf_counter()
    full = GroundTruthSimulator(SimulatorConfig(reach_floor_dbm=-1000.0)).fit(scene)
    t2 = time.perf_counter()
    m = scene.mask & (full.denominator_ > 0)
    eps = 1.0 - cut.denominator_[m].astype(np.float64) / full.denominator_[m]
    w = cut.prior_[m].astype(np.float64)
    q = np.percentile(eps, [50, 90, 99, 100])
    out = {"scene": args.scene, "fit_cut_s": round(t1 - t0, 1), "fit_full_s": round(t2 - t1, 1),
           "eps_p50": q[0], "eps_p90": q[1], "eps_p99": q[2], "eps_max": q[3], "eps_prior_weighted_mean": float((eps * w).sum() / w.sum())}
    scores = []
    for i in sample_sites(scene, args.sample, seed=0):
        a, b = cut.predict(int(i)), full.predict(int(i))
        s = compare(a.prob, b.prob, with_tv=True)
        s["area"] = cut.area_of(int(i))
        scores.append(s)
    for key in ("ks", "emd_km", "tv"):
        v = np.array([s[key] for s in scores if key in s])
        if v.size:
            out[f"{key}_median"], out[f"{key}_p90"], out[f"{key}_max"] = (float(x) for x in np.percentile(v, [50, 90, 100]))
    print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
