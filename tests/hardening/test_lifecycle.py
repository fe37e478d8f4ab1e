"""``deepmend serve`` stops on SIGTERM / SIGINT within 10 s, with every child process.

A real server subprocess on a free 127.0.0.1 port and a private cache dir. In the SIGTERM test
a first ground-truth request starts the simulator's fit (minutes of work in worker threads,
in worker processes before the concurrency rework); the signal is sent while it runs: the
server must not wait for the fit, and no child may survive it (deepmend/api/lifecycle.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "deepmend.cli", "serve", "--port", str(port), "--log-level", "info"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {(tmp_path / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(base + "/api/catalog", timeout=5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("server did not start")


def _stops_within(proc: subprocess.Popen, kids: list[psutil.Process], sig: int, tmp_path: Path, limit_s: float = 10.0) -> None:
    proc.send_signal(sig)
    t0 = time.monotonic()
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"server still running {limit_s:g} s after {signal.Signals(sig).name}")
    _, alive = psutil.wait_procs(kids, timeout=max(0.1, limit_s - (time.monotonic() - t0)))
    survivors = [p.pid for p in alive]
    for p in alive:
        p.kill()
    assert not survivors, f"child process(es) {survivors} survived {signal.Signals(sig).name}: {(tmp_path / 'server.log').read_text()[-2000:]}"


@pytest.mark.slow
def test_sigterm_during_a_fit_stops_server_and_children(tmp_path):
    proc, base = _start(tmp_path)
    server = psutil.Process(proc.pid)
    sites = httpx.get(base + "/api/sites", params={"country": "FR", "city": "Lyon", "operator": "Orange"}, timeout=60).json()
    site = sites["features"][0]["properties"]["site_id"]
    answer: dict = {}

    def first_ground_truth():
        try:
            answer["r"] = httpx.get(base + "/api/map", params={"country": "FR", "city": "Lyon", "operator": "Orange",
                                                               "site": site, "model": "groundtruth"}, timeout=120)
        except httpx.HTTPError as exc:
            answer["exc"] = exc

    idle_threads = server.num_threads()
    t = threading.Thread(target=first_ground_truth, daemon=True)
    t.start()
    kids: list[psutil.Process] = []
    busy = False
    for _ in range(300):  # the fit prepares the scene, then runs its worker threads (or processes)
        kids = server.children(recursive=True)
        busy = server.num_threads() >= idle_threads + 2
        if kids or busy or not t.is_alive():
            break
        time.sleep(0.2)
    assert t.is_alive() and (kids or busy), "the ground-truth fit was not running when the signal was to be sent"
    if not kids:  # fits run in threads today: the stop must not wait for them; children are checked when any exist
        warnings.warn("the ground-truth fit runs no worker process: no children to check", stacklevel=1)
    _stops_within(proc, kids, signal.SIGTERM, tmp_path)
    t.join(30)
    if "r" in answer:  # the request in flight is answered (503 JSON) or the connection is closed
        assert answer["r"].status_code in (200, 503) and answer["r"].headers["content-type"] == "application/json"


def test_sigint_stops_an_idle_server(tmp_path):
    proc, _ = _start(tmp_path)
    kids = psutil.Process(proc.pid).children(recursive=True)
    _stops_within(proc, kids, signal.SIGINT, tmp_path)
    assert proc.returncode == 0
