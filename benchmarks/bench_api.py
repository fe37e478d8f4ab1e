"""API latency: an uncached vs a cached map request (FR/Lyon/Orange), in-process and over real HTTP.

For each model the scene is resolved and the model fitted once (a warm-up request on
another site), so that "uncached" measures what a user waits for on a site nobody asked
for yet: the map computed, written to the on-disk cache and rendered. Then:

* uncached — first ``GET /api/map.png`` of a site (compute + write .npz + PNG);
* cached   — the same request again (in-memory LRU);
* disk     — the same request on a fresh service on the same cache dir (restart: .npz read + PNG),
  in-process only.

Clients: the in-process ASGI client (fastapi.testclient) and a real ``deepmend serve``
(uvicorn) on 127.0.0.1 driven with httpx. Medians over ``--sites`` sites; ratio = uncached / cached.
A private cache directory is used, so nothing is shared with earlier runs.

Also printed: the cached ``/api/map.png`` of DeepMEND over that of Voronoi, both measured
in this run (the API's cache key comes from the model's parameters, so a cached DeepMEND
map must cost about what a cached Voronoi map costs: no model is built; target ≤ 2×).

Run: .venv/bin/python benchmarks/bench_api.py [--sites 20] [--no-http]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SCENE = {"country": "FR", "city": "Lyon", "operator": "Orange"}
MODELS = ("voronoi", "probabilistic", "deepmend")
LOCAL = "http://127.0.0.1"  # the in-process client's base URL: a Host the API's guard (api/security.py) accepts


def timed(get, url: str, params: dict) -> float:
    t0 = time.perf_counter()
    r = get(url, params=params)
    dt = (time.perf_counter() - t0) * 1e3
    assert r.status_code == 200, r.text
    return dt


def run(get, site_ids: list[str], label: str, fresh_get=None) -> list[dict]:
    rows = []
    for model in MODELS:
        timed(get, "/api/map.png", {**SCENE, "site": site_ids[0], "model": model})  # fit once
        unc, hit, disk = [], [], []
        for s in site_ids[1:]:
            p = {**SCENE, "site": s, "model": model}
            unc.append(timed(get, "/api/map.png", p))
            hit.append(min(timed(get, "/api/map.png", p) for _ in range(3)))
        if fresh_get is not None:
            fg = fresh_get()
            timed(fg, "/api/map.png", {**SCENE, "site": site_ids[0], "model": model})  # scene warm, no fit needed
            disk = [timed(fg, "/api/map.png", {**SCENE, "site": s, "model": model}) for s in site_ids[1:]]
        row = {"client": label, "model": model, "n": len(unc), "uncached_ms": statistics.median(unc),
               "cached_ms": statistics.median(hit), "disk_ms": statistics.median(disk) if disk else None}
        row["ratio"] = row["uncached_ms"] / row["cached_ms"]
        rows.append(row)
        print(f"{label:<10} {model:<14} n={row['n']:<3} uncached {row['uncached_ms']:8.1f} ms   cached {row['cached_ms']:6.2f} ms   "
              f"{'disk ' + format(row['disk_ms'], '6.1f') + ' ms   ' if disk else ''}ratio {row['ratio']:6.1f}×", flush=True)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--no-http", action="store_true", help="skip the real uvicorn server")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="deepmend-bench-api-") as tmp:
        os.environ["DEEPMEND_CACHE_DIR"] = str(Path(tmp) / "inproc")
        from fastapi.testclient import TestClient

        from deepmend.api.app import create_app

        client = TestClient(create_app(static_dir=Path(tmp) / "none"), base_url=LOCAL)  # a Host the API's guard accepts
        t0 = time.perf_counter()
        feats = client.get("/api/sites", params=SCENE).json()["features"]
        print(f"catalog + scene: {time.perf_counter() - t0:.2f} s; {len(feats)} sites")
        ids = [f["properties"]["site_id"] for f in feats[:: max(1, len(feats) // (args.sites + 1))]][: args.sites + 1]
        rows = run(client.get, ids, "in-process", fresh_get=lambda: TestClient(create_app(static_dir=Path(tmp) / "none"), base_url=LOCAL).get)

        if not args.no_http:
            port = free_port()
            env = {**os.environ, "DEEPMEND_CACHE_DIR": str(Path(tmp) / "http")}
            exe = Path(sys.executable).with_name("deepmend")
            proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--log-level", "warning"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
                    for _ in range(600):
                        try:
                            if http.get("/api/catalog").status_code == 200:
                                break
                        except httpx.HTTPError:
                            time.sleep(0.2)
                    rows += run(http.get, ids, "uvicorn")
            finally:
                proc.terminate()
                proc.wait(10)

    for label in dict.fromkeys(r["client"] for r in rows):
        by = {r["model"]: r for r in rows if r["client"] == label}
        if "deepmend" in by and "voronoi" in by:
            print(f"{label}: cached /api/map.png DeepMEND / Voronoi = {by['deepmend']['cached_ms'] / by['voronoi']['cached_ms']:.2f}× "
                  f"({by['deepmend']['cached_ms']:.2f} ms vs {by['voronoi']['cached_ms']:.2f} ms)")
    print("\n| client | model | sites | uncached ms (median) | cached ms (median) | from disk after restart ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        disk = f"{r['disk_ms']:.1f}" if r["disk_ms"] is not None else "—"
        print(f"| {r['client']} | {r['model']} | {r['n']} | {r['uncached_ms']:.1f} | {r['cached_ms']:.2f} | {disk} | {r['ratio']:.0f}× |")


if __name__ == "__main__":
    main()
