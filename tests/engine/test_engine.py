"""Batch engine: tiles equal one big Scene, the store resumes without recomputing, Dask = local."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.engine import ModelSpec, compute_tile, make_tiles, run_batch
from deepmend.engine.executors import DaskExecutor, SerialExecutor
from deepmend.engine.store import MapStore
from deepmend.errors import InputError
from deepmend.registry import make_model
from deepmend.scene import Scene

VOR = ModelSpec("voronoi")
PROB = ModelSpec("probabilistic", {"alpha": 1.3})


class Boom(RuntimeError):
    pass


def failing_task(tile, spec, floor, *args):
    """Fails on one tile: stands for a crash or a kill in the middle of a run."""
    if tile.tile_id == FAIL_ON[0]:
        raise Boom(tile.tile_id)
    return compute_tile(tile, spec, floor, *args)


FAIL_ON = [""]


def _maps(store: MapStore) -> dict[str, np.ndarray]:
    return {s: r.dense(k) for r in store.iter_tiles() for k, s in enumerate(r.site_ids)}


@pytest.mark.parametrize("spec", [VOR, PROB])
def test_tiles_equal_one_scene(grid_job, spec):
    tiles = make_tiles(grid_job, max_sites=4)
    assert len(tiles) >= 4 and sorted(s for t in tiles for s in t.site_ids) == sorted(grid_job.deployment.site_ids)
    whole = spec.build().fit(Scene(grid_job.deployment, grid_job.mask_region, grid_job.targets))
    for t in tiles[:3]:
        res = compute_tile(t, spec, 0.0)
        for k, sid in enumerate(res.site_ids):
            ref = whole.predict(sid)
            assert ref.window.left == res.left[k] and ref.window.bottom == res.bottom[k]
            np.testing.assert_array_equal(res.dense(k), ref.prob)
        assert np.all(res.lost == 0)


def test_floor_reports_lost_mass(grid_job):
    t = make_tiles(grid_job, max_sites=4)[0]
    res = compute_tile(t, PROB, 1e-2)
    kept = np.array([res.entries(k)[1].sum(dtype=np.float64) for k in range(len(res))])
    assert np.all(res.lost > 0)
    np.testing.assert_allclose(kept + res.lost, 1.0, atol=1e-5)
    assert res.idx.size < len(res) * 0.5 * 600 * 600  # sparse


def test_interrupted_batch_resumes_without_recomputing(grid_job, tmp_path):
    ref = tmp_path / "ref.zarr"
    run_batch(grid_job, VOR, store=str(ref), max_sites=4, progress=False)
    tiles = make_tiles(grid_job, max_sites=4)
    order = sorted(tiles, key=len, reverse=True)  # the runner's order
    FAIL_ON[0] = order[2].tile_id
    path = tmp_path / "run.zarr"
    with pytest.raises(Boom):
        run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False, task=failing_task)
    store = MapStore(path)
    done = store.done_tiles()
    assert done == {order[0].tile_id, order[1].tile_id}
    stamps = {p.name: p.stat().st_mtime_ns for p in (path / "manifest").glob("*.json")}
    rows = [r for t in done for r in store.manifest_entry(t)["rows"]]
    arrays = {p: p.stat().st_mtime_ns for r in rows for p in (path / "prob").glob(f"c.{r}.*") if p.is_file()}
    assert len(arrays) == len(rows)  # the done tiles' chunks exist (written by the workers)
    # a tile killed after its arrays but before its manifest entry is recomputed too
    store.remove_tile(order[3].tile_id)
    rep = run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    assert rep.tiles_resumed == 2 and rep.tiles_computed == len(tiles) - 2
    assert set(rep.computed_tiles).isdisjoint(done)
    assert {p.name: p.stat().st_mtime_ns for p in (path / "manifest").glob("*.json") if p.name in stamps} == stamps
    assert all(p.stat().st_mtime_ns == m for p, m in arrays.items())
    got, want = _maps(MapStore(path)), _maps(MapStore(ref))
    assert sorted(got) == sorted(want) == sorted(grid_job.deployment.site_ids)
    for s in want:
        np.testing.assert_array_equal(got[s], want[s])
    # a third run has nothing to do
    rep = run_batch(grid_job, VOR, store=str(path), max_sites=4, progress=False)
    assert rep.tiles_computed == 0 and rep.tiles_resumed == len(tiles)
    import pandas as pd

    man = pd.read_parquet(path / "manifest.parquet")
    assert len(man) == 16 and set(man.columns) >= {"site_id", "tile", "nnz", "lost_mass"}


def test_store_refuses_other_settings(grid_job, tmp_path):
    path = str(tmp_path / "s.zarr")
    run_batch(grid_job, VOR, store=path, max_sites=8, progress=False)
    with pytest.raises(InputError, match="other settings: another model or other model parameters"):
        run_batch(grid_job, PROB, store=path, max_sites=8, progress=False)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x").write_text("x")
    with pytest.raises(InputError, match="not a deepmend map store"):
        run_batch(grid_job, VOR, store=str(tmp_path / "junk"), progress=False)


def test_dask_local_cluster_equals_local(grid_job, tmp_path):
    from distributed import Client, LocalCluster

    from deepmend.geolocate import geolocate
    from deepmend.geolocate.values import ValueTable

    rng = np.random.default_rng(0)
    table = ValueTable(grid_job.deployment.site_ids.copy(), rng.uniform(0, 100, (16, 2)), ["a", "b"], "mem")
    local = geolocate(grid_job, table, PROB, tmp_path / "local.tif", executor=SerialExecutor(), floor=1e-4, max_sites=4, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp://", dashboard_address=None) as cluster, Client(cluster) as client:
        ex = DaskExecutor(client=client)
        dask = geolocate(grid_job, table, PROB, tmp_path / "dask.tif", executor=ex, floor=1e-4, max_sites=4, progress=False,
                         store=tmp_path / "dask.zarr")
    import rasterio

    with rasterio.open(local.out) as a, rasterio.open(dask.out) as b:
        assert a.count == b.count == 2 and a.transform == b.transform and a.crs == b.crs
        np.testing.assert_array_equal(a.read(), b.read())
    assert local.report["mass"]["lost_below_floor"] == pytest.approx(dask.report["mass"]["lost_below_floor"])


@pytest.mark.slow
def test_deepmend_model_through_engine(grid_job):
    """The shipped DeepMEND weights are tracked files: if they cannot be built this FAILS (it used to skip).

    Made to fail once by pointing ``DEFAULT_WEIGHTS`` at a missing file: make_model raised
    InputError "weights config not found" and the test failed.
    """
    make_model("deepmend")
    t = make_tiles(grid_job, max_sites=4)[0]
    res = compute_tile(t, ModelSpec("deepmend"), 1e-6)
    assert len(res) == len(t) and np.all(res.lost < 1e-3)
