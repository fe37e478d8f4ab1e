"""CLI glue for ``deepmend geolocate`` (and ``deepmend usecase``, the use case of docs/USE_CASE.md).

Heavy imports stay inside the functions so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import json

import click

from deepmend.engine.cli import _check_floor, _spec, engine_options
from deepmend.geolocate.estimators import ESTIMATORS


@click.command()
@click.option("--values", "values_path", required=True, type=click.Path(dir_okay=False), help="Per-BS values: CSV/Parquet with site_id, value column(s)[, time].")
@click.option("--values-id-column", "values_id_column", help="Column of --values holding the site ids (default: recognised as in site lists: site_id, Site ID, num_site …).")
@click.option("--value", "value_cols", help="Value column(s) to geolocate, comma-separated (one band each); required when several numeric columns are present.")
@click.option("--country", help="Country code; alone (with --operator) = the whole country.")
@click.option("--city", help="City of a bundled scene (see 'deepmend catalog').")
@click.option("--operator", help="Operator of a bundled scene; with --sites, keep that operator's sites (default: every operator's network, each on its own, summed).")
@click.option("--sites", type=click.Path(dir_okay=False), help="Your own site list (CSV, Parquet, GeoJSON …; docs/INPUTS.md).")
@click.option("--region", help="Polygon(s) of valid cells for --sites: a vector file (any CRS) or a bundled region (FR, GB, IE, BE, or CC/City).")
@click.option("--crs", help="CRS of x/y columns in --sites (e.g. EPSG:2154).")
@click.option("--model", "model_name", default="voronoi", show_default=True, help="voronoi | probabilistic | voronoiboost | deepmend")
@click.option("--alpha", type=float, default=None, help="Exponent of the probabilistic model (default 1.3).")
@click.option("--weights", type=click.Path(), default=None, help="DeepMEND weights: your own (.json with its .npz) or shipped ones by name (v4, softlabels); default the shipped default.")
@click.option("--estimator", type=click.Choice(ESTIMATORS), default="spread", show_default=True,
              help="spread: Σ v_i P(ℓ|i); ml-em: Poisson maximum likelihood by EM (Ricciato & Coluccia); bayes: posterior with a prior (Tennekes & Gootzen).")
@click.option("--prior", help="uniform | population | RASTER.tif: prior of bayes, starting density of ml-em (default uniform).")
@click.option("--tol", type=float, default=1e-6, show_default=True, help="ml-em: stop when the log-likelihood's relative change is below this.")
@click.option("--max-iter", type=int, default=200, show_default=True, help="ml-em: at most this many EM steps.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Density GeoTIFF (one band per value column × time slot, all operators summed); a JSON report goes to OUT.json.")
@click.option("--polygons", type=click.Path(dir_okay=False), help="GeoJSON polygons (WGS84): exact area-weighted totals, overlaps counted in full.")
@click.option("--polygon-field", help="Property naming each polygon (default: name).")
@click.option("--totals", type=click.Path(dir_okay=False), help="Totals per polygon: .csv or .parquet (default OUT.totals.csv).")
@click.option("--site-areas", type=click.Path(dir_okay=False), help="Site → area weight table (.csv/.parquet): site_id, area_id, share.")
@engine_options
def geolocate(values_path, values_id_column, value_cols, country, city, operator, sites, region, crs, model_name, alpha, weights, estimator, prior, tol, max_iter, out,
              polygons, polygon_field, totals, site_areas, dataset, store, workers, scheduler, floor, max_sites) -> None:
    """Estimate the density of per-BS values over space (100 m national lattice), totals per polygon, site → area table."""
    from deepmend.engine.cli import _interrupted
    from deepmend.engine.executors import Interrupted, interruptible, make_executor
    from deepmend.engine.job import open_jobs
    from deepmend.geolocate import geolocate as run_geolocate
    from deepmend.geolocate.values import read_values

    _check_floor(floor)
    spec = _spec(model_name, alpha, weights)
    jobs = open_jobs(country, city, operator, sites, region, crs, dataset)  # a multi-operator --sites: one job per network
    for n in dict.fromkeys(n for j in jobs for n in j.notes):
        click.echo(f"note: {n}", err=True)
    with interruptible():  # SIGTERM/SIGINT: workers stopped, temporaries removed, exit 128 + signal (as predict --store)
        ex = make_executor(workers, scheduler)
        try:
            values = read_values(values_path, value_cols, id_column=values_id_column) if values_id_column else values_path
            res = run_geolocate(jobs, values, spec, out, polygons=polygons, polygon_field=polygon_field, totals=totals, store=store,
                                executor=ex, floor=floor, max_sites=max_sites, value=value_cols, estimator=estimator, prior=prior, tol=tol,
                                max_iter=max_iter, site_areas=site_areas)
        except Interrupted as exc:
            interruptible.mute()  # a second Ctrl-C must not interrupt the clean-up
            ex.close(cancel=True)
            _interrupted(exc, store)
        except BaseException:
            ex.close(cancel=True)
            raise
        else:
            ex.close()
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    mass, est = res.report["mass"], res.report["estimator"]
    how = estimator + (f" ({est['iterations']} EM steps, {est['stopped']}, log-likelihood {sum(est['loglik']):.6g})" if estimator == "ml-em" else "")
    click.echo(f"wrote {res.out} ({len(res.report['bands'])} band(s): {', '.join(res.report['bands'][:6])}); {how}; raster sum "
               f"{sum(mass['raster_sum']):.6g} of matched values {sum(mass['values_matched']):.6g}; report {res.out}.json"
               + (f"; totals {res.totals}" if res.totals else "") + (f"; site → area table {res.site_areas}" if res.site_areas else ""))
    if res.report["counts"]["excluded_from_job"]:
        click.echo(json.dumps({"excluded_from_job": res.report["counts"]["excluded_from_job"]}), err=True)


@click.command()
@click.option("--doc", type=click.Path(dir_okay=False), default="docs/USE_CASE.md", show_default=True, help="Markdown page to (re)write.")
@click.option("--img-dir", type=click.Path(file_okay=False), default="docs/img", show_default=True, help="Folder of the figures.")
@click.option("--work", type=click.Path(file_okay=False), default=None, help="Working folder (maps, rasters, results.json); default <cache>/use_case.")
@click.option("--half-km", type=float, default=6.0, show_default=True, help="Half side of the synthetic city's square.")
@click.option("--margin-km", type=float, default=6.0, show_default=True, help="Sites this far beyond the square are in the deployment.")
@click.option("--devices", type=float, default=1_000_000.0, show_default=True, help="People (devices) in the square.")
@click.option("--models", default=",".join(("voronoi", "probabilistic", "deepmend")), show_default=True, help="Comma-separated models.")
@click.option("--workers", type=int, default=1, show_default=True, help="Engine worker processes for the maps.")
def usecase(doc, img_dir, work, half_km, margin_km, devices, models, workers) -> None:
    """Regenerate docs/USE_CASE.md: a synthetic city with a known population, every model × estimator scored."""
    from pathlib import Path

    from deepmend.config import cache_dir
    from deepmend.errors import InputError
    from deepmend.geolocate.usecase import run

    names = tuple(m.strip() for m in models.split(",") if m.strip())
    if not names:
        raise InputError("no models given", column="--models", value=models)
    if not (half_km > 0 and margin_km >= 0 and devices > 0):
        raise InputError("--half-km and --devices must be > 0, --margin-km ≥ 0", column="--half-km", value=f"{half_km}, {margin_km}, {devices}")
    run(Path(doc), Path(img_dir), Path(work) if work else cache_dir() / "use_case", half_km=half_km, margin_km=margin_km, devices=devices,
        models=names, workers=workers, echo=click.echo)
