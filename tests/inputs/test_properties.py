"""One hypothesis property per kind of input fault: generated variants, checked by what a user sees.

Outcomes checked: maps sum to 1 on their mask and sit where their site is, ids come back
as written, positions come back to the metre, or one clear InputError names the cause.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmend.data.crs import is_local_metric, to_metric, utm_crs
from deepmend.data.deployment import split_networks
from deepmend.data.readers import ALIASES, read_sites
from deepmend.errors import InputError
from deepmend.grid.map_dir import unique_names, write_map_dir
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.models.voronoi import VoronoiModel
from deepmend.scene import Scene

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LYON = (4.8357, 45.7640)


def offsets(n_min=3, n_max=6):
    """Sites within ~8 km of Lyon's centre, at least ~300 m apart."""
    return st.lists(st.tuples(st.integers(-25, 25), st.integers(-25, 25)), min_size=n_min, max_size=n_max, unique=True).map(
        lambda pts: [(LYON[0] + 0.004 * dx, LYON[1] + 0.003 * dy) for dx, dy in pts])


def csv_text(rows, header=("site_id", "operator", "lat", "lon"), sep=","):
    return "\n".join([sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]) + "\n"


def check_map(m, site_xy=None):
    p = m.prob.astype(np.float64)
    assert p.min() >= 0 and not p[~m.mask].any() and abs(p[m.mask].sum() - 1) < 1e-4
    if site_xy is not None:
        w = m.window
        assert abs(w.left + w.size * w.res / 2 - site_xy[0]) <= w.res and abs(w.bottom + w.size * w.res / 2 - site_xy[1]) <= w.res


# --- kind 1 -------------------------------------------------------------------------------
@settings(max_examples=6, **SETTINGS)
@given(a=offsets(3, 5), b_own=offsets(1, 3), shared=st.integers(1, 3), dup=st.booleans())
def test_kind1_property_each_operator_tessellated_on_its_own(tmp_path, a, b_own, shared, dup):
    rows = [(f"A{k}", "OpA", lat, lon) for k, (lon, lat) in enumerate(a)]
    b = a[:shared] + [p for p in b_own if p not in a]
    rows += [(f"B{k}", "OpB", lat, lon) for k, (lon, lat) in enumerate(b)]
    if dup:
        rows.append(("A_dup", "OpA", a[0][1], a[0][0]))  # a second antenna on A0's mast
    f = tmp_path / "s.csv"
    f.write_text(csv_text(rows))
    dep = read_sites(f)
    nets = split_networks(dep)
    ids = set()
    for op, net in nets.items():
        scene = Scene.from_files(net)
        assert len(scene.deployment) == len(set(zip(net.x.round(3), net.y.round(3))))  # merged within the operator only
        model = VoronoiModel().fit(scene)
        for i in scene.targets:
            m = model.predict(int(i))
            check_map(m, (scene.deployment.x[i], scene.deployment.y[i]))
            assert (m.prob > 0).sum() > 1  # a real cell, even on a shared mast
        ids |= {s for mem in scene.deployment.members for s in mem}
    assert ids == {r[0] for r in rows}  # every id kept


# --- kind 2 -------------------------------------------------------------------------------
ID_ALPHABET = st.text(alphabet=st.sampled_from(list("abcXYZ019 _-/.éèçÉ")), min_size=1, max_size=12).map(str.strip).filter(bool)


@settings(max_examples=25, **SETTINGS)
@given(ids=st.lists(ID_ALPHABET, min_size=3, max_size=6, unique=True), alias=st.sampled_from(ALIASES["site_id"][:7]),
       upper=st.booleans(), bom=st.booleans(), enc=st.sampled_from(["utf-8", "utf-16", "cp1252"]), pts=offsets(6, 6))
def test_kind2_property_ids_come_back_as_written(tmp_path, ids, alias, upper, bom, enc, pts):
    col = alias.upper() if upper else alias
    rows = [(s, "OpA", lat, lon) for s, (lon, lat) in zip(ids, pts)]
    text = csv_text(rows, header=(col, "operator", "lat", "lon"), sep=";")
    f = tmp_path / "s.csv"
    f.write_bytes(("\ufeff" if bom and enc != "utf-16" else "").encode(enc if enc != "cp1252" else "utf-8") * (enc != "cp1252") + text.encode(enc))
    dep = read_sites(f)
    assert list(dep.site_ids) == ids
    names = unique_names(ids)
    assert len({v.lower() for v in names.values()}) == len(ids)  # distinct file names, even on a case-insensitive disk
    f.write_bytes(text.replace(col, "label").encode(enc))
    with pytest.raises(InputError, match="no site id column.*columns are label, operator, lat, lon"):
        read_sites(f)


# --- kind 3 -------------------------------------------------------------------------------
CITIES = {"Lyon": (4.8357, 45.764), "Helsinki": (24.94, 60.17), "Dhaka": (90.41, 23.81), "Sydney": (151.2, -33.87), "Montreal": (-73.57, 45.5)}


