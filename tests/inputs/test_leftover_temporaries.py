"""A resumed ``predict --all`` removes what an interrupted run left half-written (.part files, GDAL's .ovr.tmp)."""

from __future__ import annotations

from inputs_helpers import cli


def test_kind6_resumed_run_removes_leftover_temporaries(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("site_id,lat,lon\nA,48.110,-1.680\nB,48.120,-1.660\nC,48.100,-1.700\n")
    out = tmp_path / "m"
    args = ["predict", "--sites", f, "--model", "voronoi", "--all", "--format", "tif", "--out", out]
    rc, _, err = cli(*args)
    assert rc == 0, err
    (out / "B.tif").unlink()  # the interrupted run: B not written, its temporaries left behind
    for name in (".B.x1y2.tif.part", ".B.x1y2.tif.part.ovr.tmp", ".A.k3.part.tif"):
        (out / name).write_bytes(b"half")
    rc, _, err = cli(*args)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".deepmend")) == ["A.tif", "B.tif", "C.tif"]
