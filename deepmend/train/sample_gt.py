"""A ground-truth dataset on a seeded *sample* of each scene's BSs (what the shipped model used).

The maps are the simulator's (docs/GROUNDTRUTH.md, METHOD.md §4).

``deepmend groundtruth build`` simulates every BS of a scene; the student needs a few hundred
per city, and on 2 cores the difference is tens of minutes. This writes the same layout
(``index.json`` + one compact map per BS, :func:`save_compact`) for ``--n`` BSs per scene drawn
with ``--seed``, so ``deepmend train --data DIR`` reads it unchanged. One scene per process
can run in parallel (``--scenes`` with one scene each); ``--index-only`` then merges them.

    python -m deepmend.train.sample_gt --out DIR --scenes FR/Lyon/Bouygues,FR/Toulouse/SFR --n 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def build_scene(out: Path, key: str, n: int, seed: int = 0, world: int | None = None, world_seed: int = 0, family: str = "wide") -> dict:
    """``n`` maps of scene ``key``; with ``world``, simulated in that world of the randomised family
    (:func:`deepmend.train.randomize.draw_world`) and stored under the key ``SCENE#wWORLD``.

    Simulated with :class:`~deepmend.groundtruth.simulator.GroundTruthSimulator` (docs/GROUNDTRUTH.md,
    METHOD.md §4); the BSs are a seeded sample without replacement.

    Parameters
    ----------
    out : Path
        The dataset directory.
    key : str
        ``COUNTRY/City/Operator``.
    n : int
        Maps to simulate (at most the scene's targets).
    seed : int, default 0
        Sampling seed.
    world : int, optional
        World of the randomised family.
    world_seed : int, default 0
        Seed of the family.
    family : {"wide", "real"}, default "wide"
        The family's ranges (:func:`deepmend.train.randomize.draw_world`).

    Returns
    -------
    dict
        The scene's index entry (directory, count, simulator configuration, floor, seed), also
        written to ``out/<dir>.entry.json``.
    """
    from deepmend.grid.map_dir import safe_name
    from deepmend.groundtruth.dataset import scene_dir_name
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.groundtruth.storage import DEFAULT_FLOOR, save_compact
    from deepmend.scene import Scene

    scene = Scene.from_catalog(*key.split("/"))
    cfg = None
    if world is not None:
        from deepmend.train.randomize import draw_world

        cfg = draw_world(world_seed, world, family=family)
        key = f"{key}#w{world}"
    model = GroundTruthSimulator(cfg).fit(scene)
    sites = sorted(np.random.default_rng(seed if world is None else [seed, world]).choice(scene.targets, size=min(n, len(scene.targets)), replace=False).tolist())
    sub = out / scene_dir_name(key)
    sub.mkdir(parents=True, exist_ok=True)
    for i in sites:
        target = sub / f"{safe_name(str(scene.deployment.site_ids[i]))}.npz"
        if not target.exists():
            save_compact(model.predict(int(i)), target, DEFAULT_FLOOR)
    entry = {"dir": sub.name, "n_maps": len(sites), "config": model.config_.as_dict(), "floor": DEFAULT_FLOOR, "sample_seed": seed}
    (out / f"{sub.name}.entry.json").write_text(json.dumps({"key": key, "entry": entry}))
    return entry


def write_index(out: Path) -> list[str]:
    """Gather the per-scene ``*.entry.json`` files into the dataset's index; returns the scene keys.

    The index of :class:`deepmend.groundtruth.dataset.GroundTruthDataset` (METHOD.md §4).

    Parameters
    ----------
    out : Path
        The dataset directory.

    Returns
    -------
    list of str
    """
    from deepmend.groundtruth.dataset import FORMAT, GroundTruthDataset

    index = {"format": FORMAT, "scenes": {}}
    for e in sorted(out.glob("*.entry.json")):
        d = json.loads(e.read_text())
        index["scenes"][d["key"]] = d["entry"]
    GroundTruthDataset(out).write(index)
    return list(index["scenes"])


def main() -> None:
    """Command-line entry (``python -m deepmend.train.sample_gt``): see the module docstring."""
    ap = argparse.ArgumentParser(description="Ground-truth dataset on a seeded sample of BSs per scene.")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--scenes", default="", help="COUNTRY/CITY/OPERATOR,…")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-only", action="store_true")
    ap.add_argument("--worlds", default="", help="Comma-separated world numbers of the randomised family (deepmend.train.randomize); one world per scene in turn. Default: the simulator's defaults.")
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--family", choices=("wide", "real"), default="wide", help="Ranges of the randomised family (deepmend.train.randomize.FAMILIES).")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    worlds = [int(w) for w in args.worlds.split(",") if w.strip()]
    for k, key in enumerate(k.strip() for k in args.scenes.split(",") if k.strip()):
        if args.index_only:
            break
        t0 = time.perf_counter()
        e = build_scene(args.out, key, args.n, args.seed, worlds[k % len(worlds)] if worlds else None, args.world_seed, args.family)
        print(f"{key}: {e['n_maps']} maps in {time.perf_counter() - t0:.0f} s", flush=True)
    print("index:", write_index(args.out))


if __name__ == "__main__":
    main()
