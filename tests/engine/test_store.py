"""The map store: workers write their own rows, DeepMEND's store is exact and small,
``xarray.open_zarr`` gives a labelled Dataset, and one map reads back quickly."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.engine import ModelSpec, compute_tile, make_tiles, run_batch
from deepmend.engine.executors import ProcessExecutor
from deepmend.engine.store import MapStore

VOR = ModelSpec("voronoi")
DM = ModelSpec("deepmend")


def test_deepmend_store_recomputes_the_exact_maps(grid_job, tmp_path):
    path = tmp_path / "dm.zarr"
    rep = run_batch(grid_job, DM, store=str(path), max_sites=8, progress=False)
    assert rep.lost_max == 0.0  # the store keeps the network's output: nothing is lost
    store = MapStore(path)
    assert store.kind == "coarse"
    for t in make_tiles(grid_job, max_sites=8):
        ref = compute_tile(t, DM, 0.0)  # the maps themselves, computed in this process
        for k, sid in enumerate(ref.site_ids):
            m = store.read_map(sid)
            assert m.window.left == ref.left[k] and m.window.bottom == ref.bottom[k]
            np.testing.assert_array_equal(m.prob, ref.dense(k))
            assert m.prob.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-5)
    # 120×120 float32 + a mask per BS instead of a 600×600 map: far smaller than the dense maps
    per_bs = store.bytes_on_disk() / len(store.sites)
    assert per_bs < 0.1 * 600 * 600 * 4, per_bs


def test_store_opens_in_xarray_as_labelled_maps(grid_job, tmp_path):
    import xarray as xr

    path = tmp_path / "v.zarr"
    run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    ds = xr.open_zarr(path)
    assert ds.sizes["site"] == 16 and ds["prob"].dims == ("site", "row", "col") and ds["mask"].dims == ("site", "row", "col")
    assert sorted(map(str, ds["site"].values)) == sorted(map(str, grid_job.deployment.site_ids))
    assert {"left", "bottom"} <= set(ds.coords) and "lost" in ds and "nnz" in ds
    store = MapStore(path)
    for sid in ("S0", "S7"):
        da = ds["prob"].sel(site=sid)
        np.testing.assert_array_equal(da.values, store.read_map(sid).prob)
        assert float(da.sum()) == pytest.approx(1.0, abs=1e-5)
        assert float(ds["left"].sel(site=sid)) == store.read_map(sid).window.left


def test_workers_write_their_rows_and_the_driver_only_commits(grid_job, tmp_path):
    """Two worker processes write the chunks; the results the driver receives carry no map data."""
    got, seen = [], []

    class Recording(ProcessExecutor):
        def imap_unordered(self, fn, args_list):
            for r in super().imap_unordered(fn, args_list):
                seen.append(r)
                yield r

    path = tmp_path / "w.zarr"
    ex = Recording(2)
    try:
        rep = run_batch(grid_job, VOR, store=str(path), executor=ex, max_sites=4, progress=False, consumer=None)
    finally:
        ex.close()
    ref = tmp_path / "ref.zarr"
    run_batch(grid_job, VOR, store=str(ref), max_sites=4, progress=False, consumer=got.append)
    assert rep.tiles_computed == len(got) == len(seen) and rep.nnz == sum(int(r.nnz.sum()) for r in got)
    assert all(r.idx.size == 0 and r.prob.size == 0 for r in seen)  # no map data reached the driver
    a, b = MapStore(path), MapStore(ref)
    for sid in a.sites:
        np.testing.assert_array_equal(a.read_map(sid).prob, b.read_map(sid).prob)


def test_export_geotiff_and_parquet(grid_job, tmp_path, capsys):
    import pandas as pd
    import rasterio

    from deepmend.cli import main

    path = tmp_path / "v.zarr"
    run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    ref = MapStore(path).read_map("S5")
    assert main(["export", str(path), "--site", "S5", "--out", str(tmp_path / "m.tif")]) in (0, None)
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.crs.to_epsg() == 2154 and src.transform == ref.window.transform
        band = src.read(1)
    np.testing.assert_array_equal(np.nan_to_num(band), ref.prob)  # north-up file and store
    assert main(["export", str(path), "--out", str(tmp_path / "all.parquet")]) in (0, None)
    df = pd.read_parquet(tmp_path / "all.parquet")
    assert set(df.site_id) == set(MapStore(path).sites)
    np.testing.assert_allclose(df.groupby("site_id").p.sum(), 1.0, atol=1e-5)
    s5 = df[df.site_id == "S5"]
    np.testing.assert_array_equal(ref.prob[s5.row.to_numpy(), s5.col.to_numpy()], s5.p.to_numpy())
    np.testing.assert_allclose(s5.x, ref.window.left + (s5.col + 0.5) * 100.0)
    np.testing.assert_allclose(s5.y, ref.window.bottom + (600 - s5.row - 0.5) * 100.0)  # row 0 = north
    # bad input: one line, exit 2
    assert main(["export", str(path), "--site", "nope", "--out", str(tmp_path / "x.tif")]) == 2
    assert "nope" in capsys.readouterr().err


def test_one_bs_is_found_by_its_hash_without_decoding_every_id(grid_job, tmp_path, monkeypatch):
    """A fresh reader finds a row through ``site_hash`` and one chunk of ``site``: the full id
    list is never decoded; an unknown id (even one whose hash collides) is refused."""
    from deepmend.engine import store as store_mod
    from deepmend.errors import InputError

    path = tmp_path / "v.zarr"
    run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    monkeypatch.setattr(MapStore, "sites", property(lambda self: pytest.fail("decoded every id")))
    store = MapStore(path)
    rows = {sid: store.row(sid) for sid in map(str, grid_job.deployment.site_ids)}
    assert sorted(rows.values()) == list(range(16))
    assert store.read_map("S5").site_id == "S5"
    assert store.row("S99") is None
    with pytest.raises(InputError, match="not in this store"):
        MapStore(path).read_map("S99")
    real = store_mod.site_hash  # every id hashes alike: the chunk of ``site`` decides
    monkeypatch.setattr(store_mod, "site_hash", lambda ids: np.zeros(len(list(ids)), np.uint64))
    fresh = MapStore(path)
    fresh.__dict__["_hashes"] = np.zeros(16, np.uint64)
    assert fresh.row("S5") == rows["S5"] and fresh.row("S99") is None
    assert real(["S5"])[0] == real(["S5"])[0] != real(["S6"])[0]
    monkeypatch.undo()
    kept = MapStore(path)  # a reader kept open indexes every id once, at its second read
    kept.read_map("S1")
    assert "row_of" not in kept.__dict__
    assert kept.read_map("S2").site_id == "S2" and kept.row_of["S2"] == rows["S2"]


def test_a_version_2_store_is_read_but_not_resumed(grid_job, tmp_path):
    """Stores of the previous layout (no ``site_hash``) still read; resuming one says why it is refused."""
    import zarr

    from deepmend.errors import InputError

    path = tmp_path / "old.zarr"
    run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    want = MapStore(path).read_map("S3").prob
    g = zarr.open_group(str(path), mode="a", use_consolidated=False)
    del g["site_hash"]
    settings = dict(g.attrs["settings"], layout=2)
    g.attrs.update({"format": "deepmend-map-store/2", "settings": settings})
    zarr.consolidate_metadata(str(path))
    old = MapStore(path)
    assert old._hashes is None
    np.testing.assert_array_equal(old.read_map("S3").prob, want)
    with pytest.raises(InputError, match=r"another deepmend version .*\(2 → 3\) \[layout\]"):
        run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
