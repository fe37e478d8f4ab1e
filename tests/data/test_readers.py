"""Site-file readers: good shapes load, bad input names file, row, column and value."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepmend.data.deployment import merge_colocated
from deepmend.data.readers import read_sites
from deepmend.errors import InputError

GOOD = "site_id,operator,lat,lon,height_m,technology\nA,Orange,45.76,4.84,30,4G\nB,Orange,45.70,4.90,,4G\nC,Orange,45.80,4.95,12,4G\n"


def write(tmp_path, text, name="sites.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_latlon_projects_to_country_crs(tmp_path):
    dep = read_sites(write(tmp_path, GOOD), country="FR")
    assert dep.crs == "EPSG:2154"
    assert len(dep) == 3
    # Lyon in Lambert-93 is around x 842 km, y 6519 km
    assert 830_000 < dep.x[0] < 850_000 and 6_510_000 < dep.y[0] < 6_530_000
    assert np.isnan(dep.height_m[1]) and dep.height_m[0] == 30
    np.testing.assert_allclose(dep.lat, [45.76, 45.70, 45.80], atol=1e-9)


def test_xy_with_crs_and_parquet_and_geojson_agree(tmp_path):
    ref = read_sites(write(tmp_path, GOOD), country="FR")
    df = pd.DataFrame({"id": ref.site_ids, "x": ref.x, "y": ref.y, "operator": ref.operator})
    pq = tmp_path / "s.parquet"
    df.to_parquet(pq)
    dep_pq = read_sites(pq, crs="EPSG:2154")
    np.testing.assert_allclose(dep_pq.x, ref.x, atol=1e-6)
    gj = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"site_id": s, "operator": "Orange"}, "geometry": {"type": "Point", "coordinates": [lo, la]}}
        for s, lo, la in zip(ref.site_ids, ref.lon, ref.lat)]}
    dep_gj = read_sites(write(tmp_path, json.dumps(gj), "s.geojson"), country="FR")
    np.testing.assert_allclose(dep_gj.y, ref.y, atol=1e-3)


def test_unknown_country_uses_utm(tmp_path):
    dep = read_sites(write(tmp_path, "id,lat,lon\na,40.4,-3.7\nb,40.5,-3.6\nc,40.3,-3.8\n"))
    assert dep.crs == "EPSG:32630"


def test_azimuths_parsed(tmp_path):
    dep = read_sites(write(tmp_path, "id,lat,lon,azimuths\na,45.7,4.8,0;120;240\nb,45.8,4.9,\nc,45.6,4.7,370\n"), country="FR")
    assert dep.azimuths == ((0.0, 120.0, 240.0), (), (10.0,))


@pytest.mark.parametrize(
    "text, expect",
    [
        ("site_id,operator,latitude_x,lon\nA,O,45,4\n", "no coordinate columns"),
        ("site_id,lat,lon\nA,45.7,4.8\nB,north,4.9\n", "row 3, column 'lat', value 'north': not a number"),
        ("site_id,lat,lon\nA,45.7,4.8\nB,145.7,4.9\n", "out of range"),
        ("site_id,lat,lon\nA,45.7,4.8\nB,45.7,-190\n", "row 3, column 'lon', value '-190'"),
        ("site_id,lat,lon\nA,45.7,4.8\nA,45.8,4.9\n", "duplicate site id"),
        ("site_id,lat,lon\n", "no data rows"),
        ("site_id,lat,lon,height_m\nA,45.7,4.8,-3\n", "negative antenna height"),
        ("id,x,y\na,1000,2000\n", "need their CRS"),
        ("site_id,lat,lon,azimuths\nA,45.7,4.8,north\n", "azimuths must be numbers"),
    ],
)
def test_bad_csv_is_named(tmp_path, text, expect):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_sites(path, country="FR")
    assert expect in str(err.value)
    assert str(path) in str(err.value)


def test_empty_file_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="file is empty"):
        read_sites(write(tmp_path, ""))
    with pytest.raises(InputError, match="file not found"):
        read_sites(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unsupported file type"):
        read_sites(write(tmp_path, "x", "a.xlsx"))


def test_bad_geojson(tmp_path):
    with pytest.raises(InputError, match="invalid JSON"):
        read_sites(write(tmp_path, "{nope", "a.geojson"))
    line = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}
    with pytest.raises(InputError, match="row 1, column 'geometry'"):
        read_sites(write(tmp_path, json.dumps(line), "b.geojson"))


def test_merge_colocated_keeps_all_ids(tmp_path):
    text = "site_id,operator,lat,lon,height_m\nA,O,45.7,4.8,10\nB,O,45.7,4.8,25\nC,O,45.8,4.9,\nD,P,45.7,4.8,\n"
    dep = merge_colocated(read_sites(write(tmp_path, text), country="FR"))
    assert len(dep) == 3  # A+B merged, D is another operator
    assert dep.members[0] == ("A", "B")
    assert dep.height_m[0] == 25
    assert dep.index_of("B") == 0


@pytest.mark.parametrize("cell", ["", "NaN", "NA", "<NA>", "#N/A"])
def test_rows_without_coordinates_are_skipped_and_reported_or_refused_when_strict(tmp_path, cell):
    path = write(tmp_path, f"site_id,lat,lon\nA,45.7,4.8\nB,{cell},4.9\nC,45.8,4.7\nD,45.6,4.75\n")
    dep = read_sites(path)
    assert list(dep.site_ids) == ["A", "C", "D"]
    assert any("skipped 1 row(s) without coordinates (rows 3)" in n for n in dep.notes)
    with pytest.raises(InputError, match="row 3.*row without coordinates"):
        read_sites(path, strict=True)


@pytest.mark.parametrize("driver, suffix", [("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp"), ("FlatGeobuf", ".fgb"), ("GeoJSON", ".geojson"), (None, ".parquet")])
def test_vector_formats_and_dataframes_in_any_crs(tmp_path, driver, suffix):
    """GeoPackage, Shapefile, FlatGeobuf, GeoJSON and GeoParquet in Lambert-93, and (Geo)DataFrames, read alike."""
    import geopandas as gpd
    import pandas as pd

    lon, lat = np.array([4.8357, 4.85, 4.87]), np.array([45.764, 45.75, 45.78])
    gdf = gpd.GeoDataFrame({"site_id": ["a", "b", "c"], "operator": ["X"] * 3}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs("EPSG:2154")
    path = tmp_path / f"s{suffix}"
    if driver:
        gdf.to_file(path, driver=driver)
    else:
        gdf.to_parquet(path)
    for src in (path, gdf, pd.DataFrame({"site_id": ["a", "b", "c"], "lat": lat, "lon": lon})):
        dep = read_sites(src)
        order = np.argsort(dep.site_ids)  # FlatGeobuf's spatial index stores features in Hilbert order
        assert list(dep.site_ids[order]) == ["a", "b", "c"] and dep.crs == "EPSG:2154"
        assert np.allclose(dep.lon[order], lon, atol=1e-6) and np.allclose(dep.lat[order], lat, atol=1e-6)


def test_region_from_any_vector_file_and_crs(tmp_path):
    import geopandas as gpd
    import shapely

    from deepmend.data.regions import read_region

    box = gpd.GeoDataFrame({"name": ["zone"]}, geometry=[shapely.box(4.7, 45.6, 5.0, 45.9)], crs="EPSG:4326").to_crs("EPSG:2154")
    box.to_file(tmp_path / "r.gpkg", driver="GPKG")
    for src in (tmp_path / "r.gpkg", box):
        reg = read_region(src, "EPSG:2154")
        assert np.allclose(reg.geometry.bounds, (4.7, 45.6, 5.0, 45.9), atol=1e-3)
