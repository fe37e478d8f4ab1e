"""Every listed case of cases/README.md through the API upload: a real app over HTTP (TestClient), never a 5xx.

Readable lists answer 200 and their maps can be fetched; the others answer 4xx with a JSON
sentence for a web user (no command-line flags, no server paths).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from inputs_helpers import CASES


def upload(client, name: str, content: bytes | None = None):
    data = (CASES / name).read_bytes() if content is None else content
    return client.post("/api/uploads", files={"file": (name, data, "text/csv")})


def web_error(r, status, *words):
    assert r.status_code == status, (r.status_code, r.text)
    msg = r.json()["error"]
    for w in words:
        assert w.lower() in msg.lower(), (w, msg)
    assert "--" not in msg and "/tmp/" not in msg and "/work/" not in msg and "uploads/" not in msg and "id_column=" not in msg, msg
    return msg


def a_map(client, up: dict, site: str, operator: str = "all", model: str = "voronoi") -> np.ndarray:
    q = {"country": "upload", "city": up["upload_id"], "operator": operator, "site": site, "model": model}
    r = client.get("/api/map", params=q)
    assert r.status_code == 200, r.text
    r = client.get("/api/map.npy", params=q)
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content))


ACCEPTED = {  # file → (sites, a site to map)
    "a02_operator_with_two_sites.csv": (6, "K06"),
    "base_lyon.csv": (6, "A1"),
    "c01_colocated_two_operators.csv": (6, "S02"),
    "c04_rail_corridor_sites.csv": (5, "R03"),
    "c04b_two_sites.csv": (2, "R01"),
    "c06_corsica_coastal_sites.csv": (7, "CO01"),
    "c12a_fr_semicolon_comma_decimal.csv": (5, "FR0001"),
    "c12b_fr_latin1.csv": (5, "FR0001"),
    "c13a_excel_bom_crlf.csv": (4, "B01"),
    "c18_qgis_geojson_l93_crs_member.geojson": (4, "Q01"),
    "c21_base_lyon_A1_moved.csv": (6, "A1"),
    "c22_ids_colliding_filenames.csv": (5, "Lyon_Part-Dieu"),
    "c30_webmercator_xy_helsinki.csv": (7, "H01"),
    "c32_cdr_antennas_towers_missing_coords.csv": (8, "x1"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_kind5_and_others_api_upload_reads_every_readable_case(client, name):
    n, site = ACCEPTED[name]
    r = upload(client, name)
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["n_sites"] == n
    m = a_map(client, up, site)
    assert abs(np.nansum(m) - 1) < 1e-3


def test_kind1_networks_by_operator_api_shared_mast(client):
    up = upload(client, "c01_colocated_two_operators.csv").json()
    assert up["operators"] == ["OpA", "OpB"]
    s01, s02 = a_map(client, up, "S01"), a_map(client, up, "S02")  # "all": each site in its own operator's network
    assert (np.nan_to_num(s02) > 0).sum() > 1000 and np.nanmax(s02) < 0.01
    assert not np.array_equal(np.nan_to_num(s01) > 0, np.nan_to_num(s02) > 0)
    assert np.array_equal(a_map(client, up, "S02", operator="OpB"), s02)
    up2 = upload(client, "a02_operator_with_two_sites.csv").json()
    assert up2["operators"] == ["OpA", "OpB"]
    assert (np.nan_to_num(a_map(client, up2, "K05", operator="OpB")) > 0).sum() > 1000  # never contradicts its operator list


def test_kind2_ids_api_missing_id_column(client):
    msg = web_error(upload(client, "c02_arcep2018_l93_multiop.csv"), 400, "no site id column", "Operateur, x, y", "site_id")
    assert "c02_arcep2018_l93_multiop.csv" in msg


def test_kind3_coordinates_api_refusals(client):
    web_error(upload(client, "c11_latlon_swapped_lyon.csv"), 400, "look swapped", "France")
    web_error(upload(client, "c15_xy_in_degrees.csv"), 400, "x/y", "crs")
    evil = b"site_id,x,y,crs\nA,842000,6519000,+init=/etc/passwd:root\nB,843500,6519200,EPSG:2154\nC,846000,6521000,EPSG:2154\n"
    web_error(upload(client, "evil.csv", evil), 400, "only EPSG:n, WKT or PROJJSON", "row 2")


def test_kind3_coordinates_api_utm_of_the_sites(client):
    up = upload(client, "c31d_utm46_xy_dhaka.csv", (CASES / "c31d_utm46_xy_dhaka.csv").read_text().replace("x,y\n", "x,y,crs\n", 1)
                .replace("\n", ",EPSG:32646\n").replace("x,y,crs,EPSG:32646\n", "x,y,crs\n").encode()).json()
    r = client.get("/api/map", params={"country": "upload", "city": up["upload_id"], "operator": "all", "site": "BD1", "model": "voronoi"})
    assert r.status_code == 200 and r.json()["crs"] == "EPSG:32646"
    up = upload(client, "c30_webmercator_xy_helsinki.csv").json()
    r = client.get("/api/map", params={"country": "upload", "city": up["upload_id"], "operator": "all", "site": "H01", "model": "voronoi"})
    assert r.status_code == 200 and r.json()["crs"] == "EPSG:32635"


def test_kind4_cost_api_upload_extent_limit(client):
    web_error(upload(client, "c16_metropole_plus_reunion.csv"), 400, "the limit is 200 km", "span")
    web_error(upload(client, "c17_mixed_crs_column.csv"), 400, "the limit is 200 km")
    three = b"site_id,lat,lon\nA,43.3,5.4\nB,48.85,2.35\nC,51.5,-0.12\n"  # Marseille, Paris, London: ~1,500 km of extent
    web_error(upload(client, "three.csv", three), 400, "the limit is 200 km")


def test_kind5_encodings_api_parquet_refused_unexpanded(client):
    """The upload endpoint takes text only (binary content could be a decompression bomb: issue 18); the CLI reads Parquet."""
    web_error(upload(client, "c19a_nullable_float_height.parquet"), 422, "Parquet", "export the site list as CSV")


def test_kind5_encodings_api_rows_without_coordinates_reported(client):
    up = upload(client, "c32_cdr_antennas_towers_missing_coords.csv").json()
    assert any("skipped 2 row(s) without coordinates (rows 10, 11)" in n for n in up["notes"])
    assert not any("strict" in n for n in up["notes"])
