"""A national list with one overseas site: --store and geolocate refuse in user words (naming the site and the
distance), never "too wide for one lattice … (Scene.parts)"; predict --all --out maps it part by part."""

from __future__ import annotations

from inputs_helpers import cli, one_error_line

SITES = "site_id,lat,lon\nA,48.110,-1.680\nB,48.120,-1.660\nC,48.100,-1.700\nD,48.090,-1.650\nREU1,-20.88,55.45\n"


def test_kind4_overseas_site_store_and_geolocate_refused_in_words(tmp_path):
    f = tmp_path / "nat.csv"
    f.write_text(SITES)
    rc, out, err = cli("predict", "--sites", f, "--model", "voronoi", "--all", "--store", tmp_path / "s.zarr")
    msg = one_error_line(err)
    assert rc == 2 and "site REU1" in msg and "km away" in msg and "Scene.parts" not in msg, msg
    (tmp_path / "v.csv").write_text("site_id,devices\nA,5\nB,3\nREU1,2\n")
    rc, out, err = cli("geolocate", "--values", tmp_path / "v.csv", "--sites", f, "--model", "voronoi", "--out", tmp_path / "d.tif")
    msg = one_error_line(err)
    assert rc == 2 and "site REU1" in msg and "Scene.parts" not in msg, msg
