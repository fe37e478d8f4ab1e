"""The paper's headline for one city: each model's error over the city's BSs, from the evaluation's cache.

``deepmend evaluate --out DIR`` leaves one JSON record per BS under ``DIR/bs/<scene>/`` (see
:mod:`deepmend.evaluation.runner`). This module finds the runs that evaluated a catalog scene and
returns, per run and model, the sorted KS and EMD values: their empirical CDFs, as in the DeepMEND
paper's figures. Nothing is computed here; a city never evaluated has no run.

Runs are looked for in ``$DEEPMEND_EVAL_DIR`` (folders separated by ``:``; each an evaluation output or
a folder of them), else in ``<cache>/eval/*``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The scores whose CDFs are shown.
SCORES = ("ks", "emd_km")


def _runs(roots: list[Path]) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        if (root / "bs").is_dir():
            out.append(root)
        elif root.is_dir():
            out.extend(sorted(p for p in root.iterdir() if (p / "bs").is_dir()))
    return out


def eval_roots(cache_root: Path) -> list[Path]:
    """Evaluation directories to read: ``DEEPMEND_EVAL_DIR`` (``os.pathsep``-separated), else ``cache_root/eval``."""
    env = os.environ.get("DEEPMEND_EVAL_DIR", "")
    return [Path(p) for p in env.split(os.pathsep) if p.strip()] or [Path(cache_root) / "eval"]


def city_errors(roots: list[Path], scene_key: str) -> dict:
    """``{"scene", "runs": [{"run", "n_bs", "models": {name: {"ks": [...], "emd_km": [...]}}}]}``, values sorted ascending.

    ``scene_key`` is the canonical "COUNTRY/City/Operator" of the catalog (what the records store).
    """
    from deepmend.evaluation.runner import load_results, safe

    runs = []
    for run in _runs(roots):
        if not (run / "bs" / safe(scene_key)).is_dir():
            continue
        recs = [r for r in load_results(run) if r.get("scene") == scene_key]
        models: dict[str, dict[str, list[float]]] = {}
        for r in recs:
            for name, m in r.get("metrics", {}).items():
                for k in SCORES:
                    if isinstance(m.get(k), (int, float)):
                        models.setdefault(name, {s: [] for s in SCORES})[k].append(round(float(m[k]), 5))
        for v in models.values():
            for k in SCORES:
                v[k].sort()
        if recs:
            runs.append({"run": run.name, "n_bs": len(recs), "models": models})
    return {"scene": scene_key, "runs": runs}
