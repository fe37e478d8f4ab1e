"""Accuracy of the shipped DeepMEND weights with the inputs computed on the network's grid
(step 16) against the previous inputs (block means of the 100 m channels), same run, same BSs.

Ground truth: the simulator (``GroundTruthSimulator``, default configuration) on a test city
the weights never saw (default FR/Orléans/Orange, as in docs/RESULTS.md); KS and EMD (km, exact,
grid coarsened 10×10) from :mod:`deepmend.metrics`, the metrics of docs/RESULTS.md.

    PYTHONPATH=. .venv/bin/python benchmarks/check_features_accuracy.py [--city Orléans] [--n 40]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--country", default="FR")
    ap.add_argument("--city", default="Orléans")
    ap.add_argument("--operator", default="Orange")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from deepmend.metrics import emd_km, ks2d
    from deepmend.models import make_model
    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.models.features import FeatureBuilder, block_mean
    from deepmend.scene import Scene

    scene = Scene.from_catalog(args.country, args.city, args.operator)
    sites = sorted(np.random.default_rng(args.seed).choice(scene.targets, size=min(args.n, len(scene.targets)), replace=False).tolist())
    t0 = time.perf_counter()
    gt = make_model("groundtruth").fit(scene)
    print(f"ground truth fitted in {time.perf_counter() - t0:.0f} s", flush=True)
    new = DeepMENDModel().fit(scene)

    class OldInputs(FeatureBuilder):
        """The inputs up to step 15: 100 m channels, block-averaged."""

        def batch(self, sites, factor=1):
            n = 600 // factor
            x = np.empty((len(sites), 4, n, n), dtype=np.float32)
            masks = np.empty((len(sites), 600, 600), dtype=bool)
            for b, i in enumerate(sites):
                f, m = self.window(int(i))
                x[b] = block_mean(f, factor)
                masks[b] = m
            return x, masks

    old = DeepMENDModel().fit(scene)
    old.features_ = OldInputs(scene)
    rows = []
    for i, mo, mn in zip(sites, old.predict_many(sites), new.predict_many(sites)):
        truth = gt.predict(i).prob
        rows.append({"site": str(scene.deployment.site_ids[i]), "ks_old": ks2d(mo.prob, truth), "ks_new": ks2d(mn.prob, truth),
                     "emd_old": emd_km(mo.prob, truth, block=10), "emd_new": emd_km(mn.prob, truth, block=10),
                     "ks_old_new": ks2d(mo.prob, mn.prob)})
    agg = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "site"}
    agg.update({f"{k}_median": float(np.median([r[k] for r in rows])) for k in ("ks_old", "ks_new", "emd_old", "emd_new")})
    out = {"scene": scene.name, "n": len(rows), "seed": args.seed, **{k: round(v, 4) for k, v in agg.items()}}
    print(json.dumps(out, indent=1))
    print(f"\n{scene.name}, {len(rows)} BSs vs ground truth — old inputs (block means of 100 m channels): KS {agg['ks_old']:.3f}, EMD {agg['emd_old']:.2f} km;"
          f" new inputs (on the network's grid): KS {agg['ks_new']:.3f}, EMD {agg['emd_new']:.2f} km; KS old vs new maps {agg['ks_old_new']:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": out, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
