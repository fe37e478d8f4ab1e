"""Soft labels for the student: the teacher's chosen α and maps, stored beside the ground truth.

Layout of a label directory (one per scene)::

    LABELS/alphas.csv   site_id,alpha,ks,file   (one row per labelled BS)
    LABELS/<site>.npz   the teacher's map (compact storage, deepmend.groundtruth.storage)
    LABELS/teacher.json α grid, ground truth used, counts

With a ground-truth dataset (``deepmend groundtruth build``) the labels of scene S go to
``DATASET/<S's dir>/teacher/``, next to its ground-truth maps. Resumable: a BS whose row
is in ``alphas.csv`` and whose map exists is skipped; the CSV is rewritten atomically
every few BSs, so an interrupted run loses at most those.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
import numpy as np

from deepmend.io import atomic_path
from deepmend.models.base import DiffusionModel
from deepmend.scene import Scene

FLUSH_EVERY = 10


def _read_rows(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return {r["site_id"]: r for r in csv.DictReader(fh) if r.get("site_id") and r.get("alpha")}
    except Exception:
        return {}


def _write_rows(path: Path, rows: dict[str, dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["site_id", "alpha", "ks", "file"])
            w.writeheader()
            for r in rows.values():
                w.writerow({k: r[k] for k in ("site_id", "alpha", "ks", "file")})


def label_scene(scene: Scene, truth: DiffusionModel, out: Path, sites: np.ndarray | None = None, truth_desc: str = "", bar=None, save_maps: bool = True) -> dict[str, dict]:
    """Choose α per BS and write the labels of ``sites`` (default: the scene's targets) to ``out``.

    The teacher's exhaustive search (METHOD.md §2; probabilistic model of Traag et al. 2011, 2-D KS of
    Peacock 1983).

    Parameters
    ----------
    scene : Scene
        The scene.
    truth : DiffusionModel
        The ground truth, fitted on ``scene`` or not.
    out : Path
        The label directory (see the module docstring).
    sites : numpy.ndarray of int, optional
        Site indices (default the scene's targets).
    truth_desc : str, optional
        Description of the ground truth, recorded in ``teacher.json``.
    bar : optional
        A progress bar to update per BS.
    save_maps : bool, default True
        Also store each chosen map.

    Returns
    -------
    dict of str to dict
        site id → its row (``alpha``, ``ks``, ``file``), earlier rows included.
    """
    from deepmend.grid.map_dir import safe_name
    from deepmend.groundtruth.storage import save_compact
    from deepmend.models.teacher import TeacherModel

    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "alphas.csv"
    rows = _read_rows(csv_path)
    sites = scene.targets if sites is None else sites
    todo = []
    for i in sites:
        sid = str(scene.deployment.site_ids[int(i)])
        if sid in rows and (not save_maps or (out / rows[sid]["file"]).exists()):
            if bar is not None:
                bar.update(1)
            continue
        todo.append(int(i))
    teacher = None
    for n, i in enumerate(todo, start=1):
        if teacher is None:
            if bar is not None:
                bar.set_postfix_str(f"{scene.name}: fitting")
            teacher = TeacherModel(ground_truth=truth).fit(scene)
            if bar is not None:
                bar.set_postfix_str(scene.name)
        sid = str(scene.deployment.site_ids[i])
        alpha, ks, _ = teacher.choose(i)
        fname = f"{safe_name(sid)}.npz"
        if save_maps:
            save_compact(teacher.predict(i), out / fname)
        rows[sid] = {"site_id": sid, "alpha": f"{alpha:g}", "ks": f"{ks:.6f}", "file": fname}
        if n % FLUSH_EVERY == 0:
            _write_rows(csv_path, rows)
        if bar is not None:
            bar.update(1)
    _write_rows(csv_path, rows)
    from deepmend.models.teacher import TEACHER_ALPHAS

    alphas = np.array([float(r["alpha"]) for r in rows.values()])
    meta = {"alpha_grid": list(TEACHER_ALPHAS), "ground_truth": truth_desc, "scene": scene.name, "n_labels": len(rows),
            "alpha_median": float(np.median(alphas)) if alphas.size else None}
    with atomic_path(out / "teacher.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return rows


@click.command()
@click.option("--country", help="Country code of a bundled scene.")
@click.option("--city", help="City of a bundled scene.")
@click.option("--operator", help="Operator of a bundled scene.")
@click.option("--out", type=click.Path(file_okay=False), help="Label directory for a scene (ground truth: the simulator).")
@click.option("--dataset", type=click.Path(file_okay=False, exists=True), help="Ground-truth dataset of 'deepmend groundtruth build': label every scene in it, beside its maps.")
@click.option("--max-bs", type=int, default=None, help="Label at most this many BSs per scene (seeded sample).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the BS sample.")
@click.option("--no-maps", is_flag=True, help="Store only the chosen α (the map is reproducible from it).")
def teacher(country, city, operator, out, dataset, max_bs, seed, no_maps) -> None:
    """Teacher soft labels: per-BS α by minimal 2-D KS to the ground truth, and the maps (resumable)."""
    from deepmend.log import progress as tqdm

    from deepmend.errors import InputError
    from deepmend.models.base import sample_sites

    jobs = []  # (scene, truth factory, out dir, description)
    if dataset:
        from deepmend.evaluation.splits import parse_specs
        from deepmend.groundtruth.reader import OperatorMaps

        from deepmend.groundtruth.dataset import GroundTruthDataset

        ds = GroundTruthDataset(dataset)
        for key, entry in ds.scenes().items():
            spec = parse_specs(key, "--dataset")[0]
            scene = Scene.from_catalog(*spec.as_tuple())
            sub = ds.scene_dir(key, entry)
            truth = OperatorMaps(sub).fit(scene)
            jobs.append((scene, truth, sub / "teacher", f"dataset {sub}", truth.available()))
    else:
        if not (country and city and operator and out):
            raise InputError("give --country, --city, --operator and --out, or --dataset DIR")
        from deepmend.groundtruth.simulator import GroundTruthSimulator

        scene = Scene.from_catalog(country, city, operator)
        jobs.append((scene, GroundTruthSimulator(), Path(out), "GroundTruthSimulator (default configuration)", None))
    if max_bs is not None and max_bs < 1:
        raise InputError("must be ≥ 1", column="--max-bs", value=max_bs)
    plans = [(sc, t, o, d, sample_sites(sc, max_bs, seed, av)) for sc, t, o, d, av in jobs]
    with tqdm(total=sum(len(p[4]) for p in plans), desc="teacher labels", unit="BS") as bar:
        for scene, truth, o, desc, sites in plans:
            rows = label_scene(scene, truth, o, sites, desc, bar, save_maps=not no_maps)
            click.echo(f"{scene.name}: {len(rows)} labels in {o}")