@settings(max_examples=25, **SETTINGS)
@given(city=st.sampled_from(sorted(CITIES)), how=st.sampled_from(["EPSG:4326", "EPSG:3857", "utm", "wrong-utm", "EPSG:3035"]), pts=offsets(4, 6))
def test_kind3_property_positions_read_in_their_crs_to_a_local_metric_crs(tmp_path, city, how, pts):
    lon0, lat0 = CITIES[city]
    lon = np.array([lon0 + p[0] - LYON[0] for p in pts])
    lat = np.array([lat0 + p[1] - LYON[1] for p in pts])
    zone = utm_crs(lon0, lat0)
    crs = {"utm": zone, "wrong-utm": f"EPSG:{int(zone[5:]) + 2}"}.get(how, how)
    x, y = (lon, lat) if crs == "EPSG:4326" else to_metric(lon, lat, crs)
    rows = [(f"S{k}", "OpA", f"{x[k]:.6f}", f"{y[k]:.6f}", crs) for k in range(len(pts))]
    f = tmp_path / "s.csv"
    f.write_text(csv_text(rows, header=("site_id", "operator", "x", "y", "crs")))
    dep = read_sites(f)
    assert np.allclose(dep.lon, lon, atol=1e-5) and np.allclose(dep.lat, lat, atol=1e-5)
    assert is_local_metric(dep.crs, lon0, lat0)  # never Web Mercator, never another zone
    if city == "Lyon":  # swapped lat/lon with a stated country: refused, saying so
        g = tmp_path / "w.csv"
        g.write_text(csv_text([(f"S{k}", "OpA", lon[k], lat[k]) for k in range(len(pts))]))
        with pytest.raises(InputError, match="look swapped"):
            read_sites(g, country="FR")


# --- kind 4 -------------------------------------------------------------------------------
@settings(max_examples=8, **SETTINGS)
@given(far_lon=st.floats(-170, 170), far_lat=st.floats(-60, 65), pts=offsets(4, 6))
def test_kind4_property_cost_of_a_map_independent_of_the_extent(tmp_path, far_lon, far_lat, pts):
    rows = [(f"S{k}", "OpA", lat, lon) for k, (lon, lat) in enumerate(pts)]
    f = tmp_path / "s.csv"
    f.write_text(csv_text(rows))
    near = Scene.from_files(read_sites(f))
    ref = VoronoiModel().fit(near).predict("S0")
    f.write_text(csv_text(rows + [("FAR", "OpA", far_lat, far_lon)]))
    scene = Scene.from_files(read_sites(f))
    part, i = scene.part_for("S0")
    if max(np.ptp(scene.deployment.x), np.ptp(scene.deployment.y)) > 300_000:  # the far site is far
        assert part.lattice.nx * part.lattice.ny <= 603 * 603  # one window's lattice, whatever the extent
        m = VoronoiModel().fit(part).predict(i)
        check_map(m)
        if part.crs == near.crs:
            assert np.array_equal(m.prob > 0, ref.prob > 0)
    far_part, j = scene.part_for("FAR")
    check_map(VoronoiModel().fit(far_part).predict(j))


# --- kind 5 -------------------------------------------------------------------------------
@settings(max_examples=25, **SETTINGS)
@given(sep=st.sampled_from([",", ";", "\t"]), enc=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
       missing=st.sampled_from(["", "NA", "<NA>", "#N/A", "NaN"]), holes=st.sets(st.integers(0, 5), max_size=2),
       no_coords=st.sets(st.integers(0, 5), max_size=2), pts=offsets(6, 6), crlf=st.booleans())
def test_kind5_property_dialects_and_encodings_read_right(tmp_path, sep, enc, missing, holes, no_coords, pts, crlf):
    no_coords = no_coords - {0, 1, 2} if len(no_coords) > 3 else no_coords - {0}
    dec = (lambda v: str(v).replace(".", ",")) if sep != "," else str
    rows = []
    for k, (lon, lat) in enumerate(pts):
        h = missing if k in holes else dec(20.5 + k)
        la, lo = (missing, missing) if k in no_coords else (dec(lat), dec(lon))
        rows.append((f"Sité{k}", "Opé", la, lo, h))
    text = csv_text(rows, header=("site_id", "operator", "latitude", "longitude", "hauteur"), sep=sep)
    f = tmp_path / "s.csv"
    f.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode(enc))
    dep = read_sites(f)
    keep = [k for k in range(6) if k not in no_coords]
    assert list(dep.site_ids) == [f"Sité{k}" for k in keep] and set(dep.operator) == {"Opé"}
    assert np.allclose(dep.lon, [pts[k][0] for k in keep]) and np.allclose(dep.lat, [pts[k][1] for k in keep])
    want_h = [np.nan if k in holes else 20.5 + k for k in keep]
    assert np.allclose(dep.height_m, want_h, equal_nan=True)
    if no_coords:
        assert any(f"skipped {len(no_coords)} row(s) without coordinates" in n for n in dep.notes)
        with pytest.raises(InputError, match=f"row {min(no_coords) + 2}"):
            read_sites(f, strict=True)


