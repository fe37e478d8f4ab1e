"""CLI glue for the batch engine: ``predict --all --store`` and ``geolocate``.

Heavy imports stay inside the functions so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import json

import click

from deepmend.errors import InputError


def engine_options(f):
    for opt in reversed(
        [
            click.option("--dataset", help="National data set for a whole-country run (e.g. fr2018); default: the country's national file."),
            click.option("--store", type=click.Path(file_okay=False), help="Zarr map store: maps are kept there (sparse, compressed) and a rerun resumes."),
            click.option("--workers", type=int, default=None, help="Local worker processes (default min(2, cores); 0 = in this process)."),
            click.option("--scheduler", help="Dask distributed scheduler address (tcp://host:port): run the tasks there."),
            click.option("--floor", type=float, default=1e-6, show_default=True, help="Keep map cells with P ≥ floor·max(P); the lost mass is reported."),
            click.option("--max-sites-per-tile", "max_sites", type=int, default=None, help="Targets per spatial tile (default 192)."),
        ]
    ):
        f = opt(f)
    return f


def _check_floor(floor: float) -> None:
    if not (0.0 <= floor < 1.0):
        raise InputError("--floor must be in [0, 1)", column="--floor", value=floor)


def _spec(model_name: str, alpha: float | None, weights: str | None = None):
    """Validate the model options now (before any work) and return what travels to workers."""
    from deepmend.engine.tasks import ModelSpec
    from deepmend.registry import make_model

    params = {k: v for k, v in (("alpha", alpha), ("weights", weights)) if v is not None}
    if weights is not None and str(model_name).lower() != "deepmend":
        raise InputError("--weights goes with --model deepmend", column="--weights", value=weights)
    make_model(model_name, **params)
    return ModelSpec(str(model_name).lower(), params)


def predict_batch(country, city, operator, sites, region, crs, dataset, model_name, alpha, weights, store, workers, scheduler, floor, max_sites) -> None:
    """``predict --all`` through the engine into a Zarr store."""
    from deepmend.engine.executors import make_executor
    from deepmend.engine.job import open_job
    from deepmend.engine.runner import run_batch
    from deepmend.engine.tiles import DEFAULT_MAX_SITES

    _check_floor(floor)
    if not store:
        raise InputError("a batch run needs --store OUT.zarr", column="--store")
    spec = _spec(model_name, alpha, weights)
    job = open_job(country, city, operator, sites, region, crs, dataset)
    if job.excluded:
        click.echo(f"warning: {len(job.excluded)} site(s) excluded: e.g. " + "; ".join(f"{k}: {v}" for k, v in list(job.excluded.items())[:3]), err=True)
    ex = make_executor(workers, scheduler)
    try:
        rep = run_batch(job, spec, store=store, executor=ex, floor=floor, max_sites=max_sites or DEFAULT_MAX_SITES)
    finally:
        ex.close()
    click.echo(f"{job.name}: {rep.n_sites} maps in {rep.n_tiles} tiles ({rep.tiles_resumed} tiles resumed, {rep.sites_computed} maps computed) "
               f"in {rep.seconds:.1f} s; lost mass below the floor: max {rep.lost_max:.2e}, total {rep.lost_sum:.2e}; peak RSS {rep.peak_rss_mb:.0f} MiB; store {store}")


@click.command()
@click.option("--values", "values_path", required=True, type=click.Path(dir_okay=False), help="Per-BS values: CSV/Parquet with site_id, value[, time].")
@click.option("--country", help="Country code; alone (with --operator) = the whole country.")
@click.option("--city", help="City of a bundled scene (see 'deepmend catalog').")
@click.option("--operator", help="Operator of a bundled scene.")
@click.option("--sites", type=click.Path(dir_okay=False), help="Your own site list (CSV, Parquet or GeoJSON).")
@click.option("--region", type=click.Path(dir_okay=False), help="GeoJSON polygon of valid cells for --sites.")
@click.option("--crs", help="CRS of x/y columns in --sites (e.g. EPSG:2154).")
@click.option("--model", "model_name", default="voronoi", show_default=True, help="voronoi | probabilistic | deepmend (when installed)")
@click.option("--alpha", type=float, default=None, help="Exponent of the probabilistic model (default 1.3).")
@click.option("--weights", type=click.Path(), default=None, help="Your own DeepMEND weights instead of the shipped ones.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Density GeoTIFF (one band per time slot); a JSON report goes to OUT.json.")
@click.option("--polygons", type=click.Path(dir_okay=False), help="GeoJSON polygons (WGS84) to total the density over.")
@click.option("--polygon-field", help="Property naming each polygon (default: name).")
@click.option("--totals", type=click.Path(dir_okay=False), help="Totals per polygon: .csv or .parquet (default OUT.totals.csv).")
@engine_options
def geolocate(values_path, country, city, operator, sites, region, crs, model_name, alpha, weights, out, polygons, polygon_field, totals,
              dataset, store, workers, scheduler, floor, max_sites) -> None:
    """Spread per-BS values over space: density Σ_i v_i·P(ℓ|i) on the 100 m national lattice."""
    from deepmend.engine.executors import make_executor
    from deepmend.engine.job import open_job
    from deepmend.geolocate import geolocate as run_geolocate

    _check_floor(floor)
    spec = _spec(model_name, alpha, weights)
    job = open_job(country, city, operator, sites, region, crs, dataset)
    ex = make_executor(workers, scheduler)
    try:
        res = run_geolocate(job, values_path, spec, out, polygons=polygons, polygon_field=polygon_field, totals=totals, store=store,
                            executor=ex, floor=floor, max_sites=max_sites)
    finally:
        ex.close()
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    mass = res.report["mass"]
    click.echo(f"wrote {res.out} ({len(res.report['bands'])} band(s)); raster sum {sum(mass['raster_sum']):.6g} = matched values "
               f"{sum(mass['values_matched']):.6g} − {sum(mass['lost_below_floor']):.3g} below the floor; report {res.out}.json"
               + (f"; totals {res.totals}" if res.totals else ""))
    if res.report["counts"]["excluded_from_job"]:
        click.echo(json.dumps({"excluded_from_job": res.report["counts"]["excluded_from_job"]}), err=True)
