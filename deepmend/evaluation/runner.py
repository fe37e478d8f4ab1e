"""Per-BS evaluation of models against a ground truth, cached per BS so that a rerun resumes.

Layout of an evaluation directory::

    OUT/run.json               command, split, seed, ground truth, models, options
    OUT/training.npz           baselines fitted on the training split (VoronoiBoost table, KS per α)
    OUT/bs/<scene>/<site>.json one BS: area type, teacher α, metrics of every model
    OUT/gallery/<scene>/<site>/<model>.npz   maps of the gallery BSs (compact storage)

Metrics (METHOD.md §3): 2-D KS, EMD (km; exact network simplex on the grid coarsened by
``emd_block``, error ≤ √2·(block−1)·0.1 km), Jensen–Shannon (bits), total variation.

Area type of a BS (documented in the report): the density of the deployment's sites
within 3 km of it (itself excluded) — urban ≥ 1 site/km², suburban ≥ 0.15, else rural;
the thresholds of the ground-truth simulator, so a BS has the same class in both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from deepmend.errors import DeepmendError, InputError
from deepmend.groundtruth.areas import area_types as site_area_types
from deepmend.groundtruth.config import AREA_TYPES, SimulatorConfig
from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel, sample_sites  # noqa: F401 - sample_sites re-exported
from deepmend.scene import Scene

METRICS = ("ks", "emd_km", "js", "tv", "ks_c40", "emd_km_c40")
#: The central 40 km × 40 km of a 600×600 window (the window of the published figures and
#: of the real-map check of issue 19): both maps cropped and renormalised there.
CENTRAL = slice(100, 500)
_AREA_CONFIG = SimulatorConfig()
#: The area-type rule (one home: :func:`deepmend.groundtruth.areas.area_types` with the default thresholds).
AREA_RADIUS_M = _AREA_CONFIG.density_radius_m
URBAN_PER_KM2, SUBURBAN_PER_KM2 = _AREA_CONFIG.urban_sites_per_km2, _AREA_CONFIG.suburban_sites_per_km2
AREAS = AREA_TYPES


def area_types(scene: Scene) -> np.ndarray:
    """'urban' / 'suburban' / 'rural' for every site of the scene: the simulator's rule with its default thresholds."""
    return np.asarray(AREA_TYPES)[site_area_types(scene.deployment.xy, scene.tree, _AREA_CONFIG)]


def compare_maps(pred: np.ndarray, truth: np.ndarray, emd_block: int = 10) -> dict[str, float]:
    """KS, EMD (km), JS, TV on the full window, and KS / EMD on the central 40 km (``*_c40``, both maps renormalised there)."""
    from deepmend.metrics import compare, emd_km, ks2d

    out = compare(pred, truth, emd_block=emd_block)
    p, t = (np.asarray(a, dtype=np.float64)[CENTRAL, CENTRAL] for a in (pred, truth))
    sp, st = p.sum(), t.sum()
    if sp > 0 and st > 0:
        out["ks_c40"], out["emd_km_c40"] = ks2d(p / sp, t / st), emd_km(p / sp, t / st, block=emd_block)
    else:  # a map with no mass in the central window: no central figure for this BS
        out["ks_c40"] = out["emd_km_c40"] = float("nan")
    return out


def safe(s: str) -> str:
    """File-safe form of a scene key or site id (:func:`deepmend.grid.map_dir.safe_name`)."""
    from deepmend.grid.map_dir import safe_name

    return safe_name(s)


@dataclass
class SceneJob:
    """One test scene: which BSs, how to build the ground truth and the models (lazily)."""

    key: str
    scene: Scene
    truth: Callable[[], DiffusionModel]
    models: dict[str, Callable[[DiffusionModel], DiffusionModel]]
    sites: np.ndarray
    gallery: set[int] = field(default_factory=set)
    #: models that could not be built here (e.g. weights not shipped yet): name → reason
    unavailable: dict[str, str] = field(default_factory=dict)


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except Exception:  # missing or partial: recompute
        return None


def run_scene(job: SceneJob, out: Path, emd_block: int, bar=None) -> list[dict]:
    """Evaluate every model on every BS of ``job``; cached BS results are reused, models fitted only if needed.

    Raises
    ------
    InputError
        If a model returns a map on another window than the ground truth's for a BS.
    """
    from deepmend.groundtruth.storage import save_compact

    bs_dir = out / "bs" / safe(job.key)
    bs_dir.mkdir(parents=True, exist_ok=True)
    areas = area_types(job.scene)
    truth_model: DiffusionModel | None = None
    fitted: dict[str, DiffusionModel] = {}
    rows = []
    for i in job.sites:
        i = int(i)
        sid = str(job.scene.deployment.site_ids[i])
        path = bs_dir / f"{safe(sid)}.json"
        rec = _load(path) or {"scene": job.key, "site_id": sid, "area": str(areas[i]), "metrics": {}}
        gdir = out / "gallery" / safe(job.key) / safe(sid)
        # a record without the central-window figures (older runs) is recomputed for that model
        missing = [n for n in job.models if "ks_c40" not in rec["metrics"].get(n, {})]
        want_gallery = i in job.gallery and not all((gdir / f"{n}.npz").exists() for n in ["groundtruth", *job.models])
        if missing or want_gallery:
            if truth_model is None:
                if bar is not None:
                    bar.set_postfix_str(f"{job.key}: fitting ground truth")
                truth_model = job.truth()
            truth = truth_model.predict(i)
            if i in job.gallery:
                save_compact(truth, gdir / "groundtruth.npz")
            for name in (job.models if want_gallery else missing):
                if name in job.unavailable:
                    continue
                if name not in fitted:
                    if bar is not None:
                        bar.set_postfix_str(f"{job.key}: fitting {name}")
                    try:
                        fitted[name] = job.models[name](truth_model)
                    except DeepmendError as exc:  # reported as pending; a rerun retries it
                        job.unavailable[name] = str(exc)
                        continue
                model = fitted[name]
                if hasattr(model, "choose"):  # the teacher: reuse the truth map already predicted
                    model.choose(i, truth)
                m = model.predict(i)
                if m.window != truth.window:
                    raise InputError(f"model {name} returned a map on another window for site {sid}")
                if name in missing:
                    rec["metrics"][name] = compare_maps(m.prob, truth.prob, emd_block)
                    if name == "teacher":
                        rec["teacher_alpha"] = float(m.meta["params"]["alpha"])
                if i in job.gallery:
                    save_compact(m, gdir / f"{name}.npz")
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(rec))
        if bar is not None:
            bar.set_postfix_str(job.key)
            bar.update(1)
        rows.append(rec)
    return rows


def load_results(out: Path) -> list[dict]:
    """Every cached per-BS record of an evaluation directory."""
    return [r for p in sorted((Path(out) / "bs").glob("*/*.json")) if (r := _load(p)) is not None]
