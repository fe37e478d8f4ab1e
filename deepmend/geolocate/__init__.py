"""Geolocate per-BS metadata: spread each BS's value over space with its diffusion map.

density(ℓ, t) = Σ_i v_i(t)·P(ℓ|i) on the national 100 m lattice. The maps come from the
batch engine (so a whole country streams through in bounded memory, resumably when a
``store`` is given, locally or on Dask), and nothing is dropped silently: value rows
whose site is not in the deployment, sites outside the selected area and target sites
without a value are all counted and listed in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepmend.geolocate.values import ValueTable, match_values, read_values

__all__ = ["GeolocateResult", "geolocate", "read_values", "ValueTable"]

#: At most this many ids are listed per category in the report (all are counted).
LIST_LIMIT = 200


@dataclass
class GeolocateResult:
    out: Path
    report: dict
    totals: Path | None = None
    warnings: list[str] = field(default_factory=list)


def _write_totals(path: Path, names: list[str], labels: list[str], totals: np.ndarray, timed: bool) -> None:
    import pandas as pd

    from deepmend.errors import InputError
    from deepmend.io import atomic_path

    if timed:
        df = pd.DataFrame({"polygon": np.repeat(names, len(labels)), "time": np.tile(labels, len(names)), "total": totals.ravel()})
    else:
        df = pd.DataFrame({"polygon": names, "total": totals[:, 0]})
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            raise InputError("totals must be .csv or .parquet", file=str(path), value=suffix)


def geolocate(job, values: str | Path | ValueTable, spec, out: str | Path, *, polygons: str | Path | None = None, polygon_field: str | None = None,
              totals: str | Path | None = None, store: str | Path | None = None, executor=None, floor: float = 1e-6,
              max_sites: int | None = None, progress: bool = True) -> GeolocateResult:
    """Density raster (GeoTIFF) + optional totals per polygon + a JSON sidecar report ``<out>.json``."""
    import json

    from deepmend.data.regions import project, read_polygons
    from deepmend.engine.runner import run_batch
    from deepmend.engine.tiles import DEFAULT_MAX_SITES
    from deepmend.errors import InputError
    from deepmend.geolocate.density import DensityRaster
    from deepmend.grid.lattice import Lattice
    from deepmend.io import atomic_path, check_writable_dir

    out = Path(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError("density output must be a GeoTIFF (.tif)", file=str(out), value=out.suffix)
    if totals is not None and polygons is None:
        raise InputError("--totals needs --polygons", column="--totals", value=str(totals))
    if totals is not None and Path(totals).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError("totals must be .csv or .parquet", file=str(totals), value=Path(totals).suffix)
    check_writable_dir(out.parent)
    table = values if isinstance(values, ValueTable) else read_values(values)
    polys = read_polygons(polygons, name_field=polygon_field) if polygons else None
    dep = job.deployment
    m = match_values(table, job.id_index(), len(dep), job.targets, dep.site_ids)
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
    # with a store, maps of every target are kept (shared with 'predict --store' and other value tables)
    run_job = job if store is not None else job.with_targets(matched)
    lattice = Lattice.for_sites(job.crs, dep.x[matched], dep.y[matched])
    weights = {str(dep.site_ids[i]): m.weights[i] for i in matched}
    acc = DensityRaster(lattice, weights, table.n_slots, workdir=out.parent)
    try:
        rep = run_batch(run_job, spec, store=str(store) if store is not None else None, executor=executor, floor=floor,
                        max_sites=max_sites or DEFAULT_MAX_SITES, consumer=acc.add, progress=progress)
        if acc.sites_added != matched.size:
            raise RuntimeError(f"{matched.size - acc.sites_added} matched sites got no map")
        labels = table.labels
        sums = acc.write_geotiff(out, labels, {"deepmend": json.dumps({"model": spec.as_dict(), "job": job.name, "floor": floor, "bands": labels})})
        total_path = None
        outside = None
        if polys is not None:
            metric = {k: project(g, "EPSG:4326", job.crs) for k, g in polys.items()}
            tot, outside = acc.polygon_totals(metric)
            total_path = Path(totals) if totals is not None else out.with_suffix(".totals.csv")
            _write_totals(total_path, list(metric), labels, tot, table.times is not None)
        value_total = table.values.sum(axis=0)
        matched_total = m.weights[matched].sum(axis=0)
        report = {
            "model": spec.as_dict(), "job": job.name, "floor": floor, "bands": labels, "crs": job.crs,
            "lattice": {"x0": lattice.x0, "y0": lattice.y0, "nx": lattice.nx, "ny": lattice.ny, "res": lattice.res},
            "counts": {"value_rows_sites": int(table.site_ids.size), "sites_matched": int(matched.size), "value_ids_merged_into_colocated_sites": m.merged_ids,
                       "value_ids_not_in_deployment": len(m.unknown_ids), "value_ids_outside_area": len(m.outside_ids),
                       "sites_without_value": len(m.targets_without_value), "targets": int(len(job.targets)), "excluded_from_job": len(job.excluded)},
            "mass": {"values_total": value_total.tolist(), "values_matched": matched_total.tolist(), "raster_sum": sums.tolist(),
                     "lost_below_floor": acc.lost.tolist(), "expected_raster_sum": acc.expected.tolist(),
                     "relative_error": (np.abs(sums - acc.expected) / np.maximum(acc.expected, 1e-300)).tolist(),
                     "outside_polygons": outside.tolist() if outside is not None else None},
            "ids": {"not_in_deployment": m.unknown_ids[:LIST_LIMIT], "outside_area": m.outside_ids[:LIST_LIMIT],
                    "without_value": m.targets_without_value[:LIST_LIMIT], "excluded_from_job": dict(list(job.excluded.items())[:LIST_LIMIT])},
            "batch": rep.as_dict(), "warnings": warnings,
        }
        with atomic_path(out.with_suffix(out.suffix + ".json")) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    finally:
        acc.close()
    return GeolocateResult(out, report, total_path, warnings)
