"""Radii of mass of the students' maps against the real maps' range (issue 19).

The real operator maps hold 90 % of their mass within 7.7–14.8 km (three published BSs, central
40 km window, mass renormalised there); students trained on one simulator put it further out.
For the evaluation's seeded BS sample of each test scene this prints, per model and area type,
the median [10th–90th percentile] of r50 and r90 on the central 40 km and the share of BSs whose
r90 lies inside the real range (Markdown)::

    python -m deepmend.evaluation.radii --test 'FR/Orléans/Orange,FR/Le Mans/Orange,FR/Rennes/SFR' --max-bs 20 \\
        --weights default=deepmend/weights/deepmend.json --weights soft=deepmend/weights/deepmend_softlabels.json --truths
"""

from __future__ import annotations

import argparse

import numpy as np

REAL_R90_KM = (7.7, 14.8)


def main() -> None:
    """Command-line entry (``python -m deepmend.evaluation.radii``): print the Markdown table of the
    module docstring.

    Reads ``--test`` scenes, the seeded BS sample (``--max-bs``, ``--seed``), student weights
    (``--weights NAME=FILE``, repeatable) and optionally both simulated truths (``--truths``); r50 and
    r90 are :func:`deepmend.groundtruth.stats.map_stats`' radii of mass on the central 40 km, in km.
    Bad arguments exit through argparse (code 2); a bad scene name raises ``InputError``.
    """
    from deepmend.evaluation.runner import area_types, sample_sites
    from deepmend.evaluation.splits import parse_specs
    from deepmend.groundtruth.stats import map_stats
    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.scene import Scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test", required=True)
    ap.add_argument("--max-bs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", action="append", default=[], help="NAME=WEIGHTS.json (repeatable)")
    ap.add_argument("--truths", action="store_true", help="Also the two simulated ground truths (GT1, GT2).")
    args = ap.parse_args()
    rows: dict[str, list[tuple[str, float, float]]] = {}
    for spec in parse_specs(args.test, "--test"):
        scene = Scene.from_catalog(*spec.as_tuple())
        sites = sample_sites(scene, args.max_bs, args.seed)
        areas = area_types(scene)
        models = {n: DeepMENDModel(w).fit(scene) for n, w in (s.split("=", 1) for s in args.weights)}
        if args.truths:
            from deepmend.groundtruth.sim2 import SignalDominanceSimulator
            from deepmend.groundtruth.simulator import GroundTruthSimulator

            models["GT1 (simulator)"] = GroundTruthSimulator().fit(scene)
            models["GT2 (sim2)"] = SignalDominanceSimulator().fit(scene)
        for name, model in models.items():
            for i in sites:
                v = map_stats(model.predict(int(i)), scene, int(i)).values
                rows.setdefault(name, []).append((str(areas[i]), v["r50_km"], v["r90_km"]))
    print("| maps | area | n | r50 km | r90 km | r90 inside 7.7–14.8 km |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        for area in ("urban", "suburban", "rural", "all"):
            sel = [x for x in r if area == "all" or x[0] == area]
            if not sel:
                continue
            r50 = np.array([x[1] for x in sel])
            r90 = np.array([x[2] for x in sel])
            inside = np.mean((r90 >= REAL_R90_KM[0]) & (r90 <= REAL_R90_KM[1]))
            f = lambda v: f"{np.median(v):.2f} [{np.percentile(v, 10):.2f}–{np.percentile(v, 90):.2f}]"  # noqa: E731
            print(f"| {name} | {area} | {len(sel)} | {f(r50)} | {f(r90)} | {100 * inside:.0f} % |")


if __name__ == "__main__":
    main()
