"""Every listed case of cases/README.md from the command line (a real process: exit code and one-line message).

One test per kind of fault (docs/INPUTS.md), named after it; each checks what a user sees:
the maps written (valid, where they belong) or one ``error:`` line naming the cause.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from inputs_helpers import case, centre_of_mass, cli, one_error_line
from deepmend.data.crs import to_metric
from deepmend.grid.diffusion_map import DiffusionMap


def maps_in(d):
    return {p.stem: DiffusionMap.load(p) for p in sorted(d.glob("*.npz"))}  # load() validates: ≥ 0, sums to 1 on the mask


# --- kind 1: the network tessellated is the one meant --------------------------------
def test_kind1_networks_by_operator_colocated_operators_each_get_a_cell(tmp_path):
    rc, out, err = cli("predict", "--sites", case("c01_colocated_two_operators.csv"), "--model", "voronoi", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert set(maps) == {"S01", "S02", "S03", "S04", "S05", "S06"}
    # S02 (OpB) shares S01's (OpA) mast: in its own network it has a real cell, not one cell with P = 1
    assert (maps["S02"].prob > 0).sum() > 1000 and maps["S02"].prob.max() < 0.01
    assert (maps["S01"].prob > 0).sum() > 1000
    assert not np.array_equal(maps["S01"].prob > 0, maps["S02"].prob > 0)


def test_kind1_networks_by_operator_filter_of_a_national_export(tmp_path):
    args = ["predict", "--sites", case("c02_arcep2018_l93_multiop.csv"), "--crs", "EPSG:2154", "--id-column", "@row", "--all"]
    rc, out, err = cli(*args, "--operator", "20801", "--out", tmp_path / "a")
    assert rc == 0, err
    assert set(maps_in(tmp_path / "a")) == {"row2", "row4", "row6", "row8"}  # the four 20801 rows only
    assert "kept the 4 of 8 rows of operator 20801" in err
    rc, out, err = cli(*args, "--operator", "Orange", "--out", tmp_path / "b")  # the MCC-MNC code's operator name
    assert rc == 0 and set(maps_in(tmp_path / "b")) == {"row2", "row4", "row6", "row8"}
    rc, out, err = cli(*args, "--operator", "Nope", "--out", tmp_path / "c")
    msg = one_error_line(err)
    assert rc == 2 and "no rows of operator 'Nope'" in msg and "20801" in msg


def test_kind1_networks_by_operator_two_site_operator_gets_maps(tmp_path):
    rc, out, err = cli("predict", "--sites", case("a02_operator_with_two_sites.csv"), "--operator", "OpB", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert set(maps) == {"K05", "K06"}
    a, b = maps["K05"], maps["K06"]
    assert (a.prob > 0).sum() > 1000 and (b.prob > 0).sum() > 1000  # two sites split the plane


def test_kind1_networks_by_operator_geolocate_spreads_a_shared_mast(tmp_path):
    import rasterio

    out = tmp_path / "d.tif"
    rc, _, err = cli("geolocate", "--values", case("c01_values.csv"), "--sites", case("c01_colocated_two_operators.csv"), "--operator", "OpB",
                     "--out", out, "--workers", "0")
    assert rc == 0, err
    with rasterio.open(out) as src:
        d = src.read(1)
    d = np.nan_to_num(d)
    assert abs(d.sum() - 2000) < 1e-3  # S02 + S04 + S06
    assert d.max() < 1000 * 0.05  # S02's 1000 devices spread over its cell, not stacked in one cell


@pytest.mark.slow
@pytest.mark.parametrize("model", ["voronoiboost", "deepmend", "probabilistic"])
@pytest.mark.parametrize("name, n", [("c01_colocated_two_operators.csv", 6), ("c04b_two_sites.csv", 2), ("c04_rail_corridor_sites.csv", 5)])
def test_kind1_networks_by_operator_every_model_survives_colocated_and_degenerate_input(tmp_path, model, name, n):
    rc, out, err = cli("predict", "--sites", case(name), "--model", model, "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    assert len(maps_in(tmp_path / "m")) == n


# --- kind 2: ids ---------------------------------------------------------------------
def test_kind2_ids_bom_antenna_id_and_colliding_file_names(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c13a_excel_bom_crlf.csv"), "--all", "--out", tmp_path / "bom")
    assert rc == 0, err
    assert set(maps_in(tmp_path / "bom")) == {"B01", "B02", "B03", "B04"}

    rc, _, err = cli("predict", "--sites", case("c32_cdr_antennas_towers_missing_coords.csv"), "--all", "--out", tmp_path / "cdr")
    assert rc == 0, err
    assert "skipped 2 row(s) without coordinates (rows 10, 11)" in err
    maps = maps_in(tmp_path / "cdr")
    assert set(maps) == {"x0", "x2", "x4", "x5", "x7"}  # antennas of one tower merged: one map per tower
    assert maps["x0"].meta["members"] == ["x0", "x1"]
    rc, _, err = cli("predict", "--sites", case("c32_cdr_antennas_towers_missing_coords.csv"), "--strict", "--all", "--out", tmp_path / "s")
    assert rc == 2 and "row 10" in one_error_line(err) and "without coordinates" in err

    rc, out, err = cli("predict", "--sites", case("c22_ids_colliding_filenames.csv"), "--all", "--out", tmp_path / "ids")
    assert rc == 0, err
    maps = maps_in(tmp_path / "ids")
    assert len(maps) == 5 and "wrote 5 maps" in out
    assert sorted(m.site_id for m in maps.values()) == sorted(["Lyon Part-Dieu", "Lyon_Part-Dieu", "Lyon Perrache", "Villeurbanne/1", "Villeurbanne/2"])


def test_kind2_ids_missing_id_column_lists_the_columns(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c02_arcep2018_l93_multiop.csv"), "--crs", "EPSG:2154", "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "c02_arcep2018_l93_multiop.csv" in msg and "no site id column" in msg
    assert "Operateur, x, y, 2G, 3G, 4G" in msg and "--id-column" in msg
    assert not (tmp_path / "m").exists() or not list((tmp_path / "m").glob("*.npz"))


def test_kind2_ids_geolocate_matches_antenna_counts(tmp_path):
    rc, out, err = cli("geolocate", "--values", case("c32_cdr_counts_per_antenna.csv"), "--sites", case("c32_cdr_antennas_towers_missing_coords.csv"),
                       "--out", tmp_path / "d.tif", "--workers", "0")
    assert rc == 0, err
    assert "matched values 325" in out  # every antenna's count, merged towers included


# --- kind 3: coordinates ---------------------------------------------------------------
def test_kind3_coordinates_swapped_and_degrees_refused(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c11_latlon_swapped_lyon.csv"), "--country", "FR", "--all", "--out", tmp_path / "a")
    msg = one_error_line(err)
    assert rc == 2 and "outside France" in msg and "look swapped" in msg and "c11_latlon_swapped_lyon.csv" in msg
    rc, _, err = cli("predict", "--sites", case("c15_xy_in_degrees.csv"), "--crs", "EPSG:2154", "--all", "--out", tmp_path / "b")
    msg = one_error_line(err)
    assert rc == 2 and "look like degrees" in msg and "row 2" in msg and "column 'X'" in msg
    assert not list(tmp_path.rglob("*.npz"))


def test_kind3_coordinates_reprojected_to_the_sites_local_crs(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c30_webmercator_xy_helsinki.csv"), "--site", "H01", "--out", tmp_path / "h.npz")
    assert rc == 0, err
    m = DiffusionMap.load(tmp_path / "h.npz")
    assert m.window.crs == "EPSG:32635"  # Helsinki's UTM zone, not Web Mercator's stretched metres
    rc, _, err = cli("predict", "--sites", case("c31d_utm46_xy_dhaka.csv"), "--crs", "EPSG:32646", "--site", "BD1", "--out", tmp_path / "d.npz")
    assert rc == 0, err
    assert DiffusionMap.load(tmp_path / "d.npz").window.crs == "EPSG:32646"
    rc, _, err = cli("predict", "--sites", case("c18_qgis_geojson_l93_crs_member.geojson"), "--all", "--out", tmp_path / "q")
    assert rc == 0, err
    maps = maps_in(tmp_path / "q")
    assert set(maps) == {"Q01", "Q02", "Q03", "Q04"} and {m.window.crs for m in maps.values()} == {"EPSG:2154"}
    w = maps["Q01"].window  # the window is centred on the site where its CRS puts it
    assert abs(w.left + 30_000 - 842000) <= 100 and abs(w.bottom + 30_000 - 6519000) <= 100


def test_kind3_coordinates_crs_column_read_row_by_row(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c17_mixed_crs_column.csv"), "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert maps["M01"].window.crs == "EPSG:2154" and maps["G01"].window.crs == "EPSG:32620"
    w = maps["G01"].window  # G01 where its own row's CRS puts it (Guadeloupe), not read in Lambert-93
    assert abs(w.left + 30_000 - 652000) <= 100 and abs(w.bottom + 30_000 - 1794000) <= 100


def test_kind3_coordinates_crs_never_reaches_proj_as_a_path(tmp_path):
    f = tmp_path / "evil.csv"
    f.write_text("site_id,x,y,crs\nA,842000,6519000,+init=/etc/passwd:root\nB,843500,6519200,+init=/etc/passwd:root\n")
    rc, _, err = cli("predict", "--sites", f, "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "only EPSG:n, WKT or PROJJSON" in msg and "row 2" in msg
    rc, _, err = cli("predict", "--sites", case("base_lyon.csv"), "--crs", "+init=/etc/passwd:root", "--all", "--out", tmp_path / "n")
    assert rc == 2 and "only EPSG:n, WKT or PROJJSON" in one_error_line(err)


# --- kind 4: cost bounded by the windows ------------------------------------------------
def test_kind4_cost_national_list_with_an_overseas_site(tmp_path):
    rc, out, err = cli("predict", "--sites", case("c16_metropole_plus_reunion.csv"), "--country", "FR", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert len(maps) == 6
    assert maps["F01"].window.crs == "EPSG:2154" and maps["R01"].window.crs == "EPSG:32740"  # Réunion in its own UTM zone
    assert "2 of 6 sites lie outside France" in err


# --- kind 5: encodings and dialects -------------------------------------------------------
@pytest.mark.parametrize("name, ids", [
    ("c12a_fr_semicolon_comma_decimal.csv", ["FR0001", "FR0002", "FR0003", "FR0004", "FR0005"]),
    ("c12b_fr_latin1.csv", ["FR0001", "FR0002", "FR0003", "FR0004", "FR0005"]),
    ("c13a_excel_bom_crlf.csv", ["B01", "B02", "B03", "B04"]),
    ("c19a_nullable_float_height.parquet", ["P01", "P02", "P03", "P04", "P05"]),
])
def test_kind5_encodings_and_dialects_read_right(tmp_path, name, ids):
    rc, _, err = cli("predict", "--sites", case(name), "--country", "FR", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert sorted(maps) == ids
    x, y = to_metric(np.array([4.8357]), np.array([45.7640]), "EPSG:2154")  # every file's first site is at Lyon's centre
    w = maps[ids[0]].window
    assert abs(w.left + 30_000 - x[0]) <= 100 and abs(w.bottom + 30_000 - y[0]) <= 100
    cx, cy = centre_of_mass(maps[ids[0]])
    assert np.hypot(cx - x[0], cy - y[0]) < 30_000  # its mass in its own cell


# --- kind 6: stale output ---------------------------------------------------------------
def test_kind6_stale_output_refused_with_what_changed(tmp_path):
    out = tmp_path / "m"
    rc, _, err = cli("predict", "--sites", case("base_lyon.csv"), "--model", "voronoi", "--all", "--out", out)
    assert rc == 0, err
    rc, _, err = cli("predict", "--sites", case("base_lyon.csv"), "--model", "probabilistic", "--all", "--out", out)
    msg = one_error_line(err)
    assert rc == 2 and "holds maps of another run" in msg and "model voronoi → probabilistic" in msg
    rc, _, err = cli("predict", "--sites", case("c21_base_lyon_A1_moved.csv"), "--model", "voronoi", "--all", "--out", out)
    msg = one_error_line(err)
    assert rc == 2 and "1 site(s) moved (A1" in msg
    rc, out_text, err = cli("predict", "--sites", case("base_lyon.csv"), "--model", "voronoi", "--all", "--out", out)
    assert rc == 0 and "6 maps already" in out_text and "0 to go" in out_text and "wrote 0 maps" in out_text


def test_kind6_stale_store_refused(tmp_path):
    store = tmp_path / "s.zarr"
    rc, _, err = cli("predict", "--sites", case("base_lyon.csv"), "--all", "--store", store, "--workers", "0")
    assert rc == 0, err
    rc, _, err = cli("predict", "--sites", case("c21_base_lyon_A1_moved.csv"), "--all", "--store", store, "--workers", "0")
    msg = one_error_line(err)
    assert rc == 2 and "other settings" in msg and "the sites changed (moved, added or removed)" in msg


# --- kind 7: refusals say the real cause ---------------------------------------------------
def test_kind7_errors_name_file_row_column(tmp_path):
    f = tmp_path / "sites.csv"
    f.write_text("site_id;lat;lon\nA;45,76;4,84\nB;45,70;north\nC;45,80;4,95\n", encoding="cp1252")
    rc, _, err = cli("predict", "--sites", f, "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "sites.csv" in msg and "row 3" in msg and "column 'lon'" in msg and "'north'" in msg and "not a number" in msg


# --- kind 8: degenerate but valid deployments ------------------------------------------------
def test_kind8_degenerate_collinear_two_sites_coast_and_neighbours(tmp_path):
    rc, _, err = cli("predict", "--sites", case("c04_rail_corridor_sites.csv"), "--region", case("c04_rail_corridor_region.geojson"), "--all", "--out", tmp_path / "a")
    assert rc == 0, err
    maps = maps_in(tmp_path / "a")
    assert len(maps) == 5
    rc, _, err = cli("predict", "--sites", case("c04b_two_sites.csv"), "--all", "--out", tmp_path / "b")
    assert rc == 0, err
    assert len(maps_in(tmp_path / "b")) == 2
    rc, _, err = cli("predict", "--sites", case("c06_corsica_coastal_sites.csv"), "--region", case("c06_corsica_ne10m.geojson"), "--all", "--out", tmp_path / "c")
    assert rc == 0, err
    assert len(maps_in(tmp_path / "c")) == 7
    assert "lie up to 1.19 km outside region" in err and "snapped" in err


def test_kind8_degenerate_neighbours_outside_the_region_shape_the_border(tmp_path):
    sites = tmp_path / "sites.csv"  # base_lyon with A6 4 km east of the region's edge
    sites.write_text(open(case("base_lyon.csv")).read().replace("A6,OpX,45.7700,4.9000", "A6,OpX,45.7700,4.9600"))
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [[[4.75, 45.70], [4.905, 45.70], [4.905, 45.82], [4.75, 45.82], [4.75, 45.70]]]}))
    rc, _, err = cli("predict", "--sites", sites, "--region", region, "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    maps = maps_in(tmp_path / "m")
    assert set(maps) == {"A1", "A2", "A3", "A4", "A5"} and "used as neighbours, no map" in err
    # A3's cell stops at its bisector with A6: the same map as with A6 mapped too
    rc, _, err = cli("predict", "--sites", sites, "--all", "--out", tmp_path / "all")
    full = maps_in(tmp_path / "all")["A3"]
    inside = maps["A3"].mask & full.mask
    assert np.array_equal((maps["A3"].prob > 0) & inside, (full.prob > 0) & inside)
