"""CLI glue for the batch engine: ``predict --all --store`` (``geolocate`` lives in deepmend.geolocate.cli).

Heavy imports stay inside the functions so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

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
