"""Optional DeepMEND input channels (issue 19 ablation): values against brute force, the reference set
unchanged, weights that declare them load, predict and agree across runtimes; unknown ones are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
import torch

from deepmend.errors import InputError
from deepmend.models.deepmend import DeepMENDModel, load_config, save_weights
from deepmend.models.deepmend.unet import UNet, UNetConfig
from deepmend.models.features import (CHANNELS, DENSITY_RADII_KM, DENSITY_SCALE_KM2, EDGE_SCALE_M, FeatureBuilder,
                                      check_channels)

torch.set_num_threads(1)
ALL = CHANNELS + ("dens1", "dens3", "dens10", "edge", "own")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


def _weights(tmp_path, channels, name="w"):
    torch.manual_seed(0)
    arch = UNetConfig(in_channels=len(channels), base=4, levels=2)
    net = UNet(arch)
    return save_weights(net.state_dict(), {"arch": arch.as_dict(), "loss": "kl", "factor": 10, "channels": list(channels)},
                        tmp_path / name / "deepmend.json")


def _centres(scene, i, f):
    """(rows, cols) of the block-centre cells of BS i's window (odd f) and their coordinates (m)."""
    n = 600 // f
    centre = np.arange(n) * f + f // 2
    rows, cols = np.repeat(centre, n), np.tile(centre, n)
    xs, ys = scene.window(i).centers()
    return rows, cols, xs[cols], ys[rows]


def test_extra_channels_match_brute_force(small_scene):
    scene, fb, f = small_scene, FeatureBuilder(small_scene), 5
    lat, dep = scene.lattice, scene.deployment
    # each site counted at the centre of its 100 m cell (module docstring)
    sx = lat.x0 + (np.floor((dep.x - lat.x0) / lat.res) + 0.5) * lat.res
    sy = lat.y0 + (np.floor((dep.y - lat.y0) / lat.res) + 0.5) * lat.res
    for i in (0, 4):
        x = fb.coarse(i, f, ALL)
        assert x.shape == (len(ALL), 120, 120) and x.dtype == np.float32
        rows, cols, px, py = _centres(scene, i, f)
        frac = x[3].ravel()
        ok = frac > 0
        assert ok.sum() > 100 and (~ok).sum() > 100  # the square region cuts the window
        for name, r_km in DENSITY_RADII_KM.items():
            n = (np.hypot(px[:, None] - sx[None], py[:, None] - sy[None]) <= r_km * 1000).sum(axis=1)
            want = np.log1p(n / (np.pi * r_km**2) * DENSITY_SCALE_KM2) * frac
            np.testing.assert_allclose(x[ALL.index(name)].ravel(), want, rtol=1e-5, atol=1e-6, err_msg=name)
            assert n.max() > 0, name
        # edge: distance to the nearest invalid cell centre ≥ the distance to the region's boundary, within a cell
        valid = scene.mask[scene.slices(i)][rows, cols]  # the block centre's own cell (else d_e = 0)
        np.testing.assert_array_equal(x[ALL.index("edge")].ravel()[~valid], 0)
        v = x[ALL.index("edge")].ravel()[valid] / frac[valid]
        d_e = -EDGE_SCALE_M * np.log1p(-np.minimum(v, 1 - 1e-7))
        dist = shapely.distance(scene.mask_region.metric.boundary, shapely.points(px[valid], py[valid]))
        inner = dist < 15_000  # where the transform is not saturated
        assert inner.sum() > 100
        assert np.all(d_e[inner] >= dist[inner] - 1.0) and np.all(d_e[inner] <= dist[inner] + 150.0), np.abs(d_e - dist).max()
        # own: 1 exactly where BS i is the nearest site of the block centre (its Voronoi cell)
        _, j = scene.tree.query(np.column_stack([px, py]))
        own = x[ALL.index("own")].ravel()
        np.testing.assert_array_equal(own, (j == i) * frac)
        assert 0 < (own > 0).sum() < ok.sum()
    # even factor: the 2×2 central cells; factor 1: the 100 m lattice itself
    x4 = fb.coarse(4, 4, ALL)
    lab = scene.nearest[scene.slices(4)] == 4
    want = 0.25 * (lab[1::4, 1::4].astype(np.float32) + lab[2::4, 1::4] + lab[1::4, 2::4] + lab[2::4, 2::4])
    np.testing.assert_allclose(x4[ALL.index("own")], want * x4[3], rtol=1e-6)
    x1 = fb.coarse(4, 1, ALL)
    np.testing.assert_array_equal(x1[:4], fb.window(4)[0])
    np.testing.assert_array_equal(x1[ALL.index("own")], lab * fb.window(4)[1])


def test_reference_set_is_unchanged_and_first_in_any_order(small_scene):
    fb = FeatureBuilder(small_scene)
    for f in (5, 4, 10):
        ref = fb.coarse(3, f)
        np.testing.assert_array_equal(fb.coarse(3, f, CHANNELS), ref)
        np.testing.assert_array_equal(fb.coarse(3, f, ALL)[:4], ref)
        mixed = ("own", "mask", "near2")
        np.testing.assert_array_equal(fb.coarse(3, f, mixed)[1:], ref[[3, 1]])
    x, _ = fb.batch([0, 2], 5, ALL)
    assert x.shape == (2, 9, 120, 120)
    with pytest.raises(ValueError, match="'dens2'"):
        check_channels(CHANNELS + ("dens2",))
    with pytest.raises(ValueError, match="mask"):
        check_channels(("near1", "edge"))


def test_unknown_channel_in_weights_is_one_clear_error(tmp_path, small_scene):
    js = _weights(tmp_path, CHANNELS)
    cfg = json.loads(js.read_text())
    cfg["channels"] = list(CHANNELS) + ["dens2"]
    js.write_text(json.dumps(cfg))
    with pytest.raises(InputError) as e:
        load_config(js)
    msg = str(e.value)
    assert "'dens2'" in msg and str(js) in msg and "\n" not in msg
    with pytest.raises(InputError, match="dens2"):
        DeepMENDModel(js, runtime="torch").fit(small_scene)
    cfg["channels"] = list(ALL)  # known names, but the network takes 4 inputs
    js.write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="architecture takes 4"):
        load_config(js)


def test_weights_with_extra_channels_predict_maps_and_runtimes_agree(tmp_path, small_scene):
    js = _weights(tmp_path, ALL)
    assert load_config(js)[0]["channels"] == list(ALL)
    t = DeepMENDModel(js, runtime="torch").fit(small_scene)
    o = DeepMENDModel(js, runtime="onnx").fit(small_scene)
    x, _ = t.features_.batch([0, 1], t.factor_, t.channels_)
    assert x.shape[1] == 9
    np.testing.assert_allclose(o.network(x), t.network(x), atol=1e-4, rtol=1e-4)
    for mt, mo in zip(t.predict_many([0, 1, 5]), o.predict_many([0, 1, 5])):
        for m in (mt, mo):
            assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1) < 1e-5 and (m.prob[~m.mask] == 0).all()
        np.testing.assert_allclose(mo.prob, mt.prob, atol=1e-7, rtol=1e-3)
    # the exported graph takes 9 inputs and is cached under a key of its own channel set
    cached = [p.name for p in (tmp_path / "cache" / "onnx").glob("*.onnx")]
    assert len(cached) == 1 and "_c" in cached[0]
    assert o.runner_.session.get_inputs()[0].shape[1] == 9
