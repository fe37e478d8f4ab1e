"""Options and argument checks shared by the commands of every package (``deepmend …``).

The commands live next to the code they drive (``groundtruth/cli.py``, ``train/cli.py`` …)
and take their shared options from here, one layer below all of them, so that no package
imports the top-level :mod:`deepmend.cli` (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from deepmend.errors import InputError

__all__ = ["check_output_args", "scene_options", "write_maps", "_scene"]


def _scene(country: str | None, city: str | None, operator: str | None, sites: str | None, region: str | None, crs: str | None):
    from deepmend.data.readers import read_sites
    from deepmend.data.regions import read_region
    from deepmend.scene import Scene

    if sites:
        dep = read_sites(sites, crs=crs, country=country)
        reg = read_region(region, dep.crs) if region else None
        return Scene.from_files(dep, reg)
    if region:
        raise InputError("--region goes with --sites (catalog scenes carry their own region)", column="--region", value=region)
    missing = [n for n, v in (("--country", country), ("--city", city), ("--operator", operator)) if not v]
    if missing:
        raise InputError(f"choose a bundled scene with --country, --city and --operator (missing {', '.join(missing)}), or pass --sites FILE; see 'deepmend catalog'")
    return Scene.from_catalog(country, city, operator)


def check_output_args(site_id: str | None, all_sites: bool, out: str) -> Path:
    """Validate ``--site``/``--all``/``--out`` before any work, so a bad path fails in a second, not after a fit."""
    from deepmend.io import check_writable_dir

    if bool(site_id) == bool(all_sites):
        raise InputError("give exactly one of --site ID or --all")
    out_path = Path(out)
    if site_id and out_path.suffix.lower() not in (".npz", ".tif", ".tiff"):
        raise InputError("output file must end in .npz or .tif", file=out, value=out_path.suffix)
    check_writable_dir(out_path if all_sites else out_path.parent)
    return out_path


def scene_options(f):
    for opt in reversed(
        [
            click.option("--country", help="Country code of a bundled scene (FR, GB, IE, BE)."),
            click.option("--city", help="City of a bundled scene (see 'deepmend catalog')."),
            click.option("--operator", help="Operator of a bundled scene."),
            click.option("--sites", type=click.Path(dir_okay=False), help="Your own site list (CSV, Parquet or GeoJSON)."),
            click.option("--region", type=click.Path(dir_okay=False), help="GeoJSON polygon of valid cells for --sites."),
            click.option("--crs", help="CRS of x/y columns in --sites (e.g. EPSG:2154)."),
        ]
    ):
        f = opt(f)
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
    if site_id:
        i = scene.site_index(site_id)
        model.fit(scene).predict(i).save(out_path)
        click.echo(f"wrote {out_path}")
        return
    from deepmend.grid.map_dir import write_map_dir

    write_map_dir(model, scene, out_path, fmt, **({"desc": desc} if desc else {}), echo=click.echo)
