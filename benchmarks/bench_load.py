"""Load test: N concurrent clients against a real ``deepmend serve`` on 127.0.0.1.

The server is started without ``--host`` (so it must bind 127.0.0.1 by default: checked
with psutil) on a private cache directory with small cache limits
(``DEEPMEND_API_MAP_CACHE_MB``, ``DEEPMEND_API_MAX_SCENES``, ``DEEPMEND_API_MAX_MODELS``),
so that eviction runs during the test. Before the timed window the scene FR/Lyon/Orange
is resolved and voronoi and probabilistic are fitted once (the first fit of a scene takes
seconds; its time is reported separately). Then, for ``--duration`` seconds, each client
loops (bounded in time and in count) over a mix of

* ``GET /api/catalog`` (20 %), ``GET /api/sites`` (20 %),
* ``GET /api/map`` for a site and model (voronoi / probabilistic) not asked before (60 %:
  computed, written to the disk cache, possibly evicting), a quarter of them followed by
  the map's PNG.

Reported: requests, errors (any non-200 or transport error), throughput, p50/p95/p99 per
kind and overall, the server's RSS before/after/peak (sampled every 0.5 s) and the
on-disk map cache size vs its limit. Requests go to 127.0.0.1 only.

``--scenario cold-mixed`` (issue 18): the same server on a **fresh** cache and **no warm-up**:
3 cities (:data:`COLD_SCENES`) × every model the catalog lists as available (DeepMEND and the
ground truth included), so first fits, first ground-truth simulations and the DeepMEND session are
built under load. Each client loops over 20 % catalog, 10 % sites, 70 % maps of a random
(city, site, model). A 503 with ``Retry-After`` (a resource still being built when the request's
deadline, ``wait_s`` from its arrival, passed — for the request that started the build too) is counted as ``busy`` — the client waits ``min(Retry-After, 5)`` s and goes on — and
is not an error; any other non-200, a 503 without ``Retry-After`` or a transport error is. The
latency of the 503s is reported apart (``busy_503_latency_ms``), and the machine's load average at
start and end (``loadavg_start``/``loadavg_end``). RSS is that of the server and its children together.

Run: .venv/bin/python benchmarks/bench_load.py [--scenario warm|cold-mixed] [--clients 50] [--duration 60]
     [--cache-mb 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

SCENE = {"country": "FR", "city": "Lyon", "operator": "Orange"}
MODELS = ("voronoi", "probabilistic")
#: Cities of the cold, mixed scenario: a large, a small and a British one.
COLD_SCENES = ({"country": "FR", "city": "Lyon", "operator": "Orange"},
               {"country": "FR", "city": "Le Mans (2018)", "operator": "Orange"},
               {"country": "GB", "city": "Bristol", "operator": "O2"})
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))
    return round(xs[k], 1)


def dir_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) if d.exists() else 0


def start_server(port: int, cache: Path, cache_mb: int) -> subprocess.Popen:
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(cache), "DEEPMEND_API_MAP_CACHE_MB": str(cache_mb),
           "DEEPMEND_API_MAX_SCENES": "2", "DEEPMEND_API_MAX_MODELS": "4", "PYTHONUNBUFFERED": "1"}
    env.pop("DEEPMEND_CORS_ORIGINS", None)
    log = open(cache / "server.log", "w")
    # no --host: the default must be 127.0.0.1
    return subprocess.Popen([sys.executable, "-m", "deepmend.cli", "serve", "--port", str(port), "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parents[1]))


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/catalog", timeout=5).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready in time")


def listen_addresses(pid: int, port: int) -> list[str]:
    procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    out = []
    for p in procs:
        for c in p.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port:
                out.append(c.laddr.ip)
    return out


async def run_load(base: str, clients: int, duration: float, max_requests: int, site_ids: list[str], seed: int) -> dict:
    rng = random.Random(seed)
    todo = [(s, m) for s in site_ids for m in MODELS]
    rng.shuffle(todo)
    lat: dict[str, list[float]] = {k: [] for k in ("catalog", "sites", "map", "map.png")}
    errors: list[str] = []
    counts = {"requests": 0, "maps_uncached": 0, "maps_cached": 0}
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=120.0, limits=limits) as client:
        async def get(kind: str, url: str, params: dict | None = None) -> httpx.Response | None:
            t0 = time.perf_counter()
            try:
                r = await client.get(url, params=params)
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                return None
            lat[kind].append((time.perf_counter() - t0) * 1e3)
            counts["requests"] += 1
            if r.status_code != 200:
                errors.append(f"{kind}: HTTP {r.status_code} {r.text[:200]}")
                return None
            return r

        async def worker(k: int) -> None:
            wr = random.Random(seed * 1000 + k)
            while time.perf_counter() < deadline and counts["requests"] < max_requests:
                x = wr.random()
                if x < 0.2:
                    await get("catalog", "/api/catalog")
                elif x < 0.4:
                    await get("sites", "/api/sites", SCENE)
                else:
                    site, model = todo.pop() if todo else (wr.choice(site_ids), wr.choice(MODELS))
                    r = await get("map", "/api/map", {**SCENE, "site": site, "model": model})
                    if r is not None:
                        counts["maps_cached" if r.json().get("cached") else "maps_uncached"] += 1
                        if wr.random() < 0.25:
                            await get("map.png", r.json()["png"])

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    allx = [v for xs in lat.values() for v in xs]
    return {
        "clients": clients, "duration_s": round(wall, 2), **counts, "errors": len(errors), "error_samples": errors[:5],
        "throughput_rps": round(counts["requests"] / wall, 2),
        "latency_ms": {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99), "max": pct(v, 100)}
                       for k, v in {**lat, "all": allx}.items()},
    }


def tree_rss(ps: psutil.Process) -> int:
    """RSS of a process and its children (bytes)."""
    total = 0
    for p in [ps, *ps.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


async def run_cold_mixed(base: str, clients: int, duration: float, max_requests: int, seed: int) -> dict:
    """The cold, mixed load (module docstring): nothing is fitted or cached when it starts."""
    lat: dict[str, list[float]] = {k: [] for k in ("catalog", "sites", "map")}
    busy_ms: list[float] = []
    by_model: dict[str, list[float]] = {}
    errors: list[str] = []
    counts = {"requests": 0, "busy_503": 0, "maps_ok": 0}
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    sites: dict[int, list[str]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=300.0, limits=limits) as client:
        models = [m["name"] for m in (await client.get("/api/catalog")).json()["models"] if m.get("available", True)]

        async def get(kind: str, url: str, params: dict | None = None, model: str | None = None) -> httpx.Response | None:
            t0 = time.perf_counter()
            try:
                r = await client.get(url, params=params)
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                return None
            ms = (time.perf_counter() - t0) * 1e3
            counts["requests"] += 1
            if r.status_code == 503 and "retry-after" in r.headers:
                counts["busy_503"] += 1
                busy_ms.append(ms)
                await asyncio.sleep(min(float(r.headers["retry-after"]), 5.0))
                return None
            lat[kind].append(ms)
            if model:
                by_model.setdefault(model, []).append(ms)
            if r.status_code != 200:
                errors.append(f"{kind} {params}: HTTP {r.status_code} {r.text[:200]}")
                return None
            return r

        async def site_ids(i: int) -> list[str] | None:
            if i not in sites:
                r = await get("sites", "/api/sites", COLD_SCENES[i])
                if r is None:
                    return None
                sites[i] = [f["properties"]["site_id"] for f in r.json()["features"]]
            return sites[i]

        async def worker(k: int) -> None:
            wr = random.Random(seed * 1000 + k)
            while time.perf_counter() < deadline and counts["requests"] < max_requests:
                x = wr.random()
                i = wr.randrange(len(COLD_SCENES))
                if x < 0.2:
                    await get("catalog", "/api/catalog")
                elif x < 0.3:
                    await get("sites", "/api/sites", COLD_SCENES[i])
                else:
                    ids = await site_ids(i)
                    if ids:
                        m = wr.choice(models)
                        if await get("map", "/api/map", {**COLD_SCENES[i], "site": wr.choice(ids), "model": m}, model=m) is not None:
                            counts["maps_ok"] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    allx = [v for xs in lat.values() for v in xs]
    return {
        "clients": clients, "duration_s": round(wall, 2), "models": models, "scenes": list(COLD_SCENES), **counts,
        "errors": len(errors), "error_samples": errors[:8], "throughput_rps": round(counts["requests"] / wall, 2),
        "latency_ms": {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99), "max": pct(v, 100)}
                       for k, v in {**lat, "all": allx}.items()},
        "busy_503_latency_ms": {"n": len(busy_ms), "p50": pct(busy_ms, 50), "p99": pct(busy_ms, 99), "max": pct(busy_ms, 100)},
        "map_latency_ms_by_model": {m: {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99)} for m, v in sorted(by_model.items())},
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=["warm", "cold-mixed"], default="warm")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000, help="hard bound on the number of requests")
    ap.add_argument("--cache-mb", type=int, default=32, help="DEEPMEND_API_MAP_CACHE_MB of the server (small: eviction runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the results there")
    args = ap.parse_args(argv)

    out: dict = {"host": HOST, "scenario": args.scenario, "loadavg_start": [round(x, 1) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="deepmend-load-") as tmp:
        cache = Path(tmp)
        port = free_port()
        base = f"http://{HOST}:{port}"
        proc = start_server(port, cache, args.cache_mb)
        try:
            out["startup_s"] = round(wait_ready(base, proc), 2)
            out["listen"] = sorted(set(listen_addresses(proc.pid, port)))
            ps = psutil.Process(proc.pid)
            out["rss_mb_idle"] = round(ps.memory_info().rss / 2**20, 1)
            if args.scenario == "cold-mixed":
                out.update(cold_mixed(base, ps, args))
                out["server_alive"] = proc.poll() is None
                out["map_cache_mb"] = round(dir_bytes(cache / "maps") / 2**20, 1)
                return out
            # warm-up (outside the timed window): scene, then each model's first fit
            warm = {}
            t0 = time.perf_counter()
            feats = httpx.get(base + "/api/sites", params=SCENE, timeout=300).raise_for_status().json()["features"]
            warm["scene_s"] = round(time.perf_counter() - t0, 2)
            site_ids = [f["properties"]["site_id"] for f in feats]
            for m in MODELS:
                t0 = time.perf_counter()
                httpx.get(base + "/api/map", params={**SCENE, "site": site_ids[0], "model": m}, timeout=300).raise_for_status()
                warm[f"first_fit_{m}_s"] = round(time.perf_counter() - t0, 2)
            out["warmup"] = warm
            out["n_sites"] = len(site_ids)
            out["rss_mb_before"] = round(ps.memory_info().rss / 2**20, 1)

            peak = [ps.memory_info().rss]
            stop = False

            async def sample():
                while not stop:
                    try:
                        peak.append(ps.memory_info().rss)
                    except psutil.Error:
                        return
                    await asyncio.sleep(0.5)

            async def both():
                nonlocal stop
                s = asyncio.create_task(sample())
                try:
                    return await run_load(base, args.clients, args.duration, args.max_requests, site_ids[1:], args.seed)
                finally:
                    stop = True
                    await s

            out.update(asyncio.run(both()))
            out["rss_mb_after"] = round(ps.memory_info().rss / 2**20, 1)
            out["rss_mb_peak"] = round(max(peak) / 2**20, 1)
            out["rss_mb_every_5s"] = [round(v / 2**20) for v in peak[::10]]
            out["map_cache_mb"] = round(dir_bytes(cache / "maps") / 2**20, 1)
            out["map_cache_limit_mb"] = args.cache_mb
            out["server_alive"] = proc.poll() is None
        finally:
            t0 = time.perf_counter()
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out["stop_after_sigterm_s"] = round(time.perf_counter() - t0, 2)
            out["loadavg_end"] = [round(x, 1) for x in os.getloadavg()]
            out["server_log_tail"] = (cache / "server.log").read_text(errors="replace")[-2000:]
            if args.json:
                args.json.write_text(json.dumps(out, indent=1))
            print(json.dumps({k: v for k, v in out.items() if k != "server_log_tail"}, indent=1))
    return out


def cold_mixed(base: str, ps: psutil.Process, args) -> dict:
    peak = [tree_rss(ps)]
    stop = False

    async def sample():
        while not stop:
            peak.append(tree_rss(ps))
            await asyncio.sleep(0.5)

    async def both():
        nonlocal stop
        s = asyncio.create_task(sample())
        try:
            return await run_cold_mixed(base, args.clients, args.duration, args.max_requests, args.seed)
        finally:
            stop = True
            await s

    res = asyncio.run(both())
    res["rss_mb_before"] = round(peak[0] / 2**20, 1)
    res["rss_mb_after"] = round(tree_rss(ps) / 2**20, 1)
    res["rss_mb_peak"] = round(max(peak) / 2**20, 1)
    res["rss_mb_every_10s"] = [round(v / 2**20) for v in peak[::20]]
    return res


if __name__ == "__main__":
    res = main()
    sys.exit(1 if res.get("errors") or not res.get("server_alive") else 0)
