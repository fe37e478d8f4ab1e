"""The ``deepmend`` command line.

Every user error ends as one ``error: ...`` line on stderr and exit code 2 — never a
traceback — and every output is written atomically.
"""

from __future__ import annotations

import json
import sys

import click

from deepmend.cli_options import _scene, check_output_args, scene_options, site_file_options, write_maps  # noqa: F401 - shared with the package commands
from deepmend.engine.cli import engine_options
from deepmend.errors import DeepmendError, InputError
from deepmend.log import info

EXIT_USAGE = 2
#: Modules left out of the base install, and the extra that brings each (pyproject.toml).
OPTIONAL_MODULES = {"torch": "train", "onnx": "train", "fastapi": "serve", "starlette": "serve", "uvicorn": "serve",
                    "multipart": "serve", "python_multipart": "serve", "dask": "scale", "distributed": "scale", "zarr": "scale",
                    "numcodecs": "scale", "psutil": "scale", "exactextract": "geo"}


#: Commands that live next to the code they drive, loaded only when used (or listed by --help).
LAZY_COMMANDS = {
    "evaluate": "deepmend.evaluation.cli:evaluate",
    "export": "deepmend.engine.cli:export",
    "geolocate": "deepmend.geolocate.cli:geolocate",
    "groundtruth": "deepmend.groundtruth.cli:groundtruth",
    "report": "deepmend.evaluation.cli:report",
    "serve": "deepmend.api.cli:serve",
    "teacher": "deepmend.train.teacher_labels:teacher",
    "train": "deepmend.train.cli:train",
    "train-voronoiboost": "deepmend.train.voronoiboost:train_voronoiboost",
    "usecase": "deepmend.geolocate.cli:usecase",
}