# --- kind 6 -------------------------------------------------------------------------------
@settings(max_examples=5, **SETTINGS)
@given(change=st.sampled_from(["none", "model", "alpha", "move", "add", "remove"]), d=st.floats(5, 3000), pts=offsets(5, 5))
def test_kind6_property_resume_only_over_the_same_run(tmp_path, change, d, pts):
    rows = [(f"S{k}", "OpA", lat, lon) for k, (lon, lat) in enumerate(pts)]
    f = tmp_path / "s.csv"
    f.write_text(csv_text(rows))
    out = Path(tempfile.mkdtemp(dir=tmp_path))  # one directory per generated example
    write_map_dir(ProbabilisticModel(1.3), Scene.from_files(read_sites(f)), out, echo=lambda s: None)
    model = {"model": VoronoiModel(), "alpha": ProbabilisticModel(2.0)}.get(change, ProbabilisticModel(1.3))
    if change == "move":
        rows[1] = (rows[1][0], "OpA", rows[1][2] + d / 111_000, rows[1][3])
    elif change == "add":
        rows.append(("NEW", "OpA", LYON[1] + 0.2, LYON[0] + 0.2))
    elif change == "remove":
        rows = rows[:-1]
    f.write_text(csv_text(rows))
    scene = Scene.from_files(read_sites(f))
    if change == "none":
        assert write_map_dir(model, scene, out, echo=lambda s: None) == (5, 0)
        return
    want = {"model": "model probabilistic → voronoi", "alpha": "parameters", "move": "1 site(s) moved (S1", "add": "1 site(s) added (NEW)",
            "remove": "1 site(s) removed (S4)"}[change]
    with pytest.raises(InputError, match="holds maps of another run") as err:
        write_map_dir(model, scene, out, echo=lambda s: None)
    assert want in str(err.value)


# --- kind 7 -------------------------------------------------------------------------------
@settings(max_examples=30, **SETTINGS)
@given(fault=st.sampled_from(["text", "range", "empty-id", "dup-id", "crs", "height"]), row=st.integers(1, 4), pts=offsets(5, 5))
def test_kind7_property_refusal_names_file_row_column_and_cause(tmp_path, fault, row, pts):
    rows = [[f"S{k}", lat, lon, 20, "EPSG:4326"] for k, (lon, lat) in enumerate(pts)]
    col, cause = {"text": ("lat", "not a number"), "range": ("lon", "out of range"), "empty-id": ("site_id", "empty site id"),
                  "dup-id": ("site_id", "duplicate site id"), "crs": ("crs", "only EPSG:n"), "height": ("height_m", "negative antenna height")}[fault]
    r = rows[row]
    if fault == "text":
        r[1] = "north"
    elif fault == "range":
        r[2] = 250.0
    elif fault == "empty-id":
        r[0] = "NA"
    elif fault == "dup-id":
        r[0] = rows[0][0]
    elif fault == "crs":
        r[4] = "+init=/etc/passwd:root"
    else:
        r[3] = -4
    if fault == "crs":
        header, rows = ("site_id", "x", "y", "height_m", "crs"), [[a, c, b, d, e] for a, b, c, d, e in rows]
    else:
        header = ("site_id", "lat", "lon", "height_m", "crs")
    f = tmp_path / "my sites.csv"
    f.write_text(csv_text(rows, header=header))
    with pytest.raises(InputError) as err:
        read_sites(f)
    msg = str(err.value)
    assert "my sites.csv" in msg and f"row {row + 2}" in msg and f"column '{col}'" in msg and cause in msg, msg


# --- kind 8 -------------------------------------------------------------------------------
@settings(max_examples=8, **SETTINGS)
@given(n=st.integers(1, 4), collinear=st.booleans(), model=st.sampled_from(["voronoi", "probabilistic"]), pts=offsets(4, 4))
def test_kind8_property_degenerate_deployments_give_maps(tmp_path, n, collinear, model, pts):
    pts = pts[:n]
    if collinear:
        pts = [(LYON[0] + 0.01 * k, LYON[1]) for k in range(n)]
    f = tmp_path / "s.csv"
    f.write_text(csv_text([(f"S{k}", "OpA", lat, lon) for k, (lon, lat) in enumerate(pts)]))
    scene = Scene.from_files(read_sites(f))
    m_ = (VoronoiModel() if model == "voronoi" else ProbabilisticModel(1.3)).fit(scene)
    for i in scene.targets:
        m = m_.predict(int(i))
        check_map(m, (scene.deployment.x[i], scene.deployment.y[i]))
        if len(scene.deployment) == 1:
            assert ((m.prob > 0) == m.mask).all()  # one site takes the whole region
