"""Full-resolution check of a trained student on held-out scenes (numbers for docs/MODEL_CARD.md).

For a random sample of BSs of each scene of a ground-truth dataset, at 100 m:

* DeepMEND vs ground truth and vs the teacher (KS, EMD km),
* the teacher vs ground truth (the upper reference the student imitates),
* Voronoi and the probabilistic model (α = 1.3, Traag et al. 2011) vs ground truth (the baselines),
* the *resolution floor*: KS between the teacher's map and the same map coarsened by the
  student's factor and brought back to 100 m by the student's post-processing — the error
  the coarse grid alone would cost a perfect network.

Scores are those of METHOD.md §3 (2-D KS, Peacock 1983; EMD in km); gains as in
Martínez-Durive et al. (SECON 2024).

    python -m deepmend.train.evaluate --data DIR [--scenes A,B] [--n 30] [--weights W] [--json OUT]

The canonical model comparison is ``deepmend evaluate`` (docs/RESULTS.md); this script is
the student's own check, fast enough to run after each training.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def resolution_floor_map(prob: np.ndarray, mask: np.ndarray, factor: int) -> np.ndarray:
    """``prob`` coarsened to mass per block, then upsampled as the student's output is (log-bilinear).

    Parameters
    ----------
    prob : numpy.ndarray, shape (600, 600)
        A 100 m map (lattice order, row 0 = south).
    mask : numpy.ndarray of bool, shape (600, 600)
        Valid cells.
    factor : int
        The student's coarsening factor.

    Returns
    -------
    numpy.ndarray of float32, shape (600, 600)
        The map after the round trip, normalised on the mask.
    """
    import torch
    import torch.nn.functional as F

    from deepmend.grid.diffusion_map import finalize
    from deepmend.models.features import block_mean, block_sum

    frac = block_mean(mask.astype(np.float32), factor)
    dens = np.where(frac > 0, block_sum(prob, factor) / np.maximum(frac, 1e-12), 0)
    z = np.log(np.maximum(dens, 1e-30)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(z)[None, None], scale_factor=float(factor), mode="bilinear", align_corners=False)[0, 0].numpy()
    return finalize(np.exp(up - up[mask].max()), mask)


def evaluate_scene(data: Path, key: str, entry: dict, n: int, seed: int, weights: str | None, runtime: str = "onnx", emd: bool = True) -> list[dict]:
    """Scores of the student, the teacher and the baselines on ``n`` seeded BSs of one scene.

    Parameters
    ----------
    data : Path
        The ground-truth dataset directory.
    key : str
        The scene's ``COUNTRY/City/Operator``.
    entry : dict
        Its entry of the dataset index.
    n : int
        BSs sampled (0: all).
    seed : int
        Sampling seed.
    weights : str or None
        DeepMEND weights (default the shipped ones).
    runtime : str, default "onnx"
        DeepMEND's runtime.
    emd : bool, default True
        Also compute EMD (slower).

    Returns
    -------
    list of dict
        One row per BS: α, ``ks_*`` and ``emd_*`` (km) of each pair.
    """
    from deepmend.groundtruth.reader import OperatorMaps
    from deepmend.metrics import emd_km, ks2d
    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.models.teacher import TeacherModel, candidate_maps
    from deepmend.models.voronoi import VoronoiModel
    from deepmend.scene import Scene
    from deepmend.train.dataset import TEACHER_ALPHAS

    scene = Scene.from_catalog(*key.split("/"))
    gt = OperatorMaps(data / entry["dir"]).fit(scene)
    sites = [int(i) for i in gt.available()]
    if n and len(sites) > n:
        sites = sorted(np.random.default_rng(seed).choice(sites, size=n, replace=False).tolist())
    teacher = TeacherModel(gt, alphas=TEACHER_ALPHAS).fit(scene)
    k13 = int(np.flatnonzero(np.isclose(teacher.alphas_, 1.3))[0])
    vor = VoronoiModel().fit(scene)
    dm = DeepMENDModel(weights, runtime=runtime).fit(scene)
    rows = []
    for i, m in zip(sites, dm.predict_many(sites)):
        truth = gt.predict(i).lattice_prob  # lattice order, like the teacher's soft labels
        a, ks_t, soft = teacher.choose(i, gt.predict(i))
        prob13 = candidate_maps(scene, i, teacher.alphas_[k13 : k13 + 1], teacher.denominators_[k13 : k13 + 1])[0]
        v = vor.predict(i).lattice_prob
        mp = m.lattice_prob
        floor = resolution_floor_map(soft, m.lattice_mask, dm.factor)
        r = {"scene": key, "site_id": str(scene.deployment.site_ids[i]), "alpha": a,
             "ks_deepmend_gt": ks2d(mp, truth), "ks_deepmend_teacher": ks2d(mp, soft), "ks_teacher_gt": ks_t,
             "ks_voronoi_gt": ks2d(v, truth), "ks_prob13_gt": ks2d(prob13, truth), "ks_resolution_floor": ks2d(floor, soft)}
        if emd:
            r.update({"emd_deepmend_gt": emd_km(mp, truth), "emd_deepmend_teacher": emd_km(mp, soft), "emd_teacher_gt": emd_km(soft, truth),
                      "emd_voronoi_gt": emd_km(v, truth), "emd_prob13_gt": emd_km(prob13, truth)})
        rows.append(r)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Mean and median of every score per scene and overall, gains over Voronoi and α = 1.3, and
    the student/teacher error ratios.

    Parameters
    ----------
    rows : list of dict
        :func:`evaluate_scene` rows of one or more scenes.

    Returns
    -------
    dict
        scene (and "all") → figures.
    """
    out: dict = {}
    for scene in sorted({r["scene"] for r in rows}) + ["all"]:
        sub = [r for r in rows if scene == "all" or r["scene"] == scene]
        keys = [k for k in sub[0] if k.startswith(("ks_", "emd_"))]
        out[scene] = {"n": len(sub), **{k: {"mean": float(np.mean([r[k] for r in sub])), "median": float(np.median([r[k] for r in sub]))} for k in keys}}
        for base in ("voronoi", "prob13"):
            for met in ("ks", "emd"):
                if f"{met}_{base}_gt" in sub[0]:
                    g = [(r[f"{met}_{base}_gt"] - r[f"{met}_deepmend_gt"]) / r[f"{met}_{base}_gt"] for r in sub if r[f"{met}_{base}_gt"] > 0]
                    out[scene][f"gain_{met}_over_{base}"] = float(np.mean(g))
        for met in ("ks", "emd"):
            if f"{met}_teacher_gt" in sub[0]:
                out[scene][f"{met}_vs_teacher_ratio"] = float(np.mean([r[f"{met}_deepmend_gt"] for r in sub]) / np.mean([r[f"{met}_teacher_gt"] for r in sub]))
    return out


def main() -> None:
    """Command-line entry (``python -m deepmend.train.evaluate``); prints the summary as JSON (see the module docstring)."""
    import torch

    ap = argparse.ArgumentParser(description="Full-resolution check of the DeepMEND student on held-out scenes.")
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--scenes", default="", help="Comma-separated COUNTRY/CITY/OPERATOR (default: every scene of --data)")
    ap.add_argument("--n", type=int, default=30, help="BSs per scene (random, seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--no-emd", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from deepmend.train.dataset import read_index

    index = read_index(args.data)
    keys = [k.strip() for k in args.scenes.split(",") if k.strip()] or list(index["scenes"])
    rows = []
    t0 = time.perf_counter()
    for key in keys:
        rows += evaluate_scene(args.data, key, index["scenes"][key], args.n, args.seed, args.weights, emd=not args.no_emd)
        print(f"{key}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
