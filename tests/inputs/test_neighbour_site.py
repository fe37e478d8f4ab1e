"""A site far outside the region is a neighbour only: asking for its map is refused in one sentence naming
the distance (CLI exit 2, API 404 saying the same), never a traceback about the lattice."""

from __future__ import annotations

import json

from inputs_helpers import cli, one_error_line

SITES = "site_id,lat,lon\nA,48.11,-1.68\nB,48.12,-1.66\nC,48.10,-1.70\nD,48.09,-1.65\nFAR1,48.30,-1.68\n"
REGION = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {
    "type": "Polygon", "coordinates": [[[-1.75, 48.07], [-1.60, 48.07], [-1.60, 48.15], [-1.75, 48.15], [-1.75, 48.07]]]}}]}


def test_kind8_neighbour_only_site_refused_in_words_cli(tmp_path):
    (tmp_path / "s.csv").write_text(SITES)
    (tmp_path / "reg.geojson").write_text(json.dumps(REGION))
    rc, out, err = cli("predict", "--sites", tmp_path / "s.csv", "--region", tmp_path / "reg.geojson", "--model", "voronoi",
                       "--site", "FAR1", "--out", tmp_path / "far.npz")
    msg = one_error_line(err)
    assert rc == 2 and "site FAR1 lies 16.7 km outside region 'reg': used as a neighbour only, no map" in msg, msg
    assert not (tmp_path / "far.npz").exists()


def test_kind8_neighbour_only_site_api_404_says_why(client):
    r = client.post("/api/uploads", files={"file": ("s.csv", SITES.encode(), "text/csv"),
                                           "region_file": ("reg.geojson", json.dumps(REGION).encode(), "application/geo+json")})
    assert r.status_code == 200, r.text
    q = {"country": "upload", "city": r.json()["upload_id"], "operator": "all", "site": "FAR1", "model": "voronoi"}
    r = client.get("/api/map", params=q)
    assert r.status_code == 404, r.text
    assert "lies 16.7 km outside region 'reg': used as a neighbour only, no map" in r.json()["error"], r.text