class LazyGroup(click.Group):
    """A command group whose package commands are imported on first use (``deepmend predict`` never loads the API)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepmend")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Data directory (default: $DEEPMEND_DATA_DIR, ../shared/data beside a checkout, else the embedded Lyon data).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Debug messages (the logging module's DEBUG level).")
def cli(data_dir: str | None, quiet: bool, verbose: bool) -> None:
    """Spatial diffusion maps of cellular base stations (DeepMEND and baselines)."""
    from deepmend.log import configure

    configure(quiet=quiet, verbose=verbose)
    if data_dir:
        from deepmend.config import set_data_dir

        set_data_dir(data_dir)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def catalog(as_json: bool) -> None:
    """Bundled countries, cities, operators and site counts."""
    from deepmend.data.catalog import catalog as get_catalog

    cat = get_catalog()
    if as_json:
        click.echo(json.dumps(cat, indent=2, ensure_ascii=False))
        return
    for c in cat["countries"]:
        click.echo(f"{c['code']}  {c['name']}  ({c['crs']})")
        for city in c["cities"]:
            ops = ", ".join(f"{o['name']} {o['n_sites']}" for o in city["operators"]) or "no bundled sites"
            click.echo(f"    {city['name']:<20} {ops}   [{city['source']}]")


@cli.command()
@scene_options
@click.option("--model", "model_name", default="voronoi", show_default=True, help="voronoi | probabilistic | deepmend | … (any registered model)")
@click.option("--alpha", type=float, default=None, help="Exponent of the probabilistic model (default 1.3).")
@click.option("--weights", type=click.Path(), default=None, help="Your own DeepMEND weights (.json with its .npz) instead of the shipped ones.")
@click.option("--site", "site_id", help="One site id.")
@click.option("--all", "all_sites", is_flag=True, help="Every target site of the scene (one file each).")
@click.option("--out", type=click.Path(), help="Output file (.npz/.tif) for --site, directory for --all (one file per BS).")
@click.option("--format", "fmt", type=click.Choice(["npz", "tif"]), default="npz", show_default=True, help="File format with --all.")
@site_file_options
@engine_options
def predict(country, city, operator, sites, region, crs, model_name, alpha, weights, site_id, all_sites, out, fmt, id_column, strict, dataset, store, workers, scheduler, floor, max_sites) -> None:
    """Diffusion maps of one site or of all sites of a scene (or of a whole country: --all --store OUT.zarr)."""
    from deepmend.registry import make_model

    if bool(site_id) == bool(all_sites):
        raise InputError("give exactly one of --site ID or --all")
    if all_sites and (store or scheduler or (country and not city and not sites)):
        # the batch engine: spatial tiles, worker processes or Dask, a resumable Zarr store
        if out:
            raise InputError("--store replaces --out for a batch run", column="--out", value=out)
        from deepmend.engine.cli import predict_batch

        predict_batch(country, city, operator, sites, region, crs, dataset, model_name, alpha, weights, store, workers, scheduler, floor, max_sites)
        return
    if not out:
        raise InputError("--out is required (or --all --store OUT.zarr for the batch engine)", column="--out")
    out_path = check_output_args(site_id, all_sites, out)
    if weights is not None and str(model_name).lower() != "deepmend":
        raise InputError("--weights goes with --model deepmend", column="--weights", value=weights)
    model = make_model(model_name, alpha=alpha, weights=weights)
    write_maps(model, _scene(country, city, operator, sites, region, crs, id_column, strict), site_id, out_path, fmt)


@cli.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def compare(a: str, b: str, as_json: bool) -> None:
    """Metrics between two maps of the same window (KS, EMD, JS, TV)."""
    from deepmend.grid.diffusion_map import DiffusionMap
    from deepmend.metrics import compare as scores

    ma, mb = DiffusionMap.load(a), DiffusionMap.load(b)
    if ma.window != mb.window:
        raise InputError(f"maps cover different windows ({ma.window.as_dict()} vs {mb.window.as_dict()})", file=b)
    res = scores(ma.prob, mb.prob, res_m=ma.window.res)
    if as_json:
        click.echo(json.dumps(res))
    else:
        for k, v in res.items():
            click.echo(f"{k:>7}: {v:.6f}")


@cli.command()
@click.argument("maps", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--title", default="", help="Title above the panels.")
def plot(maps: tuple[str, ...], out: str, title: str) -> None:
    """Side-by-side picture of maps on the published log colour scale (jet, 1e-9 … 1e-2)."""
    from deepmend.grid.diffusion_map import DiffusionMap
    from deepmend.render import figure

    loaded = [DiffusionMap.load(m) for m in maps]
    figure(loaded, [f"{m.model} {m.meta.get('params') or ''}".strip() for m in loaded], out, title)
    info(f"wrote {out}")


@cli.command()
@scene_options
@click.option("--model", "model_name", default="voronoi", show_default=True, help="Model of the maps behind --contours/--inspire.")
@click.option("--alpha", type=float, default=None, help="Exponent of the probabilistic model (default 1.3).")
@click.option("--site", "site_ids", multiple=True, help="A site id (repeatable); default: every target site of the scene.")
@click.option("--cells", type=click.Path(dir_okay=False), help="Voronoi cells clipped to the region (.gpkg, .geojson, .parquet).")
@click.option("--contours", type=click.Path(dir_okay=False), help="τ-coverage contours of each BS's map (.gpkg, .geojson, .parquet).")
@click.option("--tau", default="0.5,0.9,0.95", show_default=True, help="Mass fractions of the contours.")
@click.option("--inspire", type=click.Path(dir_okay=False), help="Long table site_id, grid_id, p on the INSPIRE 100 m grid, EPSG:3035 (.parquet or .csv).")
def vector(country, city, operator, sites, region, crs, model_name, alpha, site_ids, cells, contours, tau, inspire) -> None:
    """Vector and table outputs for GIS and official statistics: Voronoi cells, τ-coverage contours, INSPIRE-grid table."""
    from pathlib import Path

    from deepmend.grid import vector as vec
    from deepmend.io import check_writable_dir

    if not (cells or contours or inspire):
        raise InputError("give at least one of --cells, --contours, --inspire")
    try:
        taus = [float(t) for t in str(tau).split(",") if t.strip()]
    except ValueError:
        raise InputError("τ values must be numbers separated by commas", column="--tau", value=tau) from None
    for path, allowed in ((cells, vec.VECTOR_SUFFIXES), (contours, vec.VECTOR_SUFFIXES), (inspire, (".parquet", ".csv"))):
        if path:
            if Path(path).suffix.lower() not in allowed:
                raise InputError(f"output must end in {', '.join(allowed)}", file=path, value=Path(path).suffix)
            check_writable_dir(Path(path).parent)
    from deepmend.cli_options import _scene_of_site

    scenes = _scene(country, city, operator, sites, region, crs)
    if site_ids:  # each site in (the part of) its own operator's network around it
        groups: dict[int, tuple] = {}
        for s in site_ids:
            sc, i = _scene_of_site(scenes, s)
            groups.setdefault(id(sc), (sc, []))[1].append(int(i))
        work = list(groups.values())
    else:  # every target, part by part (memory follows the windows, not the deployment's extent)
        work = [(part, [int(i) for i in part.targets]) for sc in scenes for part in sc.parts()]
    n_sites = sum(len(idx) for _, idx in work)
    if cells:
        import pandas as pd

        gdfs = [vec.voronoi_cells(sc, idx) for sc, idx in work]
        vec.write_vector(pd.concat(gdfs, ignore_index=True) if len(gdfs) > 1 else gdfs[0], cells)
        info(f"wrote {n_sites} Voronoi cells to {cells}")
    if contours or inspire:
        from deepmend.registry import make_model

        maps = [m for sc, idx in work for m in make_model(model_name, alpha=alpha).fit(sc).predict_many(idx)]
        if contours:
            vec.write_vector(vec.coverage_contours(maps, taus), contours)
            info(f"wrote {len(maps) * len(taus)} contours to {contours}")
        if inspire:
            table = vec.inspire_table(maps)
            vec.write_table(table, inspire)
            info(f"wrote {len(table)} rows (site_id, grid_id, p) to {inspire}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="deepmend", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted; run the same command again to resume", err=True)
        return 130
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DeepmendError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        click.echo(f"error: this command needs the '{exc.name}' module, which the base install leaves out: pip install 'deepmend[{extra}]'", err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        click.echo("interrupted; run the same command again to resume", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
