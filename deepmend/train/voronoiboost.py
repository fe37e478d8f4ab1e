"""``deepmend train-voronoiboost``: the shipped VoronoiBoost regressor, reproducibly.

Recipe (docs/MODEL_CARD.md § VoronoiBoost): on each training scene, the default
simulator's ground truth of a seeded sample of sites gives each BS's optimal scales
(:func:`deepmend.models.voronoiboost.training_table`); a HistGradientBoostingRegressor
with fixed hyper-parameters is fitted on [τ, features] → ln s_τ
(:func:`deepmend.models.voronoiboost.fit_regressor`); its trees and the table (one .npz,
no pickle) and a manifest with its SHA-256 are written (:func:`~deepmend.models.voronoiboost.save_shipped`).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from deepmend.models.voronoiboost import DEFAULT_SITES_PER_SCENE, SHIPPED_MANIFEST, SHIPPED_TRAIN

DEFAULT_SCENES = ",".join("/".join(s) for s in SHIPPED_TRAIN)


def build_shipped(specs, n_per_scene: int | None, seed: int, out: Path, from_table: bool = False, progress: bool = True) -> tuple[Path, dict]:
    """Train (or refit from the shipped table) and write the regressor, table and manifest to ``out``.

    Returns
    -------
    (Path, dict)
        The manifest written and the training record it holds.

    Raises
    ------
    InputError
        A held-out city among ``specs`` (a test city of docs/RESULTS.md or the validation city).

    The recipe of the module docstring (VoronoiBoost, Martínez-Durive et al. 2022; METHOD.md §2).

    Parameters
    ----------
    specs : sequence of (country, city, operator)
        Training scenes.
    n_per_scene : int or None
        Seeded sample of BSs per scene.
    seed : int
        Sampling seed.
    out : Path
        The manifest to write (.json).
    from_table : bool, default False
        Refit from the shipped training table instead of simulating.
    progress : bool, default True
        Show progress.
    """
    import numpy as np

    from deepmend.errors import InputError
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.models.voronoiboost import HELD_OUT_CITIES, fit_regressor, load_shipped_table, read_manifest, save_shipped, training_table
    from deepmend.scene_spec import city_key

    specs = [tuple(s) for s in specs]
    held = {city_key(c) for c in HELD_OUT_CITIES}
    for s in specs:
        if city_key(s[1]) in held:
            raise InputError(f"{s[1]} is held out (test cities of docs/RESULTS.md and the validation city: {', '.join(HELD_OUT_CITIES)}): never train on it",
                             column="--scenes", value="/".join(s))
    t0 = time.perf_counter()
    if from_table:  # the shipped table: no ground truth needed (seconds)
        man, _ = read_manifest()
        f, s = load_shipped_table()
        record = dict(man["training"])
    else:
        from deepmend.config import cache_dir
        from deepmend.models.voronoiboost import _table_key

        truth = GroundTruthSimulator()
        cached = (cache_dir() / "voronoiboost" / f"table_{_table_key(specs, truth.cache_token(), n_per_scene, seed)}.npz").is_file()
        f, s = training_table(specs, truth, n_per_scene=n_per_scene, seed=seed, progress=progress)
        record = {"scenes": [list(sp) for sp in specs], "n_per_scene": n_per_scene, "seed": seed, "ground_truth": truth.cache_token(),
                  "command": f"deepmend train-voronoiboost --scenes '{','.join('/'.join(sp) for sp in specs)}' --n-per-scene {n_per_scene} --seed {seed}"}
    t1 = time.perf_counter()
    reg = fit_regressor(np.asarray(f), np.asarray(s))
    t2 = time.perf_counter()
    record = {k: v for k, v in record.items() if k not in ("n_bs", "n_rows", "seconds_fit")}
    if not from_table:
        record.update(seconds_fit=round(t2 - t1, 2))
        if not cached:  # a table read from the cache says nothing of the training time
            record.update(seconds_table=round(t1 - t0, 1))
    path = save_shipped(reg, f, s, record, out)
    return path, dict(record, n_bs=int(len(f)), n_rows=int(len(f)) * int(s.shape[1]))


@click.command("train-voronoiboost")
@click.option("--scenes", default=DEFAULT_SCENES, show_default=True, help="Training scenes COUNTRY/CITY/OPERATOR,… (never a test or validation city).")
@click.option("--n-per-scene", type=int, default=DEFAULT_SITES_PER_SCENE, show_default=True, help="BSs per scene (seeded sample).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the BS samples.")
@click.option("--out", type=click.Path(dir_okay=False), default=str(SHIPPED_MANIFEST), show_default=True,
              help="Manifest to write (.json); the .npz (trees + training table) goes beside it.")
@click.option("--from-table", is_flag=True, help="Refit from the shipped training table (no ground truth: seconds), e.g. after a scikit-learn upgrade.")
def train_voronoiboost(scenes, n_per_scene, seed, out, from_table) -> None:
    """Train VoronoiBoost's scale regressor on simulated ground truth and write it (.npz + manifest with its SHA-256)."""
    from deepmend.errors import InputError
    from deepmend.evaluation.splits import parse_specs

    if n_per_scene < 1:
        raise InputError("must be ≥ 1", column="--n-per-scene", value=n_per_scene)
    out_path = Path(out)
    if out_path.suffix.lower() != ".json":
        raise InputError("the manifest is a .json file", column="--out", value=out)
    specs = [s.as_tuple() for s in parse_specs(scenes, "--scenes")]
    t0 = time.perf_counter()
    path, record = build_shipped(specs, n_per_scene, seed, out_path, from_table)
    click.echo(f"wrote {path} ({record['n_bs']} training BSs, {record['n_rows']} rows) in {time.perf_counter() - t0:.1f} s")
