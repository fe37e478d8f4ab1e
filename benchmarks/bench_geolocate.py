"""Geolocation estimators at city scale: ≈ 500 BSs × 10⁶ cells, each estimator timed against ``spread`` in the same run.

    nice -n 10 .venv/bin/python benchmarks/bench_geolocate.py [--sites 500] [--side 1000] [--scale-m 1500] [--floor 1e-5]

The lattice is ``side``×``side`` cells of 100 m (10⁶ cells for side 1000 = a 100 km square).
Each BS's map is exp(−d/scale) on its own 600×600 window, cut at ``floor``·max (as the
engine's ``--floor``) and normalised: with scale 1.5 km and floor 1e-5 that keeps ≈ 30 % of
the window (≈ 1.1·10⁵ cells per BS), about the footprint of the DeepMEND and probabilistic
maps. Counts come from a known density (a city centre on a rural background) through the
association P(i|ℓ). Times are wall-clock seconds on this (shared) machine; the ratio column
divides by ``spread``'s time measured in the same run, so machine load cancels to first order.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import scipy.sparse as sp


def build(n_sites: int, side: int, scale_cells: float, floor: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    # sites denser in the centre (a city), none within 300 cells of the edge so windows fit
    r = np.abs(rng.normal(0, side / 6, n_sites))
    a = rng.uniform(0, 2 * np.pi, n_sites)
    cx = np.clip(side / 2 + r * np.cos(a), 300, side - 300).astype(int)
    cy = np.clip(side / 2 + r * np.sin(a), 300, side - 300).astype(int)
    off = np.arange(-300, 300)
    dy, dx = np.meshgrid(off, off, indexing="ij")
    kern = np.exp(-np.hypot(dx + 0.5, dy + 0.5) / scale_cells).ravel()
    keep = kern >= floor * kern.max()
    kv = kern[keep] / kern[keep].sum()
    ky, kx = dy.ravel()[keep], dx.ravel()[keep]
    rows = np.repeat(np.arange(n_sites, dtype=np.int32), kv.size)
    cols = ((cy[:, None] + ky[None, :]) * side + (cx[:, None] + kx[None, :])).ravel()
    P = sp.csr_matrix((np.tile(kv, n_sites), (rows, cols)), shape=(n_sites, side * side))
    del rows, cols
    yy, xx = np.divmod(np.arange(side * side), side)
    u = 5.0 + 2_000.0 * np.exp(-((xx - side / 2) ** 2 + (yy - side / 2) ** 2) / (2 * (side / 12) ** 2))
    return P, u


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=500)
    ap.add_argument("--side", type=int, default=1000)
    ap.add_argument("--scale-m", type=float, default=1500.0)
    ap.add_argument("--floor", type=float, default=1e-5)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-iter", type=int, default=200)
    args = ap.parse_args()
    from deepmend.geolocate.estimators import association, bayes, ml_em, spread

    t0 = time.perf_counter()
    P, u = build(args.sites, args.side, args.scale_m / 100.0, args.floor)
    A = association(P)
    v = np.random.default_rng(1).poisson(np.asarray(A @ u)).astype(float)[:, None]
    del A
    t_build = time.perf_counter() - t0
    print(f"{args.sites} BSs × {args.side ** 2:,} cells, {P.nnz / args.sites:,.0f} entries per BS ({P.nnz:,} in all), built in {t_build:.1f} s; "
          f"{os.cpu_count()} CPUs visible")
    rows = []
    for name, fn in (("spread", lambda: spread(P, v)),
                     ("bayes (population-like prior)", lambda: bayes(P, v, u)),
                     ("ml-em", lambda: ml_em(P, v, np.ones(P.shape[1]), tol=args.tol, max_iter=args.max_iter))):
        t = time.perf_counter()
        est = fn()
        dt = time.perf_counter() - t
        err = float(np.abs(est.density[:, 0] - u).sum() / u.sum())
        rows.append({"estimator": name, "seconds": round(dt, 2), "rel_l1": round(err, 4),
                     **({"iterations": est.info["iterations"], "stopped": est.info["stopped"]} if "iterations" in est.info else {})})
    base = rows[0]["seconds"]
    print("| estimator | wall (s) | × spread | EM steps | relative L1 to the known density |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['estimator']} | {r['seconds']:.2f} | {r['seconds'] / max(base, 1e-9):.1f} | {r.get('iterations', '')} {r.get('stopped', '')} | {r['rel_l1']:.3f} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
