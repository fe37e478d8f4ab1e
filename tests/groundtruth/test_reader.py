import json

import numpy as np
import pytest
import rasterio

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.grid.lattice import Window
from deepmend.groundtruth.reader import OperatorMaps, read_map
from deepmend.groundtruth.storage import load_compact, save_compact

from gt_synth import CRS, X0, Y0, cluster, scene


def _map(site_id="s0") -> DiffusionMap:
    win = Window.around(X0, Y0, CRS)
    rng = np.random.default_rng(0)
    p = rng.random((600, 600)).astype(np.float32)
    mask = np.ones((600, 600), dtype=bool)
    mask[:50] = False
    p[~mask] = 0
    p /= p.sum(dtype=np.float64)
    return DiffusionMap(win, p.astype(np.float32), mask, site_id, "operator", {})


def _npz(path, prob, mask, window, version=2):
    header = {"version": version, "window": window, "site_id": "s0", "model": "x", "meta": {}}
    with open(path, "wb") as fh:
        np.savez(fh, prob=prob, mask=mask, header=np.array(json.dumps(header)))


def test_valid_map_roundtrip_and_operator_model(tmp_path):
    m = _map()
    m.save(tmp_path / "s0.npz")
    sc = scene(cluster(3), targets=[0, 3])
    model = OperatorMaps(tmp_path).fit(sc)
    out = model.predict("s0")
    np.testing.assert_allclose(out.prob, m.prob, atol=1e-9)
    assert list(model.available()) == [0]
    with pytest.raises(InputError, match="no operator map for site s3"):
        model.predict(3)


def test_dense_npz_orientation_follows_the_header_version(tmp_path):
    m = _map()  # north-up, masked northern rows
    _npz(tmp_path / "v2.npz", m.prob, m.mask, m.window.as_dict())
    _npz(tmp_path / "v1.npz", m.prob[::-1], m.mask[::-1], m.window.as_dict(), version=1)  # version 1: rows northward
    for name in ("v2.npz", "v1.npz"):
        got = read_map(tmp_path / name, CRS, m.window)
        np.testing.assert_array_equal(got.mask, m.mask)
        np.testing.assert_allclose(got.prob, m.prob, atol=1e-9)


def test_geotiff_roundtrip(tmp_path):
    m = _map()
    m.save(tmp_path / "s0.tif")
    got = read_map(tmp_path / "s0.tif", CRS, m.window)
    np.testing.assert_allclose(got.prob, m.prob, atol=1e-9)


@pytest.mark.parametrize("defect, message", [
    ("shape", "shape"),
    ("nan", "NaN"),
    ("sum", "sum"),
    ("nocrs", "no CRS"),
])
def test_malformed_npz_rejected_naming_file(tmp_path, defect, message):
    m = _map()
    prob, mask, win = m.prob.copy(), m.mask.copy(), m.window.as_dict()
    if defect == "shape":
        prob, mask = prob[:500, :500], mask[:500, :500]
    elif defect == "nan":
        prob[400, 400] = np.nan
    elif defect == "sum":
        prob *= 2
    elif defect == "nocrs":
        win.pop("crs")
    path = tmp_path / f"bad_{defect}.npz"
    _npz(path, prob, mask, win)
    with pytest.raises(InputError, match=message) as err:
        read_map(path)
    assert str(path) in str(err.value)


def test_geotiff_without_crs_rejected(tmp_path):
    m = _map()
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=600, height=600, count=1, dtype="float32", transform=m.window.transform) as dst:
        dst.write(np.where(m.mask, m.prob, np.nan), 1)
    with pytest.raises(InputError, match="no CRS") as err:
        read_map(path)
    assert "nocrs.tif" in str(err.value)


def test_wrong_crs_and_window_rejected(tmp_path):
    m = _map()
    m.save(tmp_path / "s0.npz")
    with pytest.raises(InputError, match="differs from the scene"):
        read_map(tmp_path / "s0.npz", "EPSG:27700")
    with pytest.raises(InputError, match="not the BS's window"):
        read_map(tmp_path / "s0.npz", CRS, Window.around(X0 + 1000, Y0, CRS))


def test_wrong_grid_size_rejected(tmp_path):
    win = Window.around(X0, Y0, CRS, size=100)
    p = np.full((100, 100), 1e-4, dtype=np.float32)
    DiffusionMap(win, p, np.ones((100, 100), bool), "s0").save(tmp_path / "small.npz")
    with pytest.raises(InputError, match="600×600"):
        read_map(tmp_path / "small.npz")


def test_compact_storage_records_lost_mass(tmp_path):
    m = _map()
    m.prob[300:, :] *= 1e-6
    m.prob /= m.prob.sum(dtype=np.float64)
    lost = save_compact(m, tmp_path / "c.npz", floor=1e-4)  # relative to the map's maximum
    got = load_compact(tmp_path / "c.npz")
    assert 0 < lost < 1e-3
    assert got.meta["storage"]["lost_mass"] == pytest.approx(lost)
    assert abs(float(got.prob.sum(dtype=np.float64)) - 1) < 1e-5
    assert (tmp_path / "c.npz").stat().st_size < 0.7 * 600 * 600 * 4
    np.testing.assert_array_equal(got.mask, m.mask)


def test_index_csv_maps_ids_to_files(tmp_path):
    _map().save(tmp_path / "whatever.npz")
    (tmp_path / "index.csv").write_text("site_id,file\ns0,whatever.npz\n")
    model = OperatorMaps(tmp_path).fit(scene(cluster(3), targets=[0]))
    assert model.predict(0).site_id == "s0"
    (tmp_path / "index.csv").write_text("id,path\n")
    with pytest.raises(InputError, match="index.csv"):
        OperatorMaps(tmp_path).fit(scene(cluster(3), targets=[0]))
