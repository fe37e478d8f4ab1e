"""SIGTERM on ``geolocate``: its workers stop with it, no output or temporary file is left, exit 128 + signal.

Made to fail once by removing the ``interruptible()`` block in deepmend/geolocate/cli.py: the process then
died of the signal (return code -15) without its clean-up or the "interrupted" line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_stops_geolocate_and_its_workers_and_leaves_no_output(tmp_path):
    rows = ["site_id,lat,lon"] + [f"K{k},{45.70 + 0.02 * (k // 4) + 0.003 * (k % 2):.5f},{4.78 + 0.03 * (k % 4) + 0.002 * ((k // 4) % 3):.5f}" for k in range(24)]
    (tmp_path / "sites.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "values.csv").write_text("site_id,devices\n" + "".join(f"K{k},{100 + k}\n" for k in range(24)))
    ring = [[4.70, 45.65], [5.00, 45.65], [5.00, 45.88], [4.70, 45.88], [4.70, 45.65]]
    (tmp_path / "region.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "deepmend.cli", "geolocate", "--values", str(tmp_path / "values.csv"), "--sites", str(tmp_path / "sites.csv"),
           "--region", str(tmp_path / "region.geojson"), "--model", "probabilistic", "--out", str(out_dir / "density.tif"),
           "--workers", "2", "--max-sites-per-tile", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:  # wait until both workers run
            children = me.children(recursive=True)
            if len(children) >= 2:
                break
            time.sleep(0.05)
        time.sleep(1.0)  # let the workers start on their tiles
        assert proc.poll() is None, "the run finished before the signal"
        children = me.children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:  # never leave them behind, even when the check fails
        p.kill()
    assert not alive, [p.cmdline() for p in alive]
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err, err
    assert list(out_dir.iterdir()) == [], list(out_dir.iterdir())  # no half-written raster, report or temporary
