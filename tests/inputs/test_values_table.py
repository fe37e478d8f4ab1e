"""Per-BS value tables are read like site lists: same encoding/dialect sniffing (cp1252, ';', decimal comma), same
id-column recognition ("Site ID", num_site), and --values-id-column to name it."""

from __future__ import annotations

import numpy as np

from inputs_helpers import cli

SITES = "site_id,lat,lon\nA,48.110,-1.680\nB,48.120,-1.660\nC,48.100,-1.700\nD,48.090,-1.650\n"


def test_kind5_values_cp1252_semicolon_decimal_comma(tmp_path):
    from deepmend.geolocate.values import read_values

    f = tmp_path / "v.csv"
    f.write_bytes("num_site;nb_terminaux;commentaire\nA;7,5;été\nB;3;\n".encode("cp1252"))
    t = read_values(f, "nb_terminaux")
    assert list(t.site_ids) == ["A", "B"] and np.allclose(t.values[:, 0], [7.5, 3.0])


def test_kind2_values_id_column_recognised_or_named(tmp_path):
    from deepmend.geolocate.values import read_values

    f = tmp_path / "v.csv"
    f.write_text("Site ID,devices\nA,5\nB,3\n")
    assert list(read_values(f).site_ids) == ["A", "B"]
    g = tmp_path / "w.csv"
    g.write_text("mast,devices\nA,5\nB,3\nC,1\nD,2\n")
    (tmp_path / "s.csv").write_text(SITES)
    rc, out, err = cli("geolocate", "--values", g, "--values-id-column", "mast", "--sites", tmp_path / "s.csv", "--model", "voronoi",
                       "--out", tmp_path / "d.tif")
    assert rc == 0, err
    assert (tmp_path / "d.tif").exists()
