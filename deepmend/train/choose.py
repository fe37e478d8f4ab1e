"""Choose between trained weights on a validation city, against a ground truth computed once.

``deepmend evaluate`` recomputes the ground-truth map of every BS whenever a model is added to
an evaluation directory; choosing among several training runs on the second ground truth
(issue 19: the default is chosen by GT2 on the validation city, never on a test city) would
pay the simulator again for every run. This computes the truth maps of the evaluation's own
seeded BS sample (:func:`deepmend.models.base.sample_sites`, same seed → same BSs as
``deepmend evaluate --max-bs``) once, keeps them in ``--cache`` (compact maps, keyed by the
truth's configuration digest), and scores every weights file exactly as the evaluation does
(:func:`deepmend.evaluation.runner.compare_maps`: KS and EMD on the full 60 km window and on
the central 40 km), plus Voronoi as the baseline and r90 on the central 40 km
(:func:`deepmend.groundtruth.stats.map_stats`). Prints a Markdown table; the score is the mean
per-BS gain over Voronoi in KS plus that in EMD (the quantity the targets are stated in; scores of
METHOD.md §3, gains as in Martínez-Durive et al., SECON 2024)::

    python -m deepmend.train.choose --truth sim2 --scene FR/Nantes/SFR --max-bs 20 \\
        --weights v4=deepmend/weights/deepmend.json --weights env=.cache/student/runs/env/deepmend.json

``--ceiling K`` adds the noise ceiling (:class:`deepmend.evaluation.ceiling.NoiseCeilingModel`: the
mean of K other seeds of the same truth, the best position-only prediction in KL) as a row; the truth
maps still come from the cache, the K seeds' maps are computed (GT1: per-BS path; GT2: one
deployment fit per seed, cached on disk by the simulator).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def truth_model(name: str):
    """(fitted-later model, configuration digest) of ground truth ``sim1`` (GT1) or ``sim2`` (GT2).

    Parameters
    ----------
    name : {"sim1", "sim2"}
        The ground truth (any other name is GT1).

    Returns
    -------
    model : DiffusionModel
        Unfitted.
    digest : str
        Its configuration's digest (the cache key).
    """
    if name == "sim2":
        from deepmend.groundtruth.sim2 import Sim2Config, SignalDominanceSimulator

        cfg = Sim2Config()
        return SignalDominanceSimulator(cfg), cfg.digest()
    from deepmend.groundtruth.config import SimulatorConfig
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    cfg1 = SimulatorConfig()
    return GroundTruthSimulator(cfg1), cfg1.digest()


def truth_maps(scene, key: str, sites, name: str, cache: Path) -> list:
    """The ground-truth maps of ``sites`` (computed once, then read from ``cache``).

    Parameters
    ----------
    scene : Scene
        The validation scene.
    key : str
        Its ``COUNTRY/City/Operator``.
    sites : sequence of int
        The BS sample.
    name : str
        The ground truth (:func:`truth_model`).
    cache : Path
        The cache directory.

    Returns
    -------
    list of DiffusionMap
        One north-up map per site, in order.
    """
    from deepmend.grid.map_dir import safe_name
    from deepmend.groundtruth.storage import load_compact, save_compact

    model, digest = truth_model(name)
    d = cache / safe_name(key) / f"{name}_{digest[:16]}"
    d.mkdir(parents=True, exist_ok=True)
    out, fitted = [], False
    for i in sites:
        p = d / f"{safe_name(str(scene.deployment.site_ids[int(i)]))}.npz"
        if not p.exists():
            if not fitted:
                model.fit(scene)
                fitted = True
            save_compact(model.predict(int(i)), p, floor=0.0)
        out.append(load_compact(p))
    return out


def score(scene, key: str, truth: list, sites, models: dict) -> dict:
    """Per model: per-BS metric records (KS, EMD on both windows, r90, area).

    Parameters
    ----------
    scene : Scene
        The validation scene.
    key : str
        Its key.
    truth : list of DiffusionMap
        :func:`truth_maps`.
    sites : sequence of int
        The BS sample, in the same order.
    models : dict of str to DiffusionModel
        Fitted models by label.

    Returns
    -------
    dict of str to list of dict
        Per model, one record per BS: ``ks``, ``emd_km`` and their ``_c40`` values, ``r90_km``, ``area``.
    """
    from deepmend.evaluation.runner import area_types, compare_maps
    from deepmend.groundtruth.stats import map_stats

    areas = area_types(scene)
    rows: dict[str, list[dict]] = {}
    for name, model in models.items():
        for t, i in zip(truth, sites):
            m = model.predict(int(i))
            rec = compare_maps(m.prob, t.prob)
            rec["r90_km"] = map_stats(m, scene, int(i)).values["r90_km"]
            rec["area"] = str(areas[int(i)])
            rows.setdefault(name, []).append(rec)
    return rows


def table(rows: dict, base: str = "voronoi") -> str:
    """The Markdown table of :func:`score`'s records: mean scores per window, gains over ``base``
    (mean / median per BS), the score (mean KS gain + mean EMD gain) and the median r90.

    Parameters
    ----------
    rows : dict of str to list of dict
        :func:`score` output; must hold ``base``.
    base : str, default "voronoi"
        The baseline's label.

    Returns
    -------
    str
    """
    def gain(name: str, k: str) -> np.ndarray:
        b = np.array([r[k] for r in rows[base]])
        m = np.array([r[k] for r in rows[name]])
        ok = b > 0
        return (b[ok] - m[ok]) / b[ok]

    lines = ["| weights | KS 60 km | EMD 60 km | KS 40 km | EMD 40 km | KS gain (mean / median) | EMD gain (mean / median) | score | r90 median km |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        mean = lambda k: float(np.nanmean([x[k] for x in r]))  # noqa: E731
        if name == base:
            g = "– | – | –"
        else:
            gk, ge = gain(name, "ks"), gain(name, "emd_km")
            g = f"{100 * gk.mean():+.1f} % / {100 * np.median(gk):+.1f} % | {100 * ge.mean():+.1f} % / {100 * np.median(ge):+.1f} % | {gk.mean() + ge.mean():+.2f}"
        lines.append(f"| {name} | {mean('ks'):.3f} | {mean('emd_km'):.2f} | {mean('ks_c40'):.3f} | {mean('emd_km_c40'):.2f} | {g} | "
                     f"{np.median([x['r90_km'] for x in r]):.1f} |")
    return "\n".join(lines)


def main() -> None:
    """Command-line entry (``python -m deepmend.train.choose``): see the module docstring."""
    from deepmend.evaluation.splits import parse_specs
    from deepmend.models.base import sample_sites
    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.models.voronoi import VoronoiModel
    from deepmend.scene import Scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--truth", choices=("sim1", "sim2"), default="sim2")
    ap.add_argument("--scene", default="FR/Nantes/SFR", help="Validation scene (never a test city).")
    ap.add_argument("--max-bs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path(".cache/student/choose"))
    ap.add_argument("--weights", action="append", default=[], help="NAME=WEIGHTS.json (repeatable)")
    ap.add_argument("--json", type=Path, default=None, help="Also write the per-BS records here.")
    ap.add_argument("--ceiling", type=int, default=None, metavar="K",
                    help="Also score the noise ceiling: the mean of K other seeds of the truth (the best position-only prediction in KL; a reference in KS/EMD).")
    args = ap.parse_args()
    spec = parse_specs(args.scene, "--scene")[0]
    scene = Scene.from_catalog(*spec.as_tuple())
    sites = sample_sites(scene, args.max_bs, args.seed)
    truth = truth_maps(scene, spec.key, sites, args.truth, args.cache)
    if args.ceiling is not None and args.ceiling < 1:
        ap.error(f"--ceiling: must be ≥ 1, got {args.ceiling}")
    models = {"voronoi": VoronoiModel().fit(scene), **{n: DeepMENDModel(w).fit(scene) for n, w in (s.split("=", 1) for s in args.weights)}}
    if args.ceiling is not None:
        from deepmend.evaluation.ceiling import CEILING_NAME, NoiseCeilingModel

        models[f"{CEILING_NAME} (K={args.ceiling})"] = NoiseCeilingModel(truth_model(args.truth)[0], k=args.ceiling).fit(scene)
    rows = score(scene, spec.key, truth, sites, models)
    print(f"{args.truth} on {spec.key}, {len(sites)} BSs (seed {args.seed})")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
