"""Maps out, one or a batch: ``deepmend predict`` (one site, a scene, or ``--all --store`` through the batch
engine), ``deepmend vector`` (GIS cells, contours, INSPIRE table) and ``deepmend export`` (from a batch store).
(``geolocate`` lives in deepmend.geolocate.cli.)

Heavy imports stay inside the functions so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import click

from deepmend.cli_options import _scene, _scene_of_site, check_output_args, scene_options, site_file_options, write_maps
from deepmend.errors import InputError
from deepmend.log import info


def engine_options(f):
    for opt in reversed(
        [
            click.option("--dataset", help="National data set for a whole-country run (e.g. fr2018); default: the country's national file."),
            click.option("--store", type=click.Path(file_okay=False), help="Zarr map store (docs/SCALING.md): workers write the maps there, xarray.open_zarr reads it, 'deepmend export' exports from it; a rerun resumes."),
            click.option("--workers", type=int, default=None, help="Local worker processes (default min(2, cores); 0 = in this process)."),
            click.option("--scheduler", help="Dask distributed scheduler address (tcp://host:port): run the tasks there."),
            click.option("--floor", type=float, default=1e-6, show_default=True, help="Keep map cells with P ≥ floor·max(P) (the maps' own maximum); the lost mass is reported. DeepMEND stores are exact whatever the floor."),
            click.option("--max-sites-per-tile", "max_sites", type=int, default=None, help="Targets per spatial tile (default 800 for predict --store; 192 for the probabilistic model, whose FFT grid grows with the tile, and when maps are consumed, as by geolocate)."),
        ]
    ):
        f = opt(f)
    return f


def _interrupted(exc, store) -> None:
    """Workers are stopped and temporaries removed by now: say how to resume, exit 128 + signal."""
    click.echo(f"interrupted by {exc}: workers stopped" + (f"; finished tiles are kept in {store} — rerun the same command to resume" if store else ""), err=True)
    raise SystemExit(128 + exc.signum)


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
    if str(model_name).lower() == "probabilistic":  # country scale: the FFT normaliser, error bound in models/probabilistic.py
        params["normaliser"] = "fast"
    return ModelSpec(str(model_name).lower(), params)


def predict_batch(country, city, operator, sites, region, crs, dataset, model_name, alpha, weights, store, workers, scheduler, floor, max_sites) -> None:
    """``predict --all`` through the engine into a Zarr store."""
    from deepmend.engine.executors import Interrupted, interruptible, make_executor
    from deepmend.engine.job import network_stores, open_jobs
    from deepmend.engine.runner import run_batch
    from deepmend.engine.tiles import DEFAULT_MAX_SITES, DEFAULT_STORE_MAX_SITES

    _check_floor(floor)
    if not store:
        raise InputError("a batch run needs --store OUT.zarr", column="--store")
    spec = _spec(model_name, alpha, weights)
    jobs = open_jobs(country, city, operator, sites, region, crs, dataset)  # a multi-operator --sites: one network (and store) each
    for n in dict.fromkeys(n for job in jobs for n in job.notes):
        click.echo(f"note: {n}", err=True)
    for job, path in zip(jobs, network_stores(store, jobs)):
        if job.excluded:
            click.echo(f"warning: {len(job.excluded)} site(s) excluded: e.g. " + "; ".join(f"{k}: {v}" for k, v in list(job.excluded.items())[:3]), err=True)
        with interruptible():
            ex = make_executor(workers, scheduler)
            try:
                rep = run_batch(job, spec, store=path, executor=ex, floor=floor,
                                max_sites=max_sites or (DEFAULT_MAX_SITES if spec.name == "probabilistic" else DEFAULT_STORE_MAX_SITES))
            except Interrupted as exc:
                interruptible.mute()  # a second Ctrl-C must not interrupt the clean-up
                ex.close(cancel=True)
                _interrupted(exc, store)
            else:
                ex.close()
        click.echo(f"{job.name}: {rep.n_sites} maps in {rep.n_tiles} tiles ({rep.tiles_resumed} tiles resumed, {rep.sites_computed} maps computed) "
                   f"in {rep.seconds:.1f} s; lost mass below the floor: max {rep.lost_max:.2e}, total {rep.lost_sum:.2e}; peak RSS {rep.peak_rss_mb:.0f} MiB; store {path}")


@click.command()
@scene_options
@click.option("--model", "model_name", default="voronoi", show_default=True, help="voronoi | probabilistic | deepmend | … (any registered model)")
@click.option("--alpha", type=float, default=None, help="Exponent of the probabilistic model (default 1.3).")
@click.option("--weights", type=click.Path(), default=None, help="DeepMEND weights: your own (.json with its .npz) or shipped ones by name (v4 = the previous default, softlabels = the paper's recipe); default the shipped default.")
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
        predict_batch(country, city, operator, sites, region, crs, dataset, model_name, alpha, weights, store, workers, scheduler, floor, max_sites)
        return
    if not out:
        raise InputError("--out is required (or --all --store OUT.zarr for the batch engine)", column="--out")
    out_path = check_output_args(site_id, all_sites, out)
    if weights is not None and str(model_name).lower() != "deepmend":
        raise InputError("--weights goes with --model deepmend", column="--weights", value=weights)
    model = make_model(model_name, alpha=alpha, weights=weights)
    write_maps(model, _scene(country, city, operator, sites, region, crs, id_column, strict), site_id, out_path, fmt)


@click.command()
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


@click.command("export")
@click.argument("store", type=click.Path(file_okay=False))
@click.option("--site", "sites", multiple=True, help="Site id (repeatable). GeoTIFF: exactly one; Parquet: default every finished site.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="map.tif (one BS, north-up GeoTIFF) or maps.parquet (long table).")
@click.option("--format", "fmt", type=click.Choice(["tif", "parquet"]), default=None, help="Default: from --out's suffix.")
@click.option("--floor", type=float, default=0.0, show_default=True, help="Parquet: keep cells with P ≥ floor·max(P) of each map (the lost mass is printed).")
def export(store, sites, out, fmt, floor) -> None:
    """Maps out of a batch store: one BS as GeoTIFF, or BSs as a long Parquet table
    (site_id, row, col, x, y, p; x/y the 100 m cell centre in the store's CRS, row 0 = north)."""
    from pathlib import Path

    from deepmend.engine.store import MapStore
    from deepmend.io import check_writable_dir

    _check_floor(floor)
    out_path = Path(out)
    fmt = fmt or {".tif": "tif", ".tiff": "tif", ".parquet": "parquet"}.get(out_path.suffix.lower())
    if fmt is None:
        raise InputError("cannot tell the format from --out; end it in .tif or .parquet, or pass --format", file=out, value=out_path.suffix)
    check_writable_dir(out_path.parent)
    st = MapStore(store)
    if fmt == "tif":
        if len(sites) != 1:
            raise InputError("a GeoTIFF holds one map: give exactly one --site", column="--site", value=len(sites))
        st.read_map(sites[0]).save(out_path)
        click.echo(f"wrote {out_path}")
        return
    n, lost = export_parquet(st, list(sites) or None, out_path, floor)
    click.echo(f"wrote {out_path}: {n} rows; lost mass below the floor: max {lost:.2e}")


def export_parquet(store, sites, out, floor: float) -> tuple[int, float]:
    """Stream the maps of ``sites`` (default all finished) to a Parquet long table, tile by tile."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepmend.engine.tasks import sparsify
    from deepmend.io import atomic_path

    if sites is None:
        rows = sorted(r for t in store.done_tiles() for r in store.manifest_entry(t)["rows"])
    else:
        rows = []
        for s in sites:
            r = store.row(str(s))  # a merged antenna's member id finds its site
            if r is None or not store._row_done(r):
                raise InputError("site not in this store (or its tile is not finished)", file=str(store.path), column="--site", value=str(s))
            rows.append(r)
    res = float(store.root.attrs.get("res", 100.0))
    schema = pa.schema([("site_id", pa.string()), ("row", pa.int16()), ("col", pa.int16()), ("x", pa.float64()), ("y", pa.float64()), ("p", pa.float32())],
                       metadata={"crs": str(store.root.attrs.get("crs")), "deepmend": "P(l|i) per 100 m cell; x, y cell centres; row 0 = north"})
    left, bottom = store.root["left"][:], store.root["bottom"][:]
    n, lost_max = 0, 0.0
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for a in range(0, len(rows), 64):
                chunk = rows[a : a + 64]
                probs, _ = store.dense(chunk)
                for r, p in zip(chunk, probs):
                    idx, v, lo = sparsify(p, floor)
                    lost_max = max(lost_max, lo)
                    rr, cc = np.divmod(idx.astype(np.int64), p.shape[1])
                    w.write_table(pa.table({"site_id": pa.array([str(store.sites[r])] * idx.size, pa.string()), "row": rr.astype(np.int16), "col": cc.astype(np.int16),
                                            "x": left[r] + (cc + 0.5) * res, "y": bottom[r] + (p.shape[0] - rr - 0.5) * res, "p": v.astype(np.float32)}, schema=schema))
                    n += idx.size
    return n, lost_max
