"""Kind 8 for uploads and Python: a user's region (a polygon file, or a bundled country/city) with snapping and neighbours.

Sites up to 2 km outside the region are snapped (their own cell made valid, the distance
reported); sites farther out are neighbours: they shape the border cells and get no map —
the same rule as ``--region`` on the command line and as national runs (docs/INPUTS.md).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inputs_helpers import CASES, case, cli, one_error_line
from test_cases_api import a_map, web_error

CORSICA = "c06_corsica_coastal_sites.csv"
CORSICA_REGION = "c06_corsica_ne10m.geojson"


def upload(client, name, *, region_file: str | None = None, region_bytes: bytes | None = None, region: str | None = None):
    files = {"file": (name, (CASES / name).read_bytes(), "text/csv")}
    if region_file is not None or region_bytes is not None:
        files["region_file"] = (region_file or "area.geojson", region_bytes if region_bytes is not None else (CASES / region_file).read_bytes(), "application/geo+json")
    return client.post("/api/uploads", files=files, data={"region": region} if region else None)


def _lyon_west_region(tmp_path=None) -> bytes:
    """A box over the west of Lyon (WGS84): A1 … A3 of base_lyon.csv inside, the others far east of it."""
    return json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "west"}, "geometry": {
        "type": "Polygon", "coordinates": [[[4.70, 45.70], [4.845, 45.70], [4.845, 45.80], [4.70, 45.80], [4.70, 45.70]]]}}]}).encode()


def test_kind8_api_upload_region_file_snaps_coastal_sites_and_reports_the_distance(client):
    r = upload(client, CORSICA, region_file=CORSICA_REGION)
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["region"] == "c06_corsica_ne10m" and up["n_sites"] == 7
    snapped = [n for n in up["notes"] if "outside region" in n and "snapped" in n]
    assert len(snapped) == 1 and " km outside region 'c06_corsica_ne10m'" in snapped[0], up["notes"]
    for site in ("CO01", "CO04"):
        m = a_map(client, up, site)
        assert abs(np.nansum(m) - 1) < 1e-3
    # the region served is the user's polygon (around the sites), not 30 km around the sites
    reg = client.get("/api/region", params={"country": "upload", "city": up["upload_id"]}).json()
    assert reg["features"][0]["properties"]["name"] == "c06_corsica_ne10m"
    # without the region: another upload, no snapping note
    plain = upload(client, CORSICA).json()
    assert plain["upload_id"] != up["upload_id"] and plain["region"] is None
    assert not any("snapped" in n for n in plain["notes"])


def test_kind8_api_upload_bundled_country_region(client):
    up = upload(client, CORSICA, region="FR").json()
    assert up["region"] == "FR"
    assert any("outside region 'France'" in n and "snapped" in n for n in up["notes"]), up["notes"]
    assert abs(np.nansum(a_map(client, up, "CO02")) - 1) < 1e-3
    # a bundled country applies its coordinate checks: swapped lat/lon is refused in words
    web_error(upload(client, "c11_latlon_swapped_lyon.csv", region="FR"), 400, "outside France", "swapped")


def test_kind8_api_upload_region_neighbours_get_no_map(client):
    r = upload(client, "base_lyon.csv", region_file="west.geojson", region_bytes=_lyon_west_region())
    assert r.status_code == 200, r.text
    up = r.json()
    assert any("used as neighbours, no map" in n for n in up["notes"]), up["notes"]
    sites = client.get("/api/sites", params={"country": "upload", "city": up["upload_id"], "operator": "all"}).json()
    inside = {f["properties"]["site_id"] for f in sites["features"]}
    assert inside and inside < {"A1", "A2", "A3", "A4", "A5", "A6"}
    outside = sorted({"A1", "A2", "A3", "A4", "A5", "A6"} - inside)[0]
    q = {"country": "upload", "city": up["upload_id"], "operator": "all", "site": outside, "model": "voronoi"}
    r = client.get("/api/map", params=q)
    assert r.status_code == 404 and "--" not in r.json()["error"]
    m = a_map(client, up, sorted(inside)[0])
    assert abs(np.nansum(m) - 1) < 1e-3


@pytest.mark.parametrize("kw, status, words", [
    ({"region": "XX"}, 400, ["unknown bundled region", "FR"]),
    ({"region": "FR/Atlantis"}, 400, ["unknown bundled region", "Atlantis"]),
    ({"region_file": "line.geojson", "region_bytes": json.dumps({"type": "Feature", "properties": {}, "geometry": {
        "type": "LineString", "coordinates": [[4.8, 45.7], [4.9, 45.8]]}}).encode()}, 400, ["line.geojson", "not a Polygon"]),
    ({"region_file": "r.geojson", "region_bytes": b"PK\x03\x04junk"}, 422, ["r.geojson", "zip"]),
    ({"region_file": "r.gpkg", "region_bytes": b"SQLite format 3\x00" + b"\x00" * 100}, 422, ["r.gpkg", "GeoPackage", "GeoJSON"]),
    ({"region_file": "r.json", "region_bytes": b"name,wkt\nA,POLYGON EMPTY\n"}, 400, ["r.json", "must be a GeoJSON file"]),
    ({"region_file": "r.geojson", "region_bytes": b"{not json"}, 400, ["r.geojson", "invalid JSON"]),
    ({"region": "FR", "region_file": "west.geojson", "region_bytes": b"{}"}, 400, ["either a region file or a bundled region"]),
])
def test_kind7_api_upload_bad_regions_are_refused_for_a_web_user(client, kw, status, words):
    web_error(upload(client, "base_lyon.csv", **kw), status, *words)


def test_kind8_api_upload_no_site_in_the_region_is_refused(client):
    web_error(upload(client, CORSICA, region_file="west.geojson", region_bytes=_lyon_west_region()), 400, "no site lies in region 'west'", "km outside")


def test_kind8_python_dataframe_with_a_bundled_region():
    import deepmend as dm

    df = pd.read_csv(CASES / CORSICA)
    sites = dm.read_sites(df, country="FR")
    scene = dm.Scene.from_files(sites, "FR")  # a bundled country, as --region FR
    assert any("outside region 'France'" in n and "snapped" in n for n in scene.notes), scene.notes
    gdf_scene = dm.Scene.from_files(sites, dm.read_region(case(CORSICA_REGION), sites.crs))
    assert len(gdf_scene.targets) == 7
    maps = list(dm.VoronoiModel().fit(scene).predict_many())
    assert len(maps) == 7 and all(abs(float(m.prob.sum()) - 1) < 1e-6 for m in maps)


def test_kind8_cli_bundled_region_and_unknown_name(tmp_path):
    rc, _, err = cli("predict", "--sites", case(CORSICA), "--region", "FR", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    assert "outside region 'France'" in err and "snapped" in err
    assert len(list((tmp_path / "m").glob("*.npz"))) == 7
    rc, _, err = cli("predict", "--sites", case(CORSICA), "--region", "Corsica", "--all", "--out", tmp_path / "n")
    assert rc == 2
    assert "Corsica: no such region file, and not a bundled region" in one_error_line(err)
    rc, _, err = cli("predict", "--sites", case(CORSICA), "--region", case(CORSICA), "--all", "--out", tmp_path / "o")  # a table, not a polygon
    assert rc == 2
    assert "has no geometry: a region is a polygon file" in one_error_line(err)
