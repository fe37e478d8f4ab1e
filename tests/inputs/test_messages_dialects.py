"""Dialects and messages: Excel's sep= line, UTF-16LE without BOM, a DataFrame indexed by site_id, the swap hint only
when a swap fits, the national grid of the stated country, and web messages without CLI advice."""

from __future__ import annotations

import pandas as pd
import pytest

from inputs_helpers import cli, one_error_line

ROWS = "site_id;lat;lon\nA;48,110;-1,680\nB;48,120;-1,660\nC;48,100;-1,700\n"


def test_kind5_excel_sep_line_honoured(tmp_path):
    from deepmend.data.readers import read_sites

    f = tmp_path / "x.csv"
    f.write_text("sep=;\n" + ROWS)
    assert list(read_sites(f).site_ids) == ["A", "B", "C"]


def test_kind5_utf16le_without_bom(tmp_path):
    from deepmend.data.readers import read_sites

    f = tmp_path / "u.csv"
    f.write_bytes(ROWS.replace("A;", "Ré;").encode("utf-16-le"))
    assert list(read_sites(f).site_ids) == ["Ré", "B", "C"]


def test_kind2_dataframe_indexed_by_site_id():
    from deepmend.data.readers import read_sites

    df = pd.DataFrame({"site_id": ["A", "B", "C"], "lat": [48.11, 48.12, 48.10], "lon": [-1.68, -1.66, -1.70]}).set_index("site_id")
    assert list(read_sites(df).site_ids) == ["A", "B", "C"]


@pytest.mark.parametrize("lat, lon, hint", [("145.7", "4.8", True), ("200.0", "4.8", False)])
def test_kind7_swap_hint_only_when_a_swap_fits(tmp_path, lat, lon, hint):
    f = tmp_path / "s.csv"
    f.write_text(f"site_id,lat,lon\nA,48.11,-1.68\nB,{lat},{lon}\n")
    rc, out, err = cli("predict", "--sites", f, "--model", "voronoi", "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "out of range" in msg and (("swapped" in msg) == hint), msg


def test_kind3_gb_easting_northing_suggests_the_national_grid(tmp_path):
    f = tmp_path / "gb.csv"
    f.write_text("site_id,Easting,Northing\nA,530000,180000\nB,531000,181000\n")
    rc, out, err = cli("predict", "--sites", f, "--country", "GB", "--model", "voronoi", "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "EPSG:27700" in msg and "EPSG:2154" not in msg, msg


def test_kind7_upload_duplicate_ids_no_cli_advice(client):
    data = b"site_id,operator,lat,lon\n1,OpA,48.11,-1.68\n2,OpA,48.12,-1.66\n1,OpB,48.10,-1.70\n"
    r = client.post("/api/uploads", files={"file": ("d.csv", data, "text/csv")})
    assert r.status_code in (400, 422), r.text
    msg = r.json()["error"]
    assert "prefix them with the operator" in msg and "keep one operator" not in msg, msg
