"""What the baselines learn from the training split, in one pass over its ground truth.

Per sampled training BS, one ground-truth map gives (a) VoronoiBoost's optimal scales and
(b) the KS of the probabilistic model for every reference α. From these: the VoronoiBoost
regressor, and the *global* α of the probabilistic baseline = the reference α with the
lowest mean KS over the training BSs (never chosen on the test split). Cached as
``training.npz`` in the evaluation directory, keyed by the split and options.
"""

from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np

from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel
from deepmend.models.probabilistic import REFERENCE_ALPHAS, denominators
from deepmend.models.teacher import search_alpha
from deepmend.models.voronoiboost import TAUS, _neighbour_lists, cell_gauge, optimal_scales
from deepmend.models.voronoiboost_features import compute_features
from deepmend.scene import Scene


def train_baselines(scenes: Sequence[tuple[str, Scene]], truth_for: Callable[[str, Scene], DiffusionModel], sites_for: Callable[[str, Scene], np.ndarray],
                    path, key: str, alphas: Sequence[float] = REFERENCE_ALPHAS, bar=None) -> dict:
    """{'features','scales','ks_by_alpha','alphas','best_alpha','cities'}; read from ``path`` when its key matches."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return {k: z[k] for k in z.files}
    except Exception:
        pass
    alphas = np.asarray(alphas, dtype=np.float64)
    feats, scales, ks_rows = [], [], []
    for name, scene in scenes:
        sites = sites_for(name, scene)
        if bar is not None:
            bar.set_postfix_str(f"train {name}: fitting ground truth")
        truth = truth_for(name, scene)
        f_all = compute_features(scene.deployment.xy)
        nbrs = _neighbour_lists(scene.deployment.xy)
        den = denominators(scene, alphas)
        for i in sites:
            i = int(i)
            p = truth.predict(i).lattice_prob
            scales.append(optimal_scales(cell_gauge(scene, i, nbrs[i]), p))
            feats.append(f_all[i])
            ks_rows.append(search_alpha(scene, i, p, alphas, den)[1])
            if bar is not None:
                bar.update(1)
    ks = np.array(ks_rows).reshape(-1, alphas.size)
    res = {"features": np.array(feats), "scales": np.array(scales).reshape(-1, len(TAUS)), "ks_by_alpha": ks, "alphas": alphas,
           "best_alpha": np.array(float(alphas[int(np.argmin(ks.mean(axis=0)))])), "key": np.array(key),
           "cities": np.array(json.dumps([n.split("/")[1] for n, _ in scenes]))}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **res)
    return res
