"""The whole-country measurement, in one go, for an idle machine: France's Orange sites (Arcep 2018).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_country.py            # ≈ 5–8 min on 2 idle cores
    PYTHONPATH=. .venv/bin/python benchmarks/bench_country.py --limit 300   # a quick check of the script (≈ 2 min)

Runs, each in its own process and from an empty store (``benchmarks/bench_engine.py``):
Voronoi with 2 worker processes, Voronoi with 1, DeepMEND with 2 — each followed by 20
one-BS reads from a fresh reader and 20 from a reader kept open (wall and CPU time). Prints
each run's JSON as it finishes, then a Markdown fragment in the format of
benchmarks/RESULTS.md § Whole country (plus the 1 → 2 worker scaling of Voronoi and the
total time). The load average at the start and end of each run is part of the table: the
figures mean "idle" only if it stays well below the number of cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = (("voronoi", 2), ("voronoi", 1), ("deepmend", 2))


def fmt_row(r: dict) -> str:
    n, n_all = r["sites"], r["n_all"]
    cpu = r["ms_per_bs_cpu"]
    proj = n_all * cpu / 1e3 / min(r["workers"], r.get("cpu_count") or r["workers"]) + r["driver_cpu_s"]  # the driver's cost is mostly fixed
    scope = f"{n:,} ({r['tiles']})" if n == n_all else f"{n:,} nearest Lyon ({r['tiles']}); wall projected to {n_all:,}: {r['projected_full_s']:.0f} s"
    store = f"{r['store_mb']:,.1f} MiB" + ("" if n == n_all else f" → {r['projected_country_store_gib']:.2f} GiB for the country")
    reads = (f"{r['read_ms_median']} / {r['read_ms_max']} ms (CPU {r['read_cpu_ms_median']} / {r['read_cpu_ms_max']}); "
             f"open reader {r['open_read_ms_median']} / {r['open_read_ms_max']} ms (CPU {r['open_read_cpu_ms_median']})")
    return (f"| {r['model']} | {r['workers']} | {scope} | **{r['wall_s']:,.1f} s = {r['wall_s'] / 60:.2f} min** "
            f"(+ {r.get('warm_up_s', 0)} s worker start-up; load {r['load_avg_start']} → {r['load_avg_1min']}) | {cpu} ms | {r['driver_cpu_s']} s | ≈ {proj / 60:.1f} min "
            f"({n_all:,} × {cpu} ms ÷ {r['workers']} + driver) | {store} | {r['store_kb_per_bs']} KiB | {r['lost_max']:.3g} | {reads} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="only the N targets nearest Lyon (a check of the script; times are projected)")
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-country-") as tmp:
        out = Path(tmp) / "rows.jsonl"
        for model, workers in RUNS:
            cmd = [sys.executable, str(here / "bench_engine.py"), "--model", model, "--workers", str(workers), "--json", str(out)]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True, env=os.environ.copy())
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    total = time.perf_counter() - t0
    print()
    print(f"### Whole country, measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
          f"(`benchmarks/bench_country.py`{' --limit ' + str(args.limit) if args.limit else ''}, total {total / 60:.1f} min)")
    print()
    print("| model | workers | BSs (tiles) | wall, from the first task to the finalized store (+ worker start-up; load avg start → end) | CPU per BS (workers) | driver CPU | projected, 2 idle cores | store | per BS | lost mass (max) | read one BS: fresh reader median / max (CPU); open reader |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(fmt_row(r))
    v = {r["workers"]: r for r in rows if r["model"] == "voronoi"}
    if 1 in v and 2 in v:
        print()
        print(f"Voronoi, 1 → 2 worker processes: wall {v[1]['wall_s']:.1f} s → {v[2]['wall_s']:.1f} s, "
              f"**{v[1]['wall_s'] / v[2]['wall_s']:.2f}×**; CPU per BS {v[1]['ms_per_bs_cpu']} → {v[2]['ms_per_bs_cpu']} ms.")
    print(f"\nTotal time of the measurement: {total:.0f} s = {total / 60:.1f} min.")


if __name__ == "__main__":
    main()
