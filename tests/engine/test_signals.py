"""SIGTERM/SIGINT on ``predict --store``: the workers stop with the driver, no temporary file
stays behind, and the rerun cleans a killed run's stale temporaries and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def inputs(tmp_path):
    rows = ["site_id,lat,lon"] + [f"K{k},{45.70 + 0.02 * (k // 4) + 0.003 * (k % 2):.5f},{4.78 + 0.03 * (k % 4) + 0.002 * ((k // 4) % 3):.5f}" for k in range(24)]
    (tmp_path / "sites.csv").write_text("\n".join(rows) + "\n")
    ring = [[4.70, 45.65], [5.00, 45.65], [5.00, 45.88], [4.70, 45.88], [4.70, 45.65]]
    (tmp_path / "region.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    return tmp_path


def _cmd(d: Path, store: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "deepmend.cli", "predict", "--sites", str(d / "sites.csv"), "--region", str(d / "region.geojson"),
            "--model", "probabilistic", "--all", "--store", str(store), "--workers", str(workers), "--max-sites-per-tile", "2"]


def _temporaries(path: Path) -> list[Path]:
    return list(path.rglob(".*.part")) + list(path.rglob("*.partial"))


@pytest.mark.parametrize("sig", [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, marks=pytest.mark.slow, id="SIGINT")])
def test_signal_stops_workers_and_leaves_no_temporaries(inputs, tmp_path, sig):
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    store = tmp_path / "s.zarr"
    proc = subprocess.Popen(_cmd(inputs, store, 2), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:  # wait until both workers run and a tile is done
            children = me.children(recursive=True)
            if len(children) >= 2 and len(list((store / "manifest").glob("*.json"))) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before the signal"
        children = me.children(recursive=True)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            for p in children:  # a failing run must not leave its workers behind either
                if p.is_running():
                    p.kill()
    _, alive = psutil.wait_procs(children, timeout=10)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:  # never leave them behind, even when the check fails
        p.kill()
    assert not alive, [p.cmdline() for p in alive]
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err, err
    assert not _temporaries(store)
    # a killed run's stale temporaries are removed by the rerun, which resumes and finishes
    (store / "manifest" / ".t0.abc.json.part").write_text("{")
    (store / "prob" / "c.0.0.0.deadbeef.partial").write_bytes(b"x")
    done = len(list((store / "manifest").glob("[!.]*.json")))
    out = subprocess.run(_cmd(inputs, store, 0), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{done} tiles resumed" in out.stdout, out.stdout
    assert not _temporaries(store)
