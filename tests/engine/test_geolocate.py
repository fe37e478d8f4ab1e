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

from conftest import X0, Y0  # tests/engine/conftest.py  # noqa: E402


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


def test_two_sites_by_hand(two_site_job, tmp_path):
    """A (100) owns the west half of a 10 km box, B (50) the east half: 5,000 cells of 1 ha each.

    By hand: density = 100/5000 = 0.02 per cell in the west, 50/5000 = 0.01 in the east,
    0 elsewhere; totals 100 and 50; C (north, outside the mask) and 'ZZ' are reported.
    """
    values = _csv(tmp_path, "site_id,value\nS0,100\nS1,50\nZZ,7\n")
    # polygons inset by 1 m: rasterising assigns cells by centre, the edges are lattice lines
    polys = _polygons(tmp_path, {"west": (X0 - 4_999, Y0 - 4_999, X0 - 1, Y0 + 4_999), "east": (X0 + 1, Y0 - 4_999, X0 + 4_999, Y0 + 4_999)})
    res = geolocate(two_site_job, values, ModelSpec("voronoi"), tmp_path / "d.tif", polygons=polys, totals=tmp_path / "t.csv", progress=False)
    with rasterio.open(res.out) as src:
        assert src.crs.to_epsg() == 2154 and src.count == 1 and src.res == (100.0, 100.0)
        band = src.read(1)
        rows, cols = rasterio.transform.rowcol(src.transform, [X0 - 2_500, X0 + 2_500, X0 + 5_050], [Y0, Y0, Y0])
    assert band[rows[0], cols[0]] == pytest.approx(0.02) and band[rows[1], cols[1]] == pytest.approx(0.01) and band[rows[2], cols[2]] == 0
    assert np.count_nonzero(band) == 10_000
    assert np.isclose(band, 0.02).sum() == 5_000 and np.isclose(band, 0.01).sum() == 5_000
    assert band.sum(dtype=np.float64) == pytest.approx(150.0, rel=1e-6)
    tot = pd.read_csv(res.totals).set_index("polygon")["total"]
    assert tot["west"] == pytest.approx(100.0) and tot["east"] == pytest.approx(50.0)
    rep = json.loads((tmp_path / "d.tif.json").read_text())
    assert rep["counts"]["sites_matched"] == 2 and rep["counts"]["value_ids_not_in_deployment"] == 1 and rep["ids"]["not_in_deployment"] == ["ZZ"]
    assert rep["mass"]["raster_sum"][0] == pytest.approx(150.0) and rep["mass"]["values_total"] == [157.0]
    assert any("ZZ" in w for w in res.warnings)


def test_mass_conservation_with_floor_and_time(grid_job, tmp_path):
    rng = np.random.default_rng(1)
    ids = list(grid_job.deployment.site_ids)
    rows = [(s, t, float(rng.integers(0, 1000))) for s in ids[:12] for t in ("2024-01-01T10", "2024-01-01T09")]
    df = pd.DataFrame(rows, columns=["site_id", "time", "count"])
    df.to_parquet(tmp_path / "v.parquet")
    for spec, floor in ((ModelSpec("voronoi"), 1e-6), (ModelSpec("probabilistic", {"alpha": 1.3}), 1e-3)):
        out = tmp_path / f"{spec.name}.tif"
        res = geolocate(grid_job, tmp_path / "v.parquet", spec, out, floor=floor, max_sites=4, progress=False)
        with rasterio.open(out) as src:
            bands = src.read().astype(np.float64)
            assert list(src.descriptions) == ["2024-01-01T09", "2024-01-01T10"]  # sorted time slots
        m = res.report["mass"]
        per_slot = df.groupby("time")["count"].sum().sort_index().to_numpy()
        assert m["values_matched"] == pytest.approx(per_slot.tolist())
        lost = np.array(m["lost_below_floor"])
        # Σ raster = Σ matched values − Σ v_i·lost_i (the floor's reported loss)
        np.testing.assert_allclose(bands.sum(axis=(1, 2)), per_slot - lost, rtol=1e-6)
        if spec.name == "voronoi":
            assert np.all(lost == 0)
        else:
            assert np.all(lost > 0) and np.all(lost < 0.05 * per_slot)
        assert res.report["counts"]["sites_without_value"] == 4


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
        read_values(_csv(tmp_path, "site_id,foo\nS0,1\n"))
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
