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


def test_neighbour_of_a_bundled_city_is_named_as_such_not_zero_km_outside(tmp_path):
    """A bundled city maps its own sites; a site of the 90 km margin inside the country used to be refused as
    lying '0.0 km outside region'. The sentence now says what it is."""
    import numpy as np

    from deepmend.scene import Scene

    scene = Scene.from_catalog("FR", "Quimper", "Free")
    others = np.setdiff1d(np.arange(len(scene.deployment)), scene.targets)
    inside = [int(i) for i in others if scene.mask_region.metric.contains(__import__("shapely").Point(scene.deployment.x[i], scene.deployment.y[i]))]
    sid = str(scene.deployment.site_ids[inside[0]])
    rc, out, err = cli("predict", "--country", "FR", "--city", "Quimper", "--operator", "Free", "--model", "voronoi",
                       "--site", sid, "--out", tmp_path / "n.npz")
    msg = one_error_line(err)
    assert rc == 2 and f"site {sid} is a neighbour of this scene, not one of its mapped sites" in msg, msg
    assert "km outside" not in msg and not (tmp_path / "n.npz").exists()
