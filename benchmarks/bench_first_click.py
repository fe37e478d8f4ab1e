"""What a user waits for on the first click of a city: cold and warm, per city, over real HTTP.

Starts ``deepmend serve --no-warmup`` on 127.0.0.1 with an EMPTY cache folder, then for each city
(country/city/operator) takes the site nearest the city's centre and measures, with httpx:

* click cold — the first click as the app makes it: the ground truth's and the model's maps requested
  at once (threads), time until both answered (the two panels). ``--metrics`` adds the metrics
  request; off by default because it starts VoronoiBoost's training in the background (the metrics
  say ``incomplete`` until it is done), which would load the machine during every later measurement;
  VoronoiBoost's first use is measured on its own at the end;
* GT cold   — within that click, the ground truth's own request: the scene, that BS's ground truth (simulator
  version 3's per-BS path: its window only) and the map;
* click warm — the same on a second site of the city right after (scene and ONNX session in memory; the
  ground truth of the whole city is still being fitted in the background, so this click takes the per-BS path
  too);
* city fit — how long after that the server's background fit of the city's ground truth ends (``/api/jobs``);
* click fitted — a third site once the city is fitted (every map of the city from the fitted simulator);
  ratio = cold / fitted, both measured in this run;
* CPU cold — the server's CPU time (user + system, its worker processes included, psutil) spent during the
  cold click: what the click costs whatever else the machine runs (the wall times depend on the machine's load).

Then VoronoiBoost's first use (``GET /api/map?model=voronoiboost`` on Lyon: training on the default
training scenes minus Lyon, their ground truths included) on the same server.

Run: .venv/bin/python benchmarks/bench_first_click.py [--model deepmend] [--cities FR/Lyon/Orange,FR/Paris/Orange]
Results: benchmarks/RESULTS.md § First click.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
CITIES = "FR/Lyon/Orange,FR/Rennes/Orange,FR/Orléans/Orange,FR/Marseille/Orange,FR/Paris/Orange,GB/Bristol/O2,IE/Dublin/mno_1"
TIMEOUT = 3600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _central_sites(base: str, scene: dict) -> list[str]:
    feats = httpx.get(f"{base}/api/sites", params=scene, timeout=TIMEOUT).json()["features"]
    props = [f["properties"] for f in feats]
    lon = sum(p["lon"] for p in props) / len(props)
    lat = sum(p["lat"] for p in props) / len(props)
    props.sort(key=lambda p: (p["lon"] - lon) ** 2 + (p["lat"] - lat) ** 2)
    return [str(p["site_id"]) for p in props[:3]]


def _wait_city_fit(base: str, scene: dict, timeout: float = 1800) -> float:
    """Seconds until /api/jobs lists no running job of ``scene`` (the background ground-truth fit)."""
    t0 = time.perf_counter()
    key = (scene["country"], scene["city"], scene["operator"])
    while time.perf_counter() - t0 < timeout:
        running = httpx.get(f"{base}/api/jobs", timeout=60).json()["running"]
        if not any((j["country"], j["city"], j["operator"]) == key for j in running):
            break
        time.sleep(0.5)
    return time.perf_counter() - t0


def _get(base: str, path: str, params: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = httpx.get(f"{base}{path}", params=params, timeout=TIMEOUT)
    dt = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"{path} {params}: HTTP {r.status_code} {r.text[:300]}")
    return dt, r.json()


def _click(base: str, scene: dict, site: str, model: str, metrics: bool) -> tuple[float, float, bool]:
    """(seconds until the ground truth's and the model's maps (and, with ``metrics``, the metrics) all
    answered; seconds of the ground truth's own request; metrics incomplete), requested at once as the app does."""
    q = {**scene, "site": site}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        futs = [pool.submit(_get, base, "/api/map", {**q, "model": "groundtruth"}),
                pool.submit(_get, base, "/api/map", {**q, "model": model})]
        if metrics:
            futs.append(pool.submit(_get, base, "/api/metrics", {**q, "model": model}))
        out = [f.result() for f in futs]
    return time.perf_counter() - t0, out[0][0], bool(metrics and out[2][1].get("incomplete"))


def _cpu_s(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of the server and its live children so far."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="deepmend")
    ap.add_argument("--cities", default=CITIES)
    ap.add_argument("--no-voronoiboost", action="store_true")
    ap.add_argument("--metrics", action="store_true",
                    help="also request the metrics in each click (they start VoronoiBoost's training in the background, "
                         "which then competes with every later measurement)")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="deepmend-bench-click-"))
    port = _free_port()
    exe = Path(sys.executable).with_name("deepmend")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "deepmend.cli"]),
           "serve", "--host", "127.0.0.1", "--port", str(port), "--no-warmup", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "DEEPMEND_CACHE_DIR": str(cache)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{base}/api/catalog", timeout=120).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        print(f"server start + catalog: {time.perf_counter() - t0:.1f} s (cache {cache})")
        server = psutil.Process(proc.pid)
        print("| city | operator | sites | GT of one BS, cold (s) | first click cold (s) | CPU cold (s) | second click (s) "
              "| city fit ends after (s) | click, city fitted (s) | cold / fitted |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for spec in args.cities.split(","):
            country, city, operator = spec.split("/")
            scene = {"country": country, "city": city, "operator": operator}
            sites = _central_sites(base, scene)
            n = len(httpx.get(f"{base}/api/sites", params=scene, timeout=TIMEOUT).json()["features"])
            c0 = _cpu_s(server)
            cold, gt_cold, inc = _click(base, scene, sites[0], args.model, args.metrics)
            cpu = _cpu_s(server) - c0
            warm, _, _ = _click(base, scene, sites[1], args.model, args.metrics)
            fit = _wait_city_fit(base, scene)
            fitted, _, _ = _click(base, scene, sites[2], args.model, args.metrics)
            print(f"| {city} | {operator} | {n} | {gt_cold:.1f} | {cold:.1f} | {cpu:.1f} | {warm:.2f} | {fit:.0f} | {fitted:.2f} "
                  f"| {cold / fitted:.0f}× |"
                  + (" (metrics incomplete: a baseline still training)" if inc else ""), flush=True)
        if not args.no_voronoiboost:
            scene = {"country": "FR", "city": "Lyon", "operator": "Orange"}
            site = _central_sites(base, scene)[0]
            dt, _ = _get(base, "/api/map", {**scene, "site": site, "model": "voronoiboost"})
            dt2, _ = _get(base, "/api/map", {**scene, "site": _central_sites(base, scene)[1], "model": "voronoiboost"})
            print(f"\nVoronoiBoost first use (Lyon/Orange, cold: training included): {dt:.1f} s; next map {dt2:.2f} s")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
