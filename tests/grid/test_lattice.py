"""Windows sit on one national lattice; masks are rasterised correctly; maps round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.grid.lattice import Lattice, Window


def test_window_corner_follows_reference_formula():
    w = Window.around(842_345.6, 6_519_987.1, "EPSG:2154")
    assert w.left == np.floor((842_345.6 - 30_000) / 100) * 100
    assert w.bottom == np.floor((6_519_987.1 - 30_000) / 100) * 100
    assert (w.right - w.left, w.top - w.bottom) == (60_000, 60_000)


def test_windows_slice_the_same_lattice():
    xs = np.array([842_345.6, 850_010.0, 835_555.5])
    ys = np.array([6_519_987.1, 6_525_000.4, 6_512_345.0])
    lat = Lattice.for_sites("EPSG:2154", xs, ys)
    for x, y in zip(xs, ys):
        w = lat.window(x, y)
        rs, cs = lat.slices(w)
        assert lat.xs[cs][0] == w.centers()[0][0] and lat.ys[rs][0] == w.centers()[1][0]
    with pytest.raises(ValueError):
        lat.slices(Window.around(0.0, 0.0, "EPSG:2154"))


def test_rasterize_matches_point_in_polygon():
    lat = Lattice("EPSG:2154", 800_000.0, 6_500_000.0, 120, 90)
    poly = shapely.Polygon([(801_050, 6_500_333), (811_000, 6_502_000), (809_000, 6_508_800), (803_000, 6_507_000)])
    mask = lat.rasterize(poly)
    gx, gy = np.meshgrid(lat.xs, lat.ys)
    expected = shapely.contains_xy(poly, gx, gy)
    assert mask.shape == (90, 120)
    # scan-line fill decides by cell centre; they may disagree only for centres exactly on the boundary
    r, c = np.nonzero(mask != expected)
    assert all(poly.boundary.distance(shapely.Point(gx[a, b], gy[a, b])) < 1e-6 for a, b in zip(r, c))
    assert mask.sum() > 500


def test_corners_are_geographic_and_ordered():
    w = Window.around(842_000, 6_519_000, "EPSG:2154")
    tl, tr, br, bl = w.corners_wgs84()
    assert tl[1] > bl[1] and tr[0] > tl[0] and abs(tl[0] - 4.45) < 0.2 and abs(bl[1] - 45.5) < 0.1


def _map(seed=0):
    rng = np.random.default_rng(seed)
    w = Window.around(842_000, 6_519_000, "EPSG:2154")
    mask = np.ones((600, 600), bool)
    mask[:100] = False
    prob = finalize(rng.random((600, 600)).astype(np.float32), mask)
    return DiffusionMap(w, prob, mask, "S1", "test", {"params": {"alpha": 1.3}})


@pytest.mark.parametrize("suffix", [".npz", ".tif"])
def test_map_round_trip(tmp_path, suffix):
    m = _map()
    path = m.save(tmp_path / f"m{suffix}")
    back = DiffusionMap.load(path)
    assert back.window == m.window and back.site_id == "S1" and back.model == "test"
    np.testing.assert_array_equal(back.mask, m.mask)
    np.testing.assert_allclose(back.prob, m.prob)
    assert not list(tmp_path.glob("*.part"))


def test_geotiff_is_north_up_with_crs(tmp_path):
    m = _map()
    m.save(tmp_path / "m.tif")
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.crs.to_epsg() == 2154
        assert src.transform.e < 0
        band = src.read(1)
        # the map is north-up in memory: its masked first rows are the GeoTIFF's top rows
        assert np.isnan(band[0]).all() and np.isfinite(band[-1]).all()


def test_corrupt_maps_are_rejected(tmp_path):
    m = _map()
    bad = tmp_path / "bad.npz"
    np.savez(bad, values=m.prob[m.mask] * 2, mask_bits=np.packbits(m.mask), header=np.array('{"window": {"crs": "EPSG:2154", "left": 0, "bottom": 0}}'))
    with pytest.raises(InputError, match="sum to 1"):
        DiffusionMap.load(bad)
    short = tmp_path / "short.npz"
    np.savez(short, values=m.prob[m.mask][:-5], mask_bits=np.packbits(m.mask), header=np.array('{"window": {"crs": "EPSG:2154", "left": 0, "bottom": 0}}'))
    with pytest.raises(InputError, match="values for"):
        DiffusionMap.load(short)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable diffusion map"):
        DiffusionMap.load(junk)


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    m = _map()
    target = tmp_path / "m.npz"

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(InputError, match="No space left"):
        m.save(target)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_finalize_fallback_to_nearest_valid_cell():
    mask = np.zeros((600, 600), bool)
    mask[10, 20] = True
    mask[500, 500] = True
    p = finalize(np.zeros((600, 600)), mask, (300, 300))
    assert p[500, 500] == 1.0 and p.sum() == 1.0
