"""Fuzzing the site readers (CSV, GeoJSON points), the region reader and the geolocate value
tables: any input gives a valid result or an InputError naming the file — never another
exception type, never NaN/inf coordinates or values in a result."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cases import count
from deepmend.data.readers import read_sites
from deepmend.data.regions import read_region
from deepmend.errors import InputError
from deepmend.geolocate.values import read_values

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- building blocks ------------------------------------------------------------------
ADVERSARIAL_TEXT = ["", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "-1e309", "1e-320", "0x1A", "1,5", "٣", "½",
                    "４５.７", "45.7°", "null", "None", "\x00", "💥", "'; DROP TABLE sites;--", "../../etc/passwd", "\"", "\"\"", "=1+1"]

def number_text():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(-200, 200).map(lambda v: f"{v:.6f}"),
        st.integers(-10**30, 10**30).map(str),
        st.sampled_from(ADVERSARIAL_TEXT),
        st.text(max_size=8),
    )

CELL = st.one_of(number_text(), st.text(max_size=12))
HEADERS = st.sampled_from([
    ["site_id", "lat", "lon"], ["id", "latitude", "longitude", "operator"], ["site_id", "lon", "lat"], ["lat", "lon"],
    ["site_id", "lat", "lon", "height_m", "technology", "azimuths"], ["site_id", "x", "y", "crs"], ["site_id", "x_l93", "y_l93"],
    ["name", "lat", "lng", "mno"], ["site_id", "lat"], ["foo", "bar"], ["site_id", "lat", "lon", "lat"], ["Lat ", " LON", "ID"],
])


_TMP = tempfile.TemporaryDirectory(prefix="deepmend-fuzz-")  # one directory, removed at exit; each case overwrites its file


def _write(text: str | bytes, suffix: str) -> Path:
    p = Path(_TMP.name) / f"input{suffix}"
    (p.write_bytes if isinstance(text, bytes) else lambda t: p.write_text(t, encoding="utf-8", errors="surrogatepass"))(text)
    return p


def _check_sites(path: Path) -> None:
    try:
        dep = read_sites(path)
    except InputError as exc:
        assert str(exc), "an InputError must say something"
        return
    assert len(dep) >= 1
    assert np.isfinite(dep.x).all() and np.isfinite(dep.y).all(), "a read deployment has finite coordinates"
    assert len(set(dep.site_ids.tolist())) == len(dep)


# --- site readers ---------------------------------------------------------------------
@FUZZ
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400).map(lambda b: b.decode("latin-1"))))
def test_fuzz_sites_random_text(text):
    count("readers.sites_random_text")
    _check_sites(_write(text, ".csv"))


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_sites_random_bytes(data):
    count("readers.sites_random_bytes")
    _check_sites(_write(data, ".csv"))


@FUZZ
@given(HEADERS, st.lists(st.lists(CELL, min_size=1, max_size=7), min_size=0, max_size=8), st.sampled_from([",", ";", "\t"]))
def test_fuzz_sites_structured_csv(header, rows, sep):
    count("readers.sites_structured_csv")
    lines = [sep.join(header)] + [sep.join(c.replace("\n", " ").replace("\r", " ") for c in r) for r in rows]
    _check_sites(_write("\n".join(lines) + "\n", ".csv"))


@FUZZ
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=10))
def test_fuzz_sites_numeric_latlon(points):
    """Any float pair: out-of-range, NaN, inf and huge values are refused, in-range ones are read.

    Both branches must hold: a reader that refused every file used to pass this test (the
    accepted branch returned on InputError). Made to fail once by making ``read_sites``
    raise InputError for every file: the in-range examples then failed.
    """
    count("readers.sites_numeric_latlon")
    text = "site_id,lat,lon\n" + "\n".join(f"S{k},{lat!r},{lon!r}" for k, (lat, lon) in enumerate(points)) + "\n"
    path = _write(text, ".csv")
    ok = all(math.isfinite(a) and math.isfinite(b) and abs(a) <= 90 and abs(b) <= 180 for a, b in points)
    if ok:
        dep = read_sites(path)  # in range: must be read
        assert len(dep) == len(points) and np.isfinite(dep.x).all() and np.isfinite(dep.y).all()
    else:
        with pytest.raises(InputError):
            read_sites(path)


@FUZZ
@given(st.floats(-89, 89), st.floats(91, 180))
def test_fuzz_swapped_lat_lon_is_named(lon_like, lat_like):
    """lat/lon swapped (lat column > 90): refused with a hint that they may be swapped."""
    count("readers.swapped_lat_lon")
    path = _write(f"site_id,lat,lon\nA,{lat_like!r},{lon_like!r}\nB,45.0,4.8\n", ".csv")
    with pytest.raises(InputError, match="swapped"):
        read_sites(path)


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(["type", "features", "geometry", "coordinates", "properties", "name", "x"]) | st.text(max_size=5), kids, max_size=4),
                    max_leaves=25)


@FUZZ
@given(JSON)
def test_fuzz_sites_geojson(doc):
    count("readers.sites_geojson_random")
    _check_sites(_write(json.dumps(doc), ".geojson"))


@FUZZ
@given(st.lists(st.tuples(st.one_of(st.floats(), st.text(max_size=5), st.none()), st.one_of(st.floats(), st.integers(), st.none())), min_size=1, max_size=6))
def test_fuzz_sites_geojson_points(coords):
    count("readers.sites_geojson_points")
    feats = [{"type": "Feature", "properties": {"site_id": f"P{k}"}, "geometry": {"type": "Point", "coordinates": [a, b]}} for k, (a, b) in enumerate(coords)]
    _check_sites(_write(json.dumps({"type": "FeatureCollection", "features": feats}), ".geojson"))


# --- region reader --------------------------------------------------------------------
def _check_region(path: Path) -> None:
    try:
        reg = read_region(path, "EPSG:2154")
    except InputError as exc:
        assert str(exc)
        return
    assert not reg.geometry.is_empty and reg.geometry.area > 0


@FUZZ
@given(JSON)
def test_fuzz_region_random_json(doc):
    count("regions.random_json")
    _check_region(_write(json.dumps(doc), ".geojson"))


COORD = st.one_of(st.floats(-181, 181), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 4.8, 45.7, 1e308, -1e308]))


@FUZZ
@given(st.lists(st.lists(st.tuples(COORD, COORD), min_size=0, max_size=7), min_size=0, max_size=3), st.sampled_from(["Polygon", "MultiPolygon", "Feature", "FeatureCollection"]))
def test_fuzz_region_polygons(rings, kind):
    count("regions.polygons")
    coords = [[list(p) for p in ring] for ring in rings]
    poly = {"type": "Polygon", "coordinates": coords}
    doc = {"Polygon": poly, "MultiPolygon": {"type": "MultiPolygon", "coordinates": [coords]},
           "Feature": {"type": "Feature", "properties": {"name": "r"}, "geometry": poly},
           "FeatureCollection": {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": poly}]}}[kind]
    _check_region(_write(json.dumps(doc), ".geojson"))


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_region_random_text(text):
    count("regions.random_text")
    _check_region(_write(text, ".geojson"))


# --- geolocate value tables -----------------------------------------------------------
def _check_values(path: Path) -> None:
    try:
        t = read_values(path)
    except InputError as exc:
        assert str(exc)
        return
    assert t.values.shape[0] == t.site_ids.size and t.values.shape[1] == len(t.labels)
    assert np.isfinite(t.values).all() and (t.values >= 0).all()


VHEADERS = st.sampled_from([["site_id", "value"], ["site", "count", "time"], ["id", "devices", "hour"], ["site_id"], ["value"], ["bs", "n", "t", "extra"], ["x", "y"]])


@FUZZ
@given(VHEADERS, st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=8))
def test_fuzz_value_table_structured(header, rows):
    count("values.structured_csv")
    lines = [",".join(header)] + [",".join(c.replace("\n", " ").replace("\r", " ").replace(",", ";") for c in r) for r in rows]
    _check_values(_write("\n".join(lines) + "\n", ".csv"))


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=200)))
def test_fuzz_value_table_random(data):
    count("values.random_content")
    _check_values(_write(data, ".csv"))


@FUZZ
@given(st.lists(st.tuples(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", min_size=1, max_size=6),
                          st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=8))
def test_fuzz_value_table_numbers(rows):
    """Negative, NaN and infinite values are refused; finite non-negative ones are kept exactly.

    Ids are plain (letters, digits, ``_-.``) so that a good table must be read: a reader
    that refused every file used to pass (the good branch returned on InputError). Made to
    fail once by making ``read_values`` raise InputError for every file.
    """
    count("values.numbers")
    path = _write("site_id,value\n" + "\n".join(f"{s},{v!r}" for s, v in rows) + "\n", ".csv")
    ids = [s.strip() for s, _ in rows]
    good = all(math.isfinite(v) and v >= 0 for _, v in rows) and len(set(ids)) == len(ids)
    if not good:
        with pytest.raises(InputError):
            read_values(path)
        return
    t = read_values(path)  # a good table: must be read
    got = dict(zip(t.site_ids.tolist(), t.values[:, 0].tolist()))
    for s, v in rows:
        assert got[s.strip()] == v
