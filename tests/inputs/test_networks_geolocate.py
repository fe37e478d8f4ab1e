"""Kind 1 in geolocation: a multi-operator site list without ``--operator`` is geolocated network by network.

Each operator's network is tessellated on its own (two operators on one mast each get a cell),
each site's counts are spread with its own network's maps, the estimators run per network, and
the density and per-area totals are summed (docs/INPUTS.md, docs/GEOLOCATION.md).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from inputs_helpers import case, cli, one_error_line
from deepmend.engine import ModelSpec
from deepmend.engine.job import open_jobs
from deepmend.geolocate import geolocate

SITES = case("c01_colocated_two_operators.csv")
VALUES = case("c01_values.csv")


def _polygons(tmp_path):
    """Two boxes around Lyon, west and east of the shared mast (WGS84)."""
    feats = [{"type": "Feature", "properties": {"name": n}, "geometry": {"type": "Polygon", "coordinates": [[
        [x0, 45.70], [x1, 45.70], [x1, 45.83], [x0, 45.83], [x0, 45.70]]]}} for n, x0, x1 in (("west", 4.70, 4.8357), ("east", 4.8357, 5.00))]
    p = tmp_path / "areas.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def test_kind1_geolocate_without_operator_handles_every_network(tmp_path):
    out = tmp_path / "d.tif"
    rc, stdout, err = cli("geolocate", "--values", VALUES, "--sites", SITES, "--out", out, "--workers", "0", "--polygons", _polygons(tmp_path))
    assert rc == 0, err
    assert "choose one operator" not in err
    rep = json.loads(out.with_suffix(".tif.json").read_text())
    assert [(n["operator"], n["sites_matched"], n["values_matched"]) for n in rep["networks"]] == [("OpA", 3, [2000.0]), ("OpB", 3, [2000.0])]
    with rasterio.open(out) as src:
        d = np.nan_to_num(src.read(1))
    assert d.sum(dtype=np.float64) == pytest.approx(4000.0, rel=1e-6)  # every operator's counts, summed
    assert d.max() < 1000 * 0.05  # S01 and S02 (one mast) each spread over a real cell
    tot = pd.read_csv(out.with_suffix(".totals.csv"))
    assert list(tot.columns) == ["area_id", "band", "operator", "total", "sd", "area_km2"]
    wide = tot.pivot(index="area_id", columns="operator", values="total")
    assert np.allclose(wide["all"], wide["OpA"] + wide["OpB"])
    assert wide["OpA"].sum() <= 2000 + 1e-6 and wide["OpB"].sum() <= 2000 + 1e-6


@pytest.mark.parametrize("estimator", ["spread", "bayes", "ml-em"])
def test_kind1_geolocate_networks_sum_to_the_per_operator_runs(tmp_path, estimator):
    """All networks at once = the sum of one run per operator, for every estimator (each network estimated on its own)."""
    spec = ModelSpec("voronoi")
    polys = _polygons(tmp_path)
    both = geolocate(open_jobs(None, None, None, SITES), VALUES, spec, tmp_path / "all.tif", polygons=polys, estimator=estimator, progress=False)
    assert len(both.report["networks"]) == 2
    per_op = {}
    for op in ("OpA", "OpB"):
        jobs = open_jobs(None, None, op, SITES)
        assert len(jobs) == 1
        r = geolocate(jobs, VALUES, spec, tmp_path / f"{op}.tif", polygons=polys, estimator=estimator, progress=False)
        per_op[op] = pd.read_csv(r.totals).set_index("area_id")["total"]
    tot = pd.read_csv(both.totals)
    for op in ("OpA", "OpB", "all"):
        got = tot[tot.operator == op].set_index("area_id")["total"]
        want = per_op[op] if op != "all" else per_op["OpA"] + per_op["OpB"]
        assert np.allclose(got.sort_index(), want.sort_index(), rtol=1e-6, atol=1e-6), (op, got, want)
    with rasterio.open(both.out) as src:
        assert np.nan_to_num(src.read(1)).sum(dtype=np.float64) == pytest.approx(4000.0, rel=1e-5)


def test_kind1_geolocate_networks_with_a_store_keep_one_store_per_network(tmp_path):
    store = tmp_path / "maps"
    args = ["geolocate", "--values", VALUES, "--sites", SITES, "--out", tmp_path / "d.tif", "--workers", "0", "--store", store]
    rc, _, err = cli(*args)
    assert rc == 0, err
    assert sorted(p.name for p in store.iterdir()) == ["OpA.zarr", "OpB.zarr"]
    rc, _, err = cli(*args)  # resumed: every tile read back from the networks' stores
    assert rc == 0, err
    rep = json.loads((tmp_path / "d.tif.json").read_text())
    assert rep["batch"]["tiles_computed"] == 0 and rep["batch"]["tiles_resumed"] >= 2
    rc, _, err = cli("export", store / "OpB.zarr", "--site", "S02", "--out", tmp_path / "s02.tif")
    assert rc == 0, err


def test_kind1_geolocate_unknown_operator_is_refused(tmp_path):
    rc, _, err = cli("geolocate", "--values", VALUES, "--sites", SITES, "--operator", "OpZ", "--out", tmp_path / "d.tif", "--workers", "0")
    assert rc == 2
    assert "no rows of operator 'OpZ'; operators in the file: OpA, OpB" in one_error_line(err)


def test_kind1_predict_store_without_operator_keeps_one_store_per_network(tmp_path):
    store = tmp_path / "st"
    rc, out, err = cli("predict", "--all", "--sites", SITES, "--store", store, "--workers", "0")
    assert rc == 0, err
    assert sorted(p.name for p in store.iterdir()) == ["OpA.zarr", "OpB.zarr"]
    # the same network chosen with --operator resumes its store
    rc, out, err = cli("predict", "--all", "--sites", SITES, "--operator", "OpB", "--store", store / "OpB.zarr", "--workers", "0")
    assert rc == 0, err
    assert "(1 tiles resumed, 0 maps computed)" in out
    # a multi-operator list into one network's store: refused, not nested inside it
    rc, out, err = cli("predict", "--all", "--sites", SITES, "--store", store / "OpB.zarr", "--workers", "0")
    assert rc == 2
    assert "is the map store of one network, and this list holds 2 operators' networks (OpA, OpB)" in one_error_line(err)


def test_kind1_geolocate_from_python_with_a_dataframe(tmp_path):
    """Python: a DataFrame of several operators' sites, a bundled region, every network geolocated."""
    import deepmend as dm

    df = pd.read_csv(SITES)
    jobs = open_jobs(None, None, None, sites=df, region="FR/Lyon")
    assert [j.deployment.operators() for j in jobs] == [["OpA"], ["OpB"]]
    res = geolocate(jobs, VALUES, ModelSpec("voronoi"), tmp_path / "d.tif", progress=False)
    assert sum(res.report["mass"]["raster_sum"]) == pytest.approx(4000.0, rel=1e-6)
    only_b = open_jobs(None, None, "opb", sites=dm.read_sites(df))  # a Deployment, one operator chosen
    assert len(only_b) == 1 and set(only_b[0].deployment.operator) == {"OpB"}
