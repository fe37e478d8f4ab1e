"""Options and argument checks shared by the commands of every package (``deepmend …``).

The commands live next to the code they drive (``groundtruth/cli.py``, ``train/cli.py`` …)
and take their shared options from here, one layer below all of them, so that no package
imports the top-level :mod:`deepmend.cli` (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from deepmend.errors import InputError
from deepmend.log import info

__all__ = ["check_output_args", "scene_options", "site_file_options", "site_scenes", "write_maps", "_scene", "_scene_of_site"]


def _print_notes(notes) -> None:
    seen = set()
    for n in notes:
        if n not in seen:
            seen.add(n)
            click.echo(f"note: {n}", err=True)


def site_scenes(sites: str, region: str | None, crs: str | None, country: str | None, operator: str | None,
                id_column: str | None = None, strict: bool = False) -> list:
    """A user's site list as one scene per operator's network (``--operator`` keeps one); notes printed (docs/INPUTS.md)."""
    from deepmend.data.deployment import split_networks
    from deepmend.data.readers import read_sites
    from deepmend.scene import Scene, resolve_region

    dep = read_sites(sites, crs=crs, country=country, operator=operator, id_column=id_column, strict=strict, audience="cli")
    reg = resolve_region(region, dep.crs) if region else None
    scenes = [Scene.from_files(d, reg) for d in split_networks(dep).values()]
    _print_notes(n for sc in scenes for n in sc.notes)
    return scenes


def _scene(country: str | None, city: str | None, operator: str | None, sites: str | None, region: str | None, crs: str | None,
           id_column: str | None = None, strict: bool = False) -> list:
    """The scenes of the CLI's scene options: one per operator's network of ``--sites``, or the catalog scene."""
    from deepmend.scene import Scene

    if sites:
        return site_scenes(sites, region, crs, country, operator, id_column, strict)
    if id_column or strict:
        raise InputError("--id-column and --strict go with --sites", column="--id-column" if id_column else "--strict")
    if region:
        raise InputError("--region goes with --sites (catalog scenes carry their own region)", column="--region", value=region)
    missing = [n for n, v in (("--country", country), ("--city", city), ("--operator", operator)) if not v]
    if missing:
        raise InputError(f"choose a bundled scene with --country, --city and --operator (missing {', '.join(missing)}), or pass --sites FILE; see 'deepmend catalog'")
    return [Scene.from_catalog(country, city, operator)]


def _scene_of_site(scenes: list, site_id: str):
    """(scene, index) of a site among the networks: the part of its own operator's network around it."""
    first_error = None
    for sc in scenes:
        try:
            sc.site_index(site_id)
        except InputError as exc:
            first_error = first_error or exc
            continue
        return sc.part_for(site_id)
    if len(scenes) > 1:
        n = sum(len(sc.deployment) for sc in scenes)
        sample = ", ".join(str(s) for sc in scenes for s in sc.deployment.site_ids[:2])
        raise InputError(f"unknown site id; the list has {n} sites, e.g. {sample}", column="site", value=site_id)
    raise first_error


def check_output_args(site_id: str | None, all_sites: bool, out: str) -> Path:
    """Validate ``--site``/``--all``/``--out`` before any work, so a bad path fails in a second, not after a fit.

    Raises
    ------
    InputError
        Neither or both of ``--site`` and ``--all``; a single map not ending in .npz/.tif; an output
        directory that cannot be written (naming it).
    """
    from deepmend.io import check_writable_dir

    if bool(site_id) == bool(all_sites):
        raise InputError("give exactly one of --site ID or --all")
    out_path = Path(out)
    if site_id and out_path.suffix.lower() not in (".npz", ".tif", ".tiff"):
        raise InputError("output file must end in .npz or .tif", file=out, value=out_path.suffix)
    check_writable_dir(out_path if all_sites else out_path.parent)
    return out_path


def scene_options(f):
    """The options choosing a scene: a bundled one (--country/--city/--operator) or the user's (--sites, --region, --crs)."""
    for opt in reversed(
        [
            click.option("--country", help="Country code of a bundled scene (FR, GB, IE, BE)."),
            click.option("--city", help="City of a bundled scene (see 'deepmend catalog')."),
            click.option("--operator", help="Operator of a bundled scene."),
            click.option("--sites", type=click.Path(dir_okay=False), help="Your own site list (CSV, Parquet, GeoJSON, GeoPackage, Shapefile …; docs/INPUTS.md)."),
            click.option("--region", help="Polygon(s) of valid cells for --sites: a vector file (GeoJSON, GeoPackage …, any CRS) or a bundled region (FR, GB, IE, BE, or CC/City)."),
            click.option("--crs", help="CRS of x/y columns in --sites: EPSG:n, WKT or PROJJSON (e.g. EPSG:2154)."),
        ]
    ):
        f = opt(f)
    return f


def site_file_options(f):
    """How ``--sites`` is read (docs/INPUTS.md)."""
    f = click.option("--strict", is_flag=True, help="Refuse rows of --sites without coordinates instead of skipping (and reporting) them.")(f)
    f = click.option("--id-column", "id_column", help="Column of --sites holding the site ids (default: site_id, id, antenna_id, cell_id, …; '@row' numbers sites by row).")(f)
    return f


def write_maps(model, scene, site_id: str | None, out_path: Path, fmt: str = "npz", desc: str | None = None) -> None:
    """Fit ``model`` on ``scene`` and write one map (``--site``) or one file per target site (``--all``).

    The body shared by ``deepmend predict`` and ``deepmend groundtruth simulate``: one
    site → ``out_path`` (.npz or .tif); all sites → the directory ``out_path``, resumable
    (:func:`deepmend.grid.map_dir.write_map_dir`).

    Raises
    ------
    InputError
        Unknown site id, or an output that cannot be written (naming it).
    """
    scenes = list(scene) if isinstance(scene, (list, tuple)) else [scene]
    if site_id:
        sc, i = _scene_of_site(scenes, site_id)
        model.fit(sc).predict(i).save(out_path)
        info(f"wrote {out_path}")
        return
    from deepmend.grid.map_dir import write_map_dir

    write_map_dir(model, scenes, out_path, fmt, **({"desc": desc} if desc else {}), echo=info)
