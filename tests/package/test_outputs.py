"""QGIS-style checks: what GIS tools read from deepmend's files is where it should be."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import rasterio
import shapely

from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.grid.vector import coverage_contours, inspire_table, voronoi_cells, write_table, write_vector
from pkg_fixtures import pkg_scene, voronoi_maps  # noqa: F401 - fixtures


def _site_pixels(transform, dep, shape):
    """(row, col) of every site through the file's own transform (as a GIS would place them)."""
    inv = ~transform
    cols, rows = inv * (dep.x, dep.y)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows, cols, inside


def test_geotiff_is_a_cog_north_up_matching_its_transform(tmp_path, pkg_scene, voronoi_maps):
    dep = pkg_scene.deployment
    for k, m in enumerate(voronoi_maps[:4]):
        path = m.to_geotiff(tmp_path / f"{m.site_id}.tif")
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 2154 and src.transform == m.window.transform
            assert src.transform.e < 0 and src.transform.a == 100.0  # north-up, 100 m
            assert np.isnan(src.nodata)
            assert src.overviews(1) == [2, 4]
            assert src.profile["tiled"] and src.profile["blockxsize"] == 256
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.tags(ns="IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
            assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"
            assert src.descriptions[0].startswith("P(location") and src.units[0]
            assert json.loads(src.tags()["deepmend"])["site_id"] == m.site_id
            band = src.read(1)
            rows, cols, inside = _site_pixels(src.transform, dep, band.shape)
        # a Voronoi map is positive at its own site and zero at every other site it reaches
        i = pkg_scene.site_index(m.site_id)
        assert band[rows[i], cols[i]] > 0
        others = inside & (np.arange(len(dep)) != i)
        assert others.sum() >= 5
        assert np.all(band[rows[others], cols[others]] == 0)
        np.testing.assert_array_equal(np.isnan(band), ~m.mask)


def test_outputs_get_the_umask_mode(tmp_path, voronoi_maps, pkg_scene):
    m = voronoi_maps[0]
    old = os.umask(0o027)
    try:
        paths = [m.save(tmp_path / "a.npz"), m.save(tmp_path / "a.tif"), write_vector(voronoi_cells(pkg_scene, [0]), tmp_path / "c.gpkg")]
    finally:
        os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in paths] == [oct(0o640)] * 3


def test_to_xarray_carries_crs_and_transform(pkg_scene, voronoi_maps):
    m = voronoi_maps[2]
    da = m.to_xarray()
    assert da.dims == ("y", "x") and da.rio.crs.to_epsg() == 2154
    assert da.rio.transform() == m.window.transform
    assert float(da.y[0]) > float(da.y[-1])  # north first
    dep = pkg_scene.deployment
    i = pkg_scene.site_index(m.site_id)
    at = lambda j: float(da.sel(x=dep.x[j], y=dep.y[j], method="nearest"))  # noqa: E731
    assert at(i) > 0
    assert all(at(j) == 0 for j in range(len(dep)) if j != i and not np.isnan(at(j)))
    assert abs(float(da.sum()) - 1) < 1e-5


def test_plot_returns_a_figure(voronoi_maps):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = voronoi_maps[0].plot()
    assert isinstance(fig, Figure) and fig.axes


def test_version_1_npz_is_read_north_up(tmp_path, voronoi_maps):
    m = voronoi_maps[1]
    header = {"version": 1, "window": m.window.as_dict(), "site_id": m.site_id, "model": m.model, "meta": {}}
    flipped = m.mask[::-1]
    np.savez(tmp_path / "old.npz", values=m.prob[::-1][flipped], mask_bits=np.packbits(flipped), header=np.array(json.dumps(header)))
    back = DiffusionMap.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(back.prob, m.prob)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet"])
def test_voronoi_polygons_are_in_place(tmp_path, pkg_scene, voronoi_maps, suffix):
    import geopandas as gpd

    path = write_vector(voronoi_cells(pkg_scene), tmp_path / f"cells{suffix}")
    cells = gpd.read_parquet(path) if suffix == ".parquet" else gpd.read_file(path)
    cells = cells.to_crs(pkg_scene.crs)
    dep = pkg_scene.deployment
    assert list(cells.site_id) == [str(s) for s in dep.site_ids]
    assert shapely.contains_xy(cells.geometry.values, dep.x, dep.y).all()  # each polygon holds its own site
    region = pkg_scene.mask_region.metric
    assert abs(cells.area.sum() - region.area) < 1e-6 * region.area  # a partition of the region
    for m in voronoi_maps:
        poly = cells.geometry[cells.site_id == m.site_id].iloc[0]
        n_cells = int((m.prob > 0).sum())
        if poly.bounds[0] > m.window.left and poly.bounds[2] < m.window.right and poly.bounds[1] > m.window.bottom and poly.bounds[3] < m.window.top:
            # the raster's cell count × 1 ha is the polygon's area, up to the cells cut by its edges
            assert abs(poly.area / 1e4 - n_cells) <= 0.02 * n_cells + 0.05 * poly.length / 100


def test_coverage_contours_hold_tau(tmp_path, pkg_scene):
    import geopandas as gpd

    from deepmend.registry import make_model

    maps = list(make_model("probabilistic", alpha=1.3).fit(pkg_scene).predict_many([0, 5]))
    cont = coverage_contours(maps)
    assert list(cont.tau) == [0.5, 0.9, 0.95] * 2
    assert (cont.mass >= cont.tau - 1e-6).all() and (cont.mass < cont.tau + 0.01).all()
    assert np.allclose(cont.area / 1e6, cont.area_km2)  # polygons cover exactly the selected cells
    back = gpd.read_file(write_vector(cont, tmp_path / "cont.gpkg"))
    assert back.crs.to_epsg() == 2154 and len(back) == 6
    site = pkg_scene.deployment
    for _, row in back[back.tau == 0.95].iterrows():
        i = pkg_scene.site_index(row.site_id)
        assert row.geometry.contains(shapely.Point(site.x[i], site.y[i]))
    with pytest.raises(Exception, match="τ"):
        coverage_contours(maps, [1.5])


def test_inspire_table(tmp_path, pkg_scene, voronoi_maps):
    import pandas as pd
    from pyproj import Transformer

    table = inspire_table(voronoi_maps[:3])
    assert list(table.columns[:3]) == ["site_id", "grid_id", "p"]
    assert table.grid_id.str.fullmatch(r"CRS3035RES100mN\d{7}E\d{7}").all()
    np.testing.assert_allclose(table.groupby("site_id").p.sum(), 1.0, atol=1e-5)
    # the INSPIRE cell holding a site carries its mass, and the code is its lower-left corner
    dep = pkg_scene.deployment
    m = voronoi_maps[0]
    i = pkg_scene.site_index(m.site_id)
    e, n = Transformer.from_crs(dep.crs, "EPSG:3035", always_xy=True).transform(dep.x[i], dep.y[i])
    code = f"CRS3035RES100mN{int(n // 100 * 100)}E{int(e // 100 * 100)}"
    row = table[(table.site_id == m.site_id) & (table.grid_id == code)]
    assert len(row) == 1 and row.p.iloc[0] > 0
    n_, e_ = map(int, re.match(r"CRS3035RES100mN(\d+)E(\d+)", code).groups())
    assert (row.y_3035.iloc[0], row.x_3035.iloc[0]) == (n_, e_)
    back = pd.read_parquet(write_table(table, tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(back, table)
