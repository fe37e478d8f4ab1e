"""Geolocation: a hand-checked two-site case, mass conservation, reports, bad value tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from deepmend.cli import main
from deepmend.engine import ModelSpec
from deepmend.errors import InputError
from deepmend.geolocate import geolocate, read_values

from synthetic import X0, Y0


def _csv(tmp_path, text, name="counts.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _polygons(tmp_path, boxes: dict[str, tuple[float, float, float, float]]):
    import shapely
    from shapely.geometry import mapping

    from deepmend.data.regions import project

    feats = [{"type": "Feature", "properties": {"name": k}, "geometry": mapping(project(shapely.box(*b), "EPSG:2154", "EPSG:4326"))} for k, b in boxes.items()]
    p = tmp_path / "polys.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def _totals(path) -> pd.Series:
    return pd.read_csv(path).set_index("area_id")["total"]


def test_two_sites_by_hand(two_site_job, tmp_path):
    """A (100) owns the west half of a 10 km box, B (50) the east half: 5,000 cells of 1 ha each.

    By hand: density = 100/5000 = 0.02 per cell in the west, 50/5000 = 0.01 in the east,
    0 elsewhere; totals 100 and 50; C (north, outside the mask) and 'ZZ' are reported.
    """
    values = _csv(tmp_path, "site_id,value\nS0,100\nS1,50\nZZ,7\n")
    polys = _polygons(tmp_path, {"west": (X0 - 5_000, Y0 - 5_000, X0, Y0 + 5_000), "east": (X0, Y0 - 5_000, X0 + 5_000, Y0 + 5_000)})
    res = geolocate(two_site_job, values, ModelSpec("voronoi"), tmp_path / "d.tif", polygons=polys, totals=tmp_path / "t.csv", progress=False)
    with rasterio.open(res.out) as src:
        assert src.crs.to_epsg() == 2154 and src.count == 1 and src.res == (100.0, 100.0) and src.descriptions == ("value",)
        band = src.read(1)
        rows, cols = rasterio.transform.rowcol(src.transform, [X0 - 2_500, X0 + 2_500, X0 + 5_050], [Y0, Y0, Y0])
    assert band[rows[0], cols[0]] == pytest.approx(0.02) and band[rows[1], cols[1]] == pytest.approx(0.01) and band[rows[2], cols[2]] == 0
    assert np.count_nonzero(band) == 10_000
    assert np.isclose(band, 0.02).sum() == 5_000 and np.isclose(band, 0.01).sum() == 5_000
    assert band.sum(dtype=np.float64) == pytest.approx(150.0, rel=1e-6)
    tot = _totals(res.totals)
    # the polygons are reprojected to WGS84 and back: edges move by < 1 mm, totals by < 1e-4
    assert tot["west"] == pytest.approx(100.0, rel=1e-4) and tot["east"] == pytest.approx(50.0, rel=1e-4)
    rep = json.loads((tmp_path / "d.tif.json").read_text())
    assert rep["counts"]["sites_matched"] == 2 and rep["counts"]["value_ids_not_in_deployment"] == 1 and rep["ids"]["not_in_deployment"] == ["ZZ"]
    assert rep["mass"]["raster_sum"][0] == pytest.approx(150.0) and rep["mass"]["values_total"] == [157.0]
    assert any("ZZ" in w for w in res.warnings)


def test_nested_overlapping_and_partial_polygons_get_full_exact_totals(two_site_job, tmp_path):
    """A box containing the whole map, a nested west box, an overlapping middle strip, a box cutting cells in half.

    By hand (west 0.02/ha, east 0.01/ha): 'all' 150; 'nested' (2 km × 2 km in the west) 400 ha × 0.02 = 8;
    'middle' (x0−1 km … x0+1 km, full height) 1,000 ha × 0.02 + 1,000 ha × 0.01 = 30; 'half' (x0−2,050 … x0−1,950,
    y0−50 … y0+50: a 1 ha square straddling four cells) 0.02.
    """
    values = _csv(tmp_path, "site_id,value\nS0,100\nS1,50\n")
    polys = _polygons(tmp_path, {"all": (X0 - 20_000, Y0 - 20_000, X0 + 20_000, Y0 + 20_000),
                                 "nested": (X0 - 3_000, Y0 - 1_000, X0 - 1_000, Y0 + 1_000),
                                 "middle": (X0 - 1_000, Y0 - 5_000, X0 + 1_000, Y0 + 5_000),
                                 "half": (X0 - 2_050, Y0 - 50, X0 - 1_950, Y0 + 50)})
    res = geolocate(two_site_job, values, ModelSpec("voronoi"), tmp_path / "d.tif", polygons=polys, progress=False)
    tot = _totals(res.totals)
    assert tot["all"] == pytest.approx(150.0, rel=1e-6)
    assert tot["nested"] == pytest.approx(8.0, rel=1e-4)
    assert tot["middle"] == pytest.approx(30.0, rel=1e-4)
    assert tot["half"] == pytest.approx(0.02, rel=1e-3)
    assert res.report["areas"]["overlapping"] and any("overlap" in w for w in res.warnings)
    assert res.report["mass"]["outside_polygons"] == pytest.approx([0.0], abs=1e-6)


@pytest.mark.parametrize("estimator", ["spread", "bayes", "ml-em"])
def test_site_area_weights_sum_to_one_up_to_outside(grid_job, tmp_path, estimator):
    """Four disjoint quadrant boxes over part of the maps: per site, Σ_a share + outside share = 1; totals = Σ_i v_i·share."""
    rng = np.random.default_rng(5)
    ids = list(grid_job.deployment.site_ids)
    v = rng.integers(10, 1000, len(ids)).astype(float)
    pd.DataFrame({"site_id": ids, "devices": v}).to_csv(tmp_path / "v.csv", index=False)
    q = {"sw": (X0 - 12_000, Y0 - 12_000, X0, Y0), "se": (X0, Y0 - 12_000, X0 + 12_000, Y0),
         "nw": (X0 - 12_000, Y0, X0, Y0 + 12_000), "ne": (X0, Y0, X0 + 12_000, Y0 + 12_000)}
    polys = _polygons(tmp_path, q)
    res = geolocate(grid_job, tmp_path / "v.csv", ModelSpec("probabilistic", {"alpha": 1.3}), tmp_path / "d.tif", polygons=polys,
                    site_areas=tmp_path / "w.parquet", floor=1e-4, max_sites=8, progress=False, estimator=estimator, max_iter=30)
    w = pd.read_parquet(tmp_path / "w.parquet")
    assert list(w.columns) == ["site_id", "area_id", "share"]
    sums = w.groupby("site_id")["share"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    outside = w[w.area_id == "__outside__"].set_index("site_id")["share"]
    assert (outside > 0.01).any() and (outside < 1).all()  # maps reach past the quadrants: reported, not hidden
    inside = w[w.area_id != "__outside__"]
    by_area = (inside.assign(v=inside.site_id.map(dict(zip(ids, v)))).eval("x = v * share").groupby("area_id")["x"].sum())
    tot = _totals(res.totals)
    for a in q:
        assert by_area[a] == pytest.approx(tot[a], rel=1e-6)
    sd = pd.read_csv(res.totals).set_index("area_id")["sd"]
    assert (sd > 0).all() and (sd < tot).all()


@pytest.mark.parametrize(
    "text, row, column, value, what",
    [
        ("site_id,value\nS0,1\nS1,abc\n", 3, "value", "abc", "not a number"),
        ("site_id,value\nS0,1\nS1,-2\n", 3, "value", "-2", "negative"),
        ("site_id,value\nS0,NaN\n", 2, "value", "NaN", "NaN"),
        ("site_id,value\nS0,inf\n", 2, "value", "inf", "infinite"),
        ("site_id,value\nS0,\n", 2, "value", "", "missing value"),
        ("site_id,count,time\nS0,1,a\nS0,2,a\n", 3, "site_id", "S0", "appears twice"),
        ("site,value\n,4\n", 2, "site", "", "missing site id"),
    ],
)
def test_bad_values_name_file_row_column_value(tmp_path, text, row, column, value, what):
    p = _csv(tmp_path, text)
    with pytest.raises(InputError, match=what) as ei:
        read_values(p)
    e = ei.value
    assert (e.file, e.row, e.column, e.value) == (str(p), row, column, value)


def test_bad_value_tables(tmp_path):
    with pytest.raises(InputError, match="no value column"):
        read_values(_csv(tmp_path, "site_id,lat\nS0,1\n"))
    with pytest.raises(InputError, match="file not found"):
        read_values(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="unsupported"):
        read_values(_csv(tmp_path, "x", "v.xlsx"))


SITES = "site_id,operator,lat,lon\nA,X,45.76,4.84\nB,X,45.70,4.90\nC,X,45.80,4.95\nD,X,45.72,4.78\n"


def test_cli_geolocate_and_batch(tmp_path, capsys):
    sites = _csv(tmp_path, SITES, "sites.csv")
    values = _csv(tmp_path, "site_id,value\nA,10\nB,20\nC,30\nQ,1\n")
    out = tmp_path / "d.tif"
    rc = main(["geolocate", "--values", str(values), "--sites", str(sites), "--country", "FR", "--model", "voronoi", "--workers", "0", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "1 value row site id(s) not in the deployment" in cap.err and "1 site(s) of the area have no value" in cap.err
    with rasterio.open(out) as src:
        assert src.read(1).sum(dtype=np.float64) == pytest.approx(60.0, rel=1e-6)
    store = tmp_path / "maps.zarr"
    argv = ["predict", "--sites", str(sites), "--country", "FR", "--all", "--store", str(store), "--workers", "0"]
    assert main(argv) == 0
    assert "4 maps computed" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 maps computed" in capsys.readouterr().out
    bad = _csv(tmp_path, "site_id,value\nA,ten\n", "bad.csv")
    rc = main(["geolocate", "--values", str(bad), "--sites", str(sites), "--country", "FR", "--workers", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "row 2" in err and "'value'" in err and "'ten'" in err


def test_value_column_ambiguity_and_choice(tmp_path):
    p = _csv(tmp_path, "site_id,calls,sms,traffic,operator\nS0,1,2,3,X\nS1,4,5,6,X\n")
    with pytest.raises(InputError, match=r"several numeric columns \(calls, sms, traffic\); choose with --value") as ei:
        read_values(p)
    assert ei.value.file == str(p)
    t = read_values(p, "sms")
    assert t.labels == ["sms"] and t.values[:, 0].tolist() == [2.0, 5.0]
    t = read_values(p, "traffic,calls")
    assert t.labels == ["traffic", "calls"] and t.values.tolist() == [[3.0, 1.0], [6.0, 4.0]]
    with pytest.raises(InputError, match="no such value column") as ei:
        read_values(p, "bytes")
    assert ei.value.value == "bytes"
    # one numeric column beside a text one: no ambiguity
    assert read_values(_csv(tmp_path, "site_id,label,devices\nS0,a,7\n", "one.csv")).labels == ["devices"]


def test_several_columns_and_time_slots_one_band_each(grid_job, tmp_path):
    ids = list(grid_job.deployment.site_ids)[:6]
    df = pd.DataFrame([(s, h, 10.0 * k + 1, 100.0 + k) for k, s in enumerate(ids) for h in ("09", "08")], columns=["site_id", "hour", "calls", "sms"])
    df.to_csv(tmp_path / "v.csv", index=False)
    res = geolocate(grid_job, tmp_path / "v.csv", ModelSpec("voronoi"), tmp_path / "d.tif", value=["calls", "sms"], progress=False)
    with rasterio.open(res.out) as src:
        assert src.descriptions == ("calls@08", "calls@09", "sms@08", "sms@09")
        sums = src.read().astype(np.float64).sum(axis=(1, 2))
    expect = [df[df.hour == h][c].sum() for c in ("calls", "sms") for h in ("08", "09")]
    np.testing.assert_allclose(sums, expect, rtol=1e-6)
    assert res.report["value_columns"] == ["calls", "sms"]


def test_raster_prior_moves_mass_where_the_prior_is(two_site_job, tmp_path):
    """bayes with a raster prior that is 0 in the south half: all of A's and B's devices go to the north half."""
    from affine import Affine

    prior = np.zeros((100, 100), dtype=np.float32)
    prior[:50, :] = 1.0  # north-up rows: the first 50 rows are the north half
    with rasterio.open(tmp_path / "prior.tif", "w", driver="GTiff", width=100, height=100, count=1, dtype="float32", crs="EPSG:2154",
                       transform=Affine(100, 0, X0 - 5_000, 0, -100, Y0 + 5_000)) as dst:
        dst.write(prior, 1)
    values = _csv(tmp_path, "site_id,value\nS0,100\nS1,50\n")
    polys = _polygons(tmp_path, {"north": (X0 - 5_000, Y0, X0 + 5_000, Y0 + 5_000), "south": (X0 - 5_000, Y0 - 5_000, X0 + 5_000, Y0)})
    res = geolocate(two_site_job, values, ModelSpec("voronoi"), tmp_path / "d.tif", polygons=polys, estimator="bayes",
                    prior=tmp_path / "prior.tif", progress=False)
    tot = _totals(res.totals)
    assert tot["north"] == pytest.approx(150.0, rel=1e-4) and tot["south"] == pytest.approx(0.0, abs=1e-3)
    assert res.report["estimator"]["prior"] == "raster prior.tif"


def test_cli_estimator_errors_are_one_line_exit_2(tmp_path, capsys):
    sites = _csv(tmp_path, SITES, "sites.csv")
    values = _csv(tmp_path, "site_id,calls,sms\nA,10,1\nB,20,2\n")
    out = tmp_path / "d.tif"
    base = ["geolocate", "--values", str(values), "--sites", str(sites), "--country", "FR", "--workers", "0", "--out", str(out)]
    for extra, needle in (([], "several numeric columns (calls, sms)"), (["--value", "bytes"], "no such value column"),
                          (["--value", "calls", "--prior", "population"], "--prior goes with"),
                          (["--value", "calls", "--estimator", "bayes", "--prior", str(tmp_path / "nope.tif")], "file not found"),
                          (["--value", "calls", "--site-areas", str(tmp_path / "w.csv")], "needs --polygons")):
        rc = main(base + extra)
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1, (extra, err)
        assert not out.exists()
    rc = main(base + ["--value", "calls,sms", "--estimator", "ml-em", "--max-iter", "50"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "2 band(s): calls, sms" in cap.out and "EM steps" in cap.out


def test_cli_operator_filter_on_a_multi_operator_site_file(tmp_path, capsys):
    """--sites with two operators and --operator: only that operator's sites are geolocated; an unknown one is refused."""
    sites = _csv(tmp_path, "site_id,operator,lat,lon\nA,X,45.76,4.84\nB,X,45.70,4.90\nE,X,45.74,4.99\nC,Y,45.80,4.95\nD,Y,45.72,4.78\nF,Y,45.69,4.83\n",
                 "sites.csv")
    values = _csv(tmp_path, "antenna_id,count\nA,10\nB,20\nC,30\n")
    out = tmp_path / "d.tif"
    base = ["geolocate", "--values", str(values), "--sites", str(sites), "--country", "FR", "--workers", "0", "--out", str(out)]
    assert main(base + ["--operator", "x"]) == 0
    cap = capsys.readouterr()
    assert "1 value row site id(s) not in the deployment" in cap.err and "1 site(s) of the area have no value" in cap.err  # C is Y's; E has none
    with rasterio.open(out) as src:
        assert src.read(1).sum(dtype=np.float64) == pytest.approx(30.0, rel=1e-6)
    assert main(base + ["--operator", "Z"]) == 2
    err = capsys.readouterr().err
    assert "no rows of operator 'Z'; operators in the file: X, Y" in err
