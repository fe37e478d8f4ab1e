"""Geolocate per-BS metadata: estimate the density of devices over space, and totals per area.

density(ℓ, b) from the counts v_i(b) and the diffusion maps P(ℓ|i) of a model, by one of
three estimators (:mod:`deepmend.geolocate.estimators`: ``spread``, ``ml-em``, ``bayes``)
on the national 100 m lattice; optional exact area-weighted totals per polygon and the
site → area weight table (:mod:`deepmend.geolocate.areas`). The maps come from the batch
engine (resumably when a ``store`` is given, locally or on Dask), gathered into one sparse
matrix (:mod:`deepmend.geolocate.maps`). Nothing is dropped silently: value rows whose site
is not in the deployment, sites outside the selected area and target sites without a value
are counted and listed in the report.

Several operators (a multi-operator site list without ``--operator``): one job per network, each
network's maps and estimator on their own (:func:`deepmend.geolocate.estimators.estimate_networks`),
densities and totals summed; the totals table has one row per area, band and operator (``all`` first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepmend.geolocate.estimators import ESTIMATORS
from deepmend.geolocate.values import ValueTable, match_values, read_values

__all__ = ["ESTIMATORS", "GeolocateResult", "geolocate", "read_values", "ValueTable"]

#: At most this many ids are listed per category in the report (all are counted).
LIST_LIMIT = 200
#: Area id of the weight-table rows holding each site's share outside every area.
OUTSIDE = "__outside__"


@dataclass
class GeolocateResult:
    """What ``geolocate`` wrote: the density raster ``out``, its report (estimator, totals, lost mass,
    convergence), the per-area totals table and the site → area weights table (when areas were
    given), and the warnings it printed.
    """
    out: Path
    report: dict
    totals: Path | None = None
    warnings: list[str] = field(default_factory=list)
    site_areas: Path | None = None


def _write_table(df, path: Path) -> None:
    from deepmend.errors import InputError
    from deepmend.io import atomic_path

    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            raise InputError("tables must be .csv or .parquet", file=str(path), value=suffix)


def _check_table_path(path, option: str) -> None:
    from deepmend.errors import InputError

    if path is not None and Path(path).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"{option} must be .csv or .parquet", file=str(path), column=option, value=Path(path).suffix)


def geolocate(job, values: str | Path | ValueTable, spec, out: str | Path, *, polygons: str | Path | None = None, polygon_field: str | None = None,
              totals: str | Path | None = None, store: str | Path | None = None, executor=None, floor: float = 1e-6,
              max_sites: int | None = None, progress: bool = True, value: str | list[str] | None = None, estimator: str = "spread",
              prior: str | Path | None = None, tol: float = 1e-6, max_iter: int = 200, site_areas: str | Path | None = None) -> GeolocateResult:
    """Density GeoTIFF + optional totals per polygon and site → area table + a JSON sidecar ``<out>.json``.

    Parameters
    ----------
    job : deepmend.engine.job.Job, or a list of them (one per operator's network, all in one CRS)
        Deployment, mask and target sites (in a metric CRS). With several networks
        (:func:`deepmend.engine.job.open_jobs` of a multi-operator site list) each site's values
        are spread with its own network's maps, the estimator runs network by network
        (:func:`deepmend.geolocate.estimators.estimate_networks`) and the densities are summed:
        the raster's bands hold all operators together; the totals table has one row per area,
        band and operator (``all`` first); the report lists each network.
    values : a value table path (CSV/Parquet) or a :class:`ValueTable`; ``value`` names its column(s).
    spec : deepmend.engine.tasks.ModelSpec, the model whose maps P(ℓ|i) are used.
    out : the density GeoTIFF (float32, one band per value column × time slot, devices per cell).
    polygons : GeoJSON polygons (WGS84); totals are exact area-weighted (fractional cells), and
        overlapping or nested polygons are each totalled fully.
    totals : totals table (.csv/.parquet; default ``OUT.totals.csv``): area_id, band, total, sd, area_km2.
    site_areas : site → area weight table (.csv/.parquet): site_id, area_id, share (and band for
        ``ml-em`` with several bands); one ``__outside__`` row per site holds its share outside every area.
    estimator : ``spread`` | ``ml-em`` | ``bayes`` (see :mod:`deepmend.geolocate.estimators`).
    prior : ``uniform`` (default), ``population`` or a raster path: the spatial prior of ``bayes``
        and the starting density of ``ml-em``.
    tol, max_iter : the EM stopping rule (relative log-likelihood change) and its cap.

    Raises
    ------
    InputError
        Bad values, paths, options or polygons (one line naming file/row/column/value).
    """
    import json

    import pandas as pd

    from deepmend.data.regions import project, read_polygons
    from deepmend.engine.runner import run_batch
    from deepmend.engine.tiles import DEFAULT_MAX_SITES
    from deepmend.errors import InputError
    from deepmend.geolocate.areas import allocation_sd, area_totals, coverage
    from deepmend.geolocate.density import DensityRaster
    from deepmend.geolocate.estimators import estimate_networks
    from deepmend.geolocate.maps import MapCollector
    from deepmend.geolocate.priors import check_prior, prior_values
    from deepmend.grid.lattice import Lattice
    from deepmend.io import atomic_path, check_writable_dir

    out = Path(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError("density output must be a GeoTIFF (.tif)", file=str(out), value=out.suffix)
    if estimator not in ESTIMATORS:
        raise InputError(f"unknown estimator; valid: {', '.join(ESTIMATORS)}", column="--estimator", value=estimator)
    if prior is not None and estimator == "spread" and str(prior) != "uniform":
        raise InputError("--prior goes with --estimator bayes or ml-em (spread uses the maps as they are)", column="--prior", value=str(prior))
    if not (tol > 0) or max_iter < 1:
        raise InputError("--tol must be > 0 and --max-iter ≥ 1", column="--tol", value=f"{tol}, {max_iter}")
    for path, opt in ((totals, "--totals"), (site_areas, "--site-areas")):
        if path is not None and polygons is None:
            raise InputError(f"{opt} needs --polygons", column=opt, value=str(path))
        _check_table_path(path, opt)
    check_prior(prior)
    check_writable_dir(out.parent)
    table = values if isinstance(values, ValueTable) else read_values(values, value)
    polys = read_polygons(polygons, name_field=polygon_field) if polygons else None
    jobs = list(job) if isinstance(job, (list, tuple)) else [job]
    if len({j.crs for j in jobs}) != 1:
        raise ValueError("the networks of one geolocation must share a CRS")
    crs = jobs[0].crs
    name = " + ".join(j.name for j in jobs)
    net = _Networks(jobs)
    m = match_values(table, net.id_index, net.n, net.targets, net.site_ids)
    warnings: list[str] = []
    if m.unknown_ids:
        warnings.append(f"{len(m.unknown_ids)} value row site id(s) not in the deployment (ignored), e.g. {', '.join(m.unknown_ids[:5])}")
    if m.outside_ids:
        warnings.append(f"{len(m.outside_ids)} value row site id(s) of sites outside the selected area (ignored), e.g. {', '.join(m.outside_ids[:5])}")
    if m.targets_without_value:
        warnings.append(f"{len(m.targets_without_value)} site(s) of the area have no value (count 0), e.g. {', '.join(m.targets_without_value[:5])}")
    matched = np.flatnonzero(m.has_value)
    if matched.size == 0:
        raise InputError("no value row matches a site of the selected deployment", file=table.source, column="site_id", value=str(table.site_ids[0]))
    lattice = Lattice.for_sites(crs, net.x[matched], net.y[matched])
    ids = [str(net.site_ids[i]) for i in matched]
    v = m.weights[matched]  # (n, B)
    groups = net.network[matched]
    coll = MapCollector(lattice, ids)
    reps = []
    from deepmend.engine.job import network_stores

    stores = network_stores(store, jobs)
    for k, j in enumerate(jobs):  # each operator's network on its own (tiles never mix networks)
        local = matched[groups == k] - net.offsets[k]
        if local.size == 0 and store is None:
            continue
        # with a store, maps of every target are kept (shared with 'predict --store' and other value tables)
        run_job = j if store is not None else j.with_targets(local)
        reps.append(run_batch(run_job, spec, store=stores[k], executor=executor, floor=floor,
                              max_sites=max_sites or DEFAULT_MAX_SITES, consumer=coll.add, progress=progress))
    rep = _merge_reports(reps)
    if coll.sites_added != matched.size:
        raise RuntimeError(f"{matched.size - coll.sites_added} matched sites got no map")
    maps = coll.matrix()
    pri, prior_label = prior_values(prior if estimator != "spread" else None, maps)
    est = estimate_networks(estimator, maps.P, v, groups, pri, **({"tol": tol, "max_iter": max_iter} if estimator == "ml-em" else {}))
    if est.info.get("sites_with_zero_prior"):
        warnings.append(f"{est.info['sites_with_zero_prior']} site(s) have prior 0 over their whole map: their posterior uses a uniform prior")
    if estimator == "ml-em" and est.info["stopped"] == "max_iter":
        warnings.append(f"EM stopped at --max-iter {max_iter} before the log-likelihood settled (relative change > {tol})")
    labels = table.labels
    raster = DensityRaster(lattice, table.n_slots, workdir=out.parent)
    try:
        raster.set_cells(maps.cells, est.density)
        sums = raster.write_geotiff(out, labels, {"deepmend": json.dumps({"model": spec.as_dict(), "job": name, "floor": floor, "bands": labels,
                                                                           "estimator": estimator, "prior": prior_label})})
    finally:
        raster.close()
    total_path = site_path = None
    outside = None
    area_report = None
    if polys is not None:
        metric = {k: project(g, "EPSG:4326", crs) for k, g in polys.items()}
        cov = coverage(maps, metric)
        tot, outside = area_totals(est.density, cov)
        names = cov.names
        per_band = [est.weights(cov.C, b) for b in range(table.n_slots)] if estimator == "ml-em" else [est.weights(cov.C, 0)] * table.n_slots
        sd = np.column_stack([allocation_sd(per_band[b], v[:, b]) for b in range(table.n_slots)])
        total_path = Path(totals) if totals is not None else out.with_suffix(".totals.csv")
        K, B = len(names), table.n_slots
        table_rows = pd.DataFrame({"area_id": np.repeat(names, B), "band": np.tile(labels, K), "total": tot.ravel(), "sd": sd.ravel(),
                                   "area_km2": np.repeat(cov.area_m2 / 1e6, B)})
        if len(jobs) > 1:  # one row per area, band and operator: all operators first, then each network's share
            frames = [table_rows.assign(operator="all")]
            for k, op in enumerate(net.operators):
                g = groups == k
                tot_k = np.column_stack([per_band[b][g].T @ v[g, b] for b in range(B)])
                sd_k = np.column_stack([allocation_sd(per_band[b][g], v[g, b]) for b in range(B)])
                frames.append(table_rows.assign(total=tot_k.ravel(), sd=sd_k.ravel(), operator=op))
            table_rows = pd.concat(frames, ignore_index=True)[["area_id", "band", "operator", "total", "sd", "area_km2"]]
        _write_table(table_rows, total_path)
        union_share = [_union_share(est, cov, b) for b in range(table.n_slots if estimator == "ml-em" else 1)]
        if site_areas is not None:
            site_path = Path(site_areas)
            frames = []
            for b in range(len(union_share)):
                w = per_band[b].tocoo()
                nz = w.data > 0
                r, k = w.row[nz], w.col[nz]
                df = pd.DataFrame({"site_id": np.array(ids)[r], "area_id": np.array(names, dtype=object)[k], "share": w.data[nz]})
                df = pd.concat([df, pd.DataFrame({"site_id": ids, "area_id": OUTSIDE, "share": 1.0 - union_share[b]})], ignore_index=True)
                if len(union_share) > 1:
                    df.insert(1, "band", labels[b])
                frames.append(df)
            _write_table(pd.concat(frames, ignore_index=True).sort_values(["site_id"], kind="stable"), site_path)
        out_site = 1.0 - union_share[0]
        row_sums = np.asarray(per_band[0].sum(axis=1)).ravel()
        if cov.overlapping:
            warnings.append("areas overlap: each is totalled fully, so their totals add up to more than the mass inside their union "
                            "and a site's shares can add up to more than 1")
        empty = [n for n, t in zip(names, tot.sum(axis=1)) if t <= 0]
        if empty:
            warnings.append(f"{len(empty)} area(s) hold no mass (outside every map), e.g. {', '.join(empty[:5])}")
        area_report = {"n_areas": K, "overlapping": cov.overlapping, "outside_mass": outside.tolist(),
                       "site_outside_share": {"mean": float(out_site.mean()), "max": float(out_site.max()),
                                              "sites_over_1pct": int((out_site > 0.01).sum())},
                       "site_share_sum_plus_outside": {"min": float((row_sums + out_site).min()), "max": float((row_sums + out_site).max())},
                       "uncertainty": "sd = sqrt(Σ_i v_i w_ia (1 − w_ia)): binomial allocation given the estimator's maps, not model error"}
    value_total = table.values.sum(axis=0)
    matched_total = v.sum(axis=0)
    lost = maps.lost @ v
    report = {
        "model": spec.as_dict(), "job": name, "floor": floor, "bands": labels, "value_columns": list(table.columns), "crs": crs,
        "estimator": {**{k: val for k, val in est.info.items() if k != "loglik_trace"}, "prior": prior_label,
                      **({"loglik_trace": est.info["loglik_trace"][:50]} if "loglik_trace" in est.info else {})},
        "lattice": {"x0": lattice.x0, "y0": lattice.y0, "nx": lattice.nx, "ny": lattice.ny, "res": lattice.res},
        "counts": {"value_rows_sites": int(table.site_ids.size), "sites_matched": int(matched.size), "value_ids_merged_into_colocated_sites": m.merged_ids,
                   "value_ids_not_in_deployment": len(m.unknown_ids), "value_ids_outside_area": len(m.outside_ids),
                   "sites_without_value": len(m.targets_without_value), "targets": int(len(net.targets)), "excluded_from_job": len(net.excluded),
                   "support_cells": int(maps.n_cells), "map_entries": int(maps.P.nnz)},
        "mass": {"values_total": value_total.tolist(), "values_matched": matched_total.tolist(), "raster_sum": sums.tolist(),
                 "lost_below_floor": lost.tolist(), "lost_below_floor_note": "map mass below --floor, put back pro rata over each map's kept cells",
                 "relative_error": (np.abs(sums - matched_total) / np.maximum(matched_total, 1e-300)).tolist(),
                 "outside_polygons": outside.tolist() if outside is not None else None},
        "areas": area_report,
        "networks": [{"operator": op, "job": j.name, "sites_matched": int((groups == k).sum()), "values_matched": v[groups == k].sum(axis=0).tolist()}
                     for k, (op, j) in enumerate(zip(net.operators, jobs))],
        "ids": {"not_in_deployment": m.unknown_ids[:LIST_LIMIT], "outside_area": m.outside_ids[:LIST_LIMIT],
                "without_value": m.targets_without_value[:LIST_LIMIT], "excluded_from_job": dict(list(net.excluded.items())[:LIST_LIMIT])},
        "batch": rep.as_dict(), "warnings": warnings,
    }
    with atomic_path(out.with_suffix(out.suffix + ".json")) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return GeolocateResult(out, report, total_path, warnings, site_path)


class _Networks:
    """Several networks' jobs seen as one list of sites (index k of network g is ``offsets[g] + k``)."""

    def __init__(self, jobs) -> None:
        deps = [j.deployment for j in jobs]
        self.offsets = np.cumsum([0] + [len(d) for d in deps])
        self.n = int(self.offsets[-1])
        self.site_ids = np.concatenate([d.site_ids.astype(str) for d in deps])
        self.x = np.concatenate([d.x for d in deps])
        self.y = np.concatenate([d.y for d in deps])
        self.network = np.repeat(np.arange(len(jobs)), [len(d) for d in deps])
        self.targets = np.concatenate([np.asarray(j.targets, dtype=int) + o for j, o in zip(jobs, self.offsets)])
        self.operators = [", ".join(d.operators()) or j.name for d, j in zip(deps, jobs)]
        self.excluded = {k: val for j in jobs for k, val in j.excluded.items()}
        self.id_index: dict[str, int] = {}
        for j, o in zip(jobs, self.offsets):
            for s, i in j.id_index().items():
                self.id_index.setdefault(s, int(i + o))


def _merge_reports(reps):
    """One batch report for several networks' runs: counts and times added, maxima kept."""
    from deepmend.engine.runner import BatchReport

    out = BatchReport()
    for r in reps:
        for k, val in r.as_dict().items():
            if k in ("lost_max", "peak_rss_mb"):
                setattr(out, k, max(getattr(out, k), val))
            else:
                setattr(out, k, getattr(out, k) + val)
        out.computed_tiles.extend(r.computed_tiles)
    return out


def _union_share(est, cov, b: int) -> np.ndarray:
    """Each site's share inside the union of the areas (n,)."""
    import scipy.sparse as sp

    return est.weights(sp.csr_matrix(cov.union[:, None]), b).toarray()[:, 0]
