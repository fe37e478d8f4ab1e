"""A real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (TCP),
a city through ``deepmend predict --scheduler tcp://…`` with the workers writing the store, and
the store identical to a local run. Every process is torn down, whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).with_name("dask"))
CITY = ["--country", "FR", "--city", "Orléans (2018)", "--operator", "Orange"]


def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    # own session: the worker's nanny and its child go down with one killpg
    return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    import zarr

    g = zarr.open_group(str(path), mode="r")
    return {name: np.asarray(g[name][:]) for name in ("site", "left", "bottom", "mask", "coarse", "lost", "nnz")}


@pytest.mark.slow
def test_two_dask_worker_processes_write_the_same_store_as_a_local_run(tmp_path):
    if not Path(DASK).exists():
        pytest.skip("the dask command is not installed beside this Python")
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1",
           "OMP_NUM_THREADS": "1", "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    sched_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    all_pids: list[int] = []
    try:
        procs.append(_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)], env, tmp_path / "scheduler.log"))
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "scheduler.log").read_text()
        for k in range(2):
            procs.append(_start([DASK, "worker", "--scheduler-file", str(sched_file), "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                                 "--no-dashboard", "--memory-limit", "0", "--name", f"w{k}"], env, tmp_path / f"worker{k}.log"))
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
        all_pids = [c.pid for p in procs for c in [psutil.Process(p.pid)] + psutil.Process(p.pid).children(recursive=True)]
        assert len(all_pids) >= 5  # scheduler + 2 × (nanny + worker)
        dist, local = tmp_path / "dist.zarr", tmp_path / "local.zarr"
        base = [sys.executable, "-m", "deepmend.cli", "predict", *CITY, "--model", "deepmend", "--all", "--max-sites-per-tile", "6"]
        out = subprocess.run(base + ["--store", str(dist), "--scheduler", address], env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        out = subprocess.run(base + ["--store", str(local), "--workers", "0"], env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        a, b = _arrays(dist), _arrays(local)
        assert len(a["site"]) >= 30
        for name in a:
            assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name
        # the two worker processes computed and wrote the tiles, not the driver
        import json

        wrote = {json.loads(f.read_text())["worker"] for f in (dist / "manifest").glob("*.json")}
        pids = {int(w.rsplit(":", 1)[1]) for w in wrote}
        assert len(pids) == 2 and pids <= set(all_pids), (wrote, all_pids)
    finally:
        _stop(procs)
    procs_left = []
    for pid in all_pids:
        try:
            procs_left.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs_left, timeout=20)  # a nanny's child may take a moment after its group's SIGTERM
    survivors = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in survivors:
        p.kill()
    assert not survivors, [p.cmdline() for p in survivors]
