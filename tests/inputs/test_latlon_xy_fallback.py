"""Lists that give lat/lon AND x/y: a blank lat/lon falls back to the row's x/y (reported), never a skipped site
whose neighbours' cells grow; lat/lon and x/y that disagree are reported (refused under --strict)."""

from __future__ import annotations

import numpy as np
from pyproj import Transformer

from inputs_helpers import cli, one_error_line

PTS = [("R1", -1.68, 48.11), ("R2", -1.66, 48.12), ("R3", -1.70, 48.10), ("R4", -1.65, 48.09), ("R5", -1.69, 48.13)]


def write(path, blank=(), shift=None):
    tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    rows = ["site_id,lat,lon,x,y"]
    for sid, lon, lat in PTS:
        x, y = tr.transform(lon, lat)
        if sid == shift:
            x += 500.0
        la, lo = ("", "") if sid in blank else (f"{lat}", f"{lon}")
        rows.append(f"{sid},{la},{lo},{x:.1f},{y:.1f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_kind3_blank_latlon_falls_back_to_xy(tmp_path):
    from deepmend.data.readers import read_sites

    full = read_sites(write(tmp_path / "full.csv"), crs="EPSG:2154")
    dep = read_sites(write(tmp_path / "blank.csv", blank=("R2", "R4")), crs="EPSG:2154")
    assert list(dep.site_ids) == ["R1", "R2", "R3", "R4", "R5"]
    assert np.allclose(dep.xy, full.xy, atol=1.0)
    assert any("read x/y where lat/lon are blank (2 row(s): 3, 5)" in n for n in dep.notes), dep.notes
    rc, out, err = cli("predict", "--sites", tmp_path / "blank.csv", "--crs", "EPSG:2154", "--model", "voronoi", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    assert "read x/y where lat/lon are blank" in err and len(list((tmp_path / "m").glob("*.npz"))) == 5


def test_kind3_latlon_and_xy_disagree_reported_or_refused(tmp_path):
    from deepmend.data.readers import XY_LATLON_TOLERANCE_M, read_sites

    f = write(tmp_path / "shift.csv", shift="R3")
    dep = read_sites(f, crs="EPSG:2154")
    assert any("disagree by 49" in n and f"{XY_LATLON_TOLERANCE_M:g} m" in n for n in dep.notes), dep.notes
    rc, out, err = cli("predict", "--sites", f, "--crs", "EPSG:2154", "--strict", "--model", "voronoi", "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "disagree by 49" in msg and "row 4" in msg and "shift.csv" in msg, msg
