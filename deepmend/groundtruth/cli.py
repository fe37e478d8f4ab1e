"""``deepmend groundtruth …`` commands: simulate, build a dataset, realism stats.

Heavy modules are imported inside the commands so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from deepmend.cli_options import _scene, check_output_args, scene_options, site_file_options, write_maps
from deepmend.grid.map_dir import safe_name


@click.group()
def groundtruth() -> None:
    """Ground-truth maps: simulate, build datasets, read operator maps, realism stats."""


param_option = click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE",
    help="Override a simulator parameter (repeatable), e.g. --param temperature_db=8 --param sectors=0.",
)
seed_option = click.option("--seed", type=int, default=None, help="Random seed (default: the config's, 0).")


def _config(params: tuple[str, ...], seed: int | None):
    """A SimulatorConfig from KEY=VALUE strings (values parsed as JSON, else kept as text)."""
    from deepmend.errors import InputError
    from deepmend.groundtruth.config import SimulatorConfig

    changes = {}
    for p in params:
        if "=" not in p:
            raise InputError("expected KEY=VALUE", column="--param", value=p)
        k, v = p.split("=", 1)
        try:
            val = json.loads(v)
        except json.JSONDecodeError:
            val = v
        changes[k.strip()] = tuple(val) if isinstance(val, list) else val
    if seed is not None:
        changes["seed"] = seed
    try:
        return SimulatorConfig().with_(**changes)
    except TypeError as exc:
        raise InputError(f"invalid simulator parameter ({exc})", column="--param") from None


def _parse_scenes(spec: str) -> list[tuple[str, str, str]]:
    from deepmend.errors import InputError

    out = []
    for part in (s.strip() for s in spec.split(",") if s.strip()):
        bits = part.split("/")
        if len(bits) != 3 or not all(bits):
            raise InputError("scenes are COUNTRY/CITY/OPERATOR separated by commas, e.g. FR/Lyon/Orange,FR/Nantes/Orange", column="--scenes", value=part)
        out.append((bits[0], bits[1], bits[2]))
    if not out:
        raise InputError("no scenes given", column="--scenes", value=spec)
    return out


@groundtruth.command()
@scene_options
@click.option("--site", "site_id", help="One site id.")
@click.option("--all", "all_sites", is_flag=True, help="Every target site of the scene (one file each, resumable).")
@click.option("--out", required=True, type=click.Path(), help="Output file (.npz/.tif) for --site, directory for --all.")
@click.option("--format", "fmt", type=click.Choice(["npz", "tif"]), default="npz", show_default=True, help="File format with --all.")
@seed_option
@param_option
@click.option("--no-cache", is_flag=True, help="Recompute the per-deployment products even when cached.")
@site_file_options
def simulate(country, city, operator, sites, region, crs, site_id, all_sites, out, fmt, seed, params, no_cache, id_column, strict) -> None:
    """Simulated operator ground truth P(ℓ|i) for one site or all sites of a scene."""
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    out_path = check_output_args(site_id, all_sites, out)
    cfg = _config(params, seed)
    model = GroundTruthSimulator(cfg, use_cache=not no_cache)
    write_maps(model, _scene(country, city, operator, sites, region, crs, id_column, strict), site_id, out_path, fmt, desc="ground-truth maps")


@groundtruth.command()
@click.option("--scenes", required=True, help="COUNTRY/CITY/OPERATOR,… e.g. FR/Lyon/Orange,FR/Nantes/Orange")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset directory (created; resumable).")
@click.option("--floor", type=float, default=None, help="Keep cells with P ≥ floor·max(P) of each map (as in predict --store); the lost mass is recorded. Default 1e-7.")
@seed_option
@param_option
def build(scenes, out, floor, seed, params) -> None:
    """Ground-truth dataset for several scenes: compact maps, index.json, resumable."""
    from deepmend.log import progress as tqdm

    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.groundtruth.storage import DEFAULT_FLOOR, read_header, save_compact
    from deepmend.groundtruth.dataset import GroundTruthDataset
    from deepmend.io import check_writable_dir
    from deepmend.scene import Scene

    floor = DEFAULT_FLOOR if floor is None else floor
    specs = _parse_scenes(scenes)
    cfg = _config(params, seed)
    root = Path(out)
    check_writable_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    ds = GroundTruthDataset(root)
    ds.read_or_new()  # an unreadable index fails now, before any work
    opened = [(spec, Scene.from_catalog(*spec)) for spec in specs]  # fail fast on a bad scene name
    total = sum(len(sc.targets) for _, sc in opened)
    lost_all = []
    with tqdm(total=total, desc="ground truth", unit="BS") as bar:
        for (c, city, op), scene in opened:
            key = f"{c}/{city}/{op}"
            sub = ds.scene_dir(key)
            sub.mkdir(exist_ok=True)
            todo = []
            for i in scene.targets:
                target = sub / f"{safe_name(str(scene.deployment.site_ids[i]))}.npz"
                try:
                    if target.exists() and read_header(target)["meta"]["params"] == cfg.as_dict():
                        bar.update(1)
                        continue
                except Exception:  # partial or foreign: recompute
                    pass
                todo.append((int(i), target))
            if todo:
                bar.set_postfix_str(f"{key}: fitting")
                model = GroundTruthSimulator(cfg).fit(scene)
                bar.set_postfix_str(key)
                for (_, target), m in zip(todo, model.predict_many([i for i, _ in todo])):
                    lost_all.append(save_compact(m, target, floor))
                    bar.update(1)
            ds.set_entry(key, {"dir": sub.name, "n_maps": int(len(scene.targets)), "config": cfg.as_dict(), "floor": floor})
    msg = f"max lost mass {max(lost_all):.2e}" if lost_all else "nothing to do"
    click.echo(f"dataset in {root}: {total} maps over {len(opened)} scene(s); {len(lost_all)} written now, {msg}")


@groundtruth.command()
@click.argument("source")
@click.option("--sample", type=int, default=40, show_default=True, help="Maps per scene (0 = all).")
@click.option("--alpha-sample", type=int, default=40, show_default=True, help="Maps per scene (the first of the sample) for the best-fit probabilistic α.")
@click.option("--probabilistic", "prob_alpha", type=float, default=None,
              help="Report the probabilistic model at this α instead of the simulator (what a map fitting that α looks like here).")
@click.option("--family", is_flag=True, help="With a dataset of randomised worlds (python -m deepmend.train.sample_gt --worlds): where the family covers the real statistics, per area type.")
@click.option("--simulator", "which", type=click.Choice(["sim1", "sim2"]), default="sim1", show_default=True,
              help="With a scene: the project's simulator (sim1) or the second, independent ground truth (sim2, evaluation only).")
@seed_option
@param_option
def stats(source, sample, alpha_sample, prob_alpha, family, which, seed, params) -> None:
    """Realism report vs the published targets, for a dataset DIR or a scene COUNTRY/CITY/OPERATOR."""
    import numpy as np

    from deepmend.errors import InputError
    from deepmend.groundtruth.areas import area_types
    from deepmend.groundtruth.config import AREA_TYPES, SimulatorConfig
    from deepmend.groundtruth.reader import OperatorMaps
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.groundtruth.stats import best_alpha, map_stats, report
    from deepmend.scene import Scene

    path = Path(source)
    jobs = []  # (title, scene, model, areas)
    if path.is_dir():
        from deepmend.groundtruth.dataset import GroundTruthDataset

        ds = GroundTruthDataset(path)
        for key, entry in ds.scenes().items():
            scene = Scene.from_catalog(*_parse_scenes(key.split("#")[0])[0])  # SCENE#wN: world N of a randomised family
            cfg = SimulatorConfig().with_(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry["config"].items() if k != "version"})
            model = OperatorMaps(ds.scene_dir(key, entry)).fit(scene)
            jobs.append((key, scene, model, area_types(scene.deployment.xy, scene.tree, cfg), model.available()))
    elif "/" in source and len(source.split("/")) == 3:
        scene = Scene.from_catalog(*_parse_scenes(source)[0])
        if prob_alpha is not None:
            from deepmend.models.probabilistic import ProbabilisticModel

            if not prob_alpha > 0:
                raise InputError("α must be > 0", column="--probabilistic", value=prob_alpha)
            cfg = _config(params, seed)
            model = ProbabilisticModel(alpha=prob_alpha).fit(scene)
            jobs.append((f"{source}, probabilistic model α = {prob_alpha:g}", scene, model, area_types(scene.deployment.xy, scene.tree, cfg), scene.targets))
        elif which == "sim2":
            from deepmend.groundtruth.sim2 import Sim2Config, SignalDominanceSimulator

            model = SignalDominanceSimulator(Sim2Config(seed=seed or 0)).fit(scene)
            jobs.append((f"{source}, ground truth 2", scene, model, model.areas_, scene.targets))
        else:
            model = GroundTruthSimulator(_config(params, seed)).fit(scene)
            jobs.append((source, scene, model, model.areas_, scene.targets))
    else:
        raise InputError("give a dataset directory or a scene COUNTRY/CITY/OPERATOR", value=source)
    if family and not path.is_dir():
        raise InputError("--family reads a dataset directory of randomised worlds", column="--family", value=source)
    per_world = {}
    for title, scene, model, areas, sites in jobs:
        sites = np.asarray(sites, dtype=int)
        if sample and sites.size > sample:
            sites = np.sort(np.random.default_rng(0).choice(sites, size=sample, replace=False))
        maps = [(model.predict(int(i)), int(i)) for i in sites]
        st = [map_stats(m, scene, i, AREA_TYPES[int(areas[i])]) for m, i in maps]
        fits = best_alpha(maps[:alpha_sample], scene) if alpha_sample > 0 else None
        for f, s in zip(fits or [], st):  # the α fit is reported per area type, like the other figures
            f["area"] = s.area
        if family:
            per_world[title] = (st, fits)
        else:
            click.echo(report(st, fits, f"{title} ({len(st)} maps)"))
    if family:
        from deepmend.groundtruth.stats import coverage_report

        click.echo(f"### Coverage of the real statistics by {len(per_world)} worlds ({', '.join(per_world)})\n")
        click.echo(coverage_report(per_world))
