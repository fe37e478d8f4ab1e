"""A new user's pass over variants of every kind (tests/inputs/variants.py): CLI, geolocate, Python, API upload.

Each readable variant gives maps that sum to 1 and sit at their site, with the ids as written,
from ``predict --site``, ``predict --all``, ``geolocate`` (all counts on the raster), Python
(``read_sites`` + ``Scene.from_files``) and the web upload; each refused one gives exit code 2
and one ``error:`` line (CLI), an InputError (Python), a 4xx JSON sentence (API) — never a
traceback or a 5xx.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inputs_helpers import centre_of_mass, cli
from variants import write_national_with_overseas, write_variants
from deepmend.cli import main
from deepmend.grid.diffusion_map import DiffusionMap

@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    d = tmp_path_factory.mktemp("variants")
    return d, write_variants(d)


NAMES = sorted(write_variants(__import__("pathlib").Path(__import__("tempfile").mkdtemp(prefix="variants-"))))


def _main(capsys, *args) -> tuple[int, str]:
    rc = main(["-q", *map(str, args)])
    return rc, capsys.readouterr().err


def _error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("name", NAMES)
def test_variants_cli_predict_and_geolocate(variants, tmp_path, capsys, name):
    d, exp = variants
    outcome, site, extra, *words = exp[name]
    f = d / name
    rc, err = _main(capsys, "predict", "--sites", f, *extra, "--site", site, "--out", tmp_path / "one.npz")
    if outcome == "refuse":
        assert rc == 2, err
        assert words[0] in _error_line(err)
        rc, err = _main(capsys, "predict", "--sites", f, *extra, "--all", "--out", tmp_path / "all")
        assert rc == 2 and words[0] in _error_line(err)
        assert not (tmp_path / "all").exists() or not list((tmp_path / "all").glob("*.npz"))
        return
    assert rc == 0, err
    m = DiffusionMap.load(tmp_path / "one.npz")  # validates: ≥ 0, sums to 1 on the mask
    assert m.site_id == site
    import deepmend as dm

    sites = dm.read_sites(str(f), **({"crs": extra[1]} if extra[:1] == ["--crs"] else {}))
    k = sites.index_of(site)
    cx, cy = centre_of_mass(m)
    from deepmend.data.crs import to_metric

    sx, sy = to_metric(np.array([sites.lon[k]]), np.array([sites.lat[k]]), m.window.crs)
    # the map sits at its site: mass at the site's own cell, centre of mass inside the 60 km window (an edge site's cell is wide)
    assert np.hypot(cx - sx[0], cy - sy[0]) < 30_000, (name, cx - sx[0], cy - sy[0])
    row, col = int((m.window.top - sy[0]) // m.window.res), int((sx[0] - m.window.left) // m.window.res)
    assert m.prob[row, col] > 0, name
    rc, err = _main(capsys, "predict", "--sites", f, *extra, "--all", "--out", tmp_path / "all")
    assert rc == 0, err
    ids = [s for ms in sites.members for s in ms]
    written = {DiffusionMap.load(p).site_id for p in (tmp_path / "all").glob("*.npz")}
    assert written == set(map(str, sites.site_ids))  # every site, ids as written
    vals = tmp_path / "values.csv"
    pd.DataFrame({"site_id": ids, "value": 10.0}).to_csv(vals, index=False)
    rc, err = _main(capsys, "geolocate", "--sites", f, *extra, "--values", vals, "--out", tmp_path / "d.tif", "--workers", "0")
    assert rc == 0, err
    rep = json.loads((tmp_path / "d.tif.json").read_text())
    assert rep["counts"]["value_ids_not_in_deployment"] == 0
    assert sum(rep["mass"]["raster_sum"]) == pytest.approx(10.0 * len(ids), rel=1e-5)


#: What the web upload answers differently from the command line (it takes no --crs, and text or Parquet only).
API_DIFFERS = {
    "v07_webmerc_paris.csv": (400, "need their CRS: add a 'crs' column"),
    "v10_sites.gpkg": (422, "is a GeoPackage"),
    "v11_london.shp": (422, "is a Shapefile's .shp alone"),
    "v28_degrees_as_bng.csv": (400, "need their CRS"),
}


@pytest.mark.parametrize("name", NAMES)
def test_variants_api_upload(variants, client, name):
    import io

    d, exp = variants
    outcome, site, extra, *words = exp[name]
    data = {"region": extra[1]} if extra[:1] in (["--country"], ["--region"]) else None
    r = client.post("/api/uploads", files={"file": (name, (d / name).read_bytes(), "text/csv")}, data=data)
    assert r.status_code < 500, r.text
    if name in API_DIFFERS or outcome == "refuse":
        status, word = API_DIFFERS.get(name, (400, words[0] if words else ""))
        assert r.status_code == status, r.text
        msg = r.json()["error"]
        assert word in msg and "--" not in msg and "/tmp" not in msg, msg
        return
    assert r.status_code == 200, r.text
    up = r.json()
    q = {"country": "upload", "city": up["upload_id"], "operator": "all", "site": site, "model": "voronoi"}
    m = client.get("/api/map.npy", params=q)
    assert m.status_code == 200, m.text
    assert abs(np.nansum(np.load(io.BytesIO(m.content))) - 1) < 1e-3


@pytest.mark.slow
def test_variants_national_list_with_an_overseas_site(tmp_path, capsys):
    """24,000 sites over France plus one on La Réunion: one map each side, in bounded memory; the upload is refused (413)."""
    f = write_national_with_overseas(tmp_path)
    for site in ("R974", "N00042"):
        rc, err = _main(capsys, "predict", "--sites", f, "--country", "FR", "--site", site, "--out", tmp_path / f"{site}.npz")
        assert rc == 0, err
        m = DiffusionMap.load(tmp_path / f"{site}.npz")
        assert m.site_id == site
    rc, _, err = cli("predict", "--sites", f, "--country", "FR", "--site", "R974", "--out", tmp_path / "again.npz")
    assert rc == 0 and "1 of 24001 sites lie outside France" in err, err


@pytest.mark.parametrize("name", ["v10_sites.gpkg", "v11_london.shp", "v13_cellid_bom.csv", "v20_geoparquet.parquet", "v03_semicolon_comma_NA.csv"])
def test_variants_python_dataframe_equals_the_file(variants, name):
    """A (Geo)DataFrame the user loaded gives the same sites as the file: ids, positions to the centimetre."""
    import geopandas as gpd

    import deepmend as dm

    d, _ = variants
    f = d / name
    if name.endswith((".gpkg", ".shp")):
        df = gpd.read_file(f)
    elif name.endswith(".parquet"):
        df = gpd.read_parquet(f)
    else:
        df = pd.read_csv(f, sep=None, engine="python", dtype=str, encoding="utf-8-sig", decimal=",")
    a, b = dm.read_sites(str(f)), dm.read_sites(df)
    assert list(map(str, a.site_ids)) == list(map(str, b.site_ids))
    assert np.allclose(a.lon, b.lon, atol=1e-7) and np.allclose(a.lat, b.lat, atol=1e-7)
    scene = dm.Scene.from_files(b, "FR" if name != "v11_london.shp" else "GB")  # a bundled region, as --region
    m = dm.VoronoiModel().fit(scene).predict(str(b.site_ids[0]))
    assert abs(float(m.prob.sum()) - 1) < 1e-6
