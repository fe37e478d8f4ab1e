"""Benchmark of the ground-truth simulator on a whole city, and the docs gallery.

    .venv/bin/python benchmarks/bench_groundtruth.py [--city Lyon] [--operators all] [--write]
    .venv/bin/python benchmarks/bench_groundtruth.py --gallery docs/img/groundtruth_gallery.png
    .venv/bin/python benchmarks/bench_groundtruth.py --one-bs [--old /tmp/gt-old] [--cities FR/Lyon/Orange,...]

``--one-bs``: the ground truth of ONE BS from a cold cache (scene + model + map, what a first
click costs), per city, each in a fresh process (benchmarks/gt_one_bs.py) with an empty cache
folder: this checkout, and with ``--old DIR`` an older checkout too (e.g. ``git worktree add
/tmp/gt-old d711eda``, simulator version 2, which fitted the whole deployment first), old and
new of a city back to back. Prints wall time and the process's CPU time (every thread): on a
shared machine the CPU time ÷ 2 is the projection for 2 idle cores.

Times every operator of the city cold (no cache): per-deployment fit + every target's
map, in the worker processes the simulator uses; then one warm on-demand map (fit read
from the cache + one BS). Peak memory: max RSS of this process and of its workers
(``resource.getrusage``). ``--write`` puts the figures into this benchmark's own section
of benchmarks/RESULTS.md ("## Ground-truth simulator"), leaving the rest untouched.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Ground-truth simulator"


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def bench_city(country: str, city: str, operators: list[str] | None) -> dict:
    from deepmend.data.catalog import find_city
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.scene import Scene

    _, cty = find_city(country, city)
    ops = operators or [o["name"] for o in cty["operators"]]
    rows, t_all, n_all = [], time.perf_counter(), 0
    for op in ops:
        t0 = time.perf_counter()
        scene = Scene.from_catalog(country, city, op)
        scene.mask, scene.nearest  # noqa: B018 - shared rasters, counted in the scene time
        t_scene = time.perf_counter() - t0
        model = GroundTruthSimulator(use_cache=False)
        t1 = time.perf_counter()
        model.fit(scene)
        t_fit = time.perf_counter() - t1
        t2 = time.perf_counter()
        total = sum(float(m.prob.sum()) for m in model.predict_many())
        t_maps = time.perf_counter() - t2
        assert abs(total - len(scene.targets)) < 1e-2 * len(scene.targets)
        n = len(scene.deployment)
        n_all += len(scene.targets)
        rows.append({"operator": op, "sites": n, "targets": len(scene.targets), "scene_s": t_scene, "fit_s": t_fit, "maps_s": t_maps,
                     "per_map_ms": 1e3 * t_maps / max(len(scene.targets), 1)})
        print(rows[-1], flush=True)
    wall = time.perf_counter() - t_all
    # warm on-demand path: a new model object, per-deployment products from the disk cache
    scene = Scene.from_catalog(country, city, ops[0])
    GroundTruthSimulator().fit(scene)  # fills the cache
    t0 = time.perf_counter()
    warm = GroundTruthSimulator(n_jobs=1).fit(scene)
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    warm.predict(int(scene.targets[len(scene.targets) // 2]))
    t_one = time.perf_counter() - t1
    return {"city": f"{country}/{city}", "rows": rows, "wall_s": wall, "maps": n_all, "warm_load_s": t_load, "warm_one_s": t_one,
            "rss_self_mb": _rss_mb(resource.RUSAGE_SELF), "rss_children_mb": _rss_mb(resource.RUSAGE_CHILDREN), "cpus": os.cpu_count(),
            "load_end": os.getloadavg()[0]}


def markdown(res: dict) -> str:
    lines = [SECTION, "",
             f"`benchmarks/bench_groundtruth.py --city {res['city'].split('/')[1]} --write` on {res['cpus']} CPU cores; "
             f"1-min load average at the end of the run {res['load_end']:.1f} (≈ {res['cpus']} means this benchmark alone kept the cores busy; more means other jobs shared them). "
             "Cold run: no cache; every map computed (the simulator forks one worker per core).", "",
             "| operator | sites | maps | scene (s) | fit (s) | all maps (s) | per map (ms) |", "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['operator']} | {r['sites']} | {r['targets']} | {r['scene_s']:.1f} | {r['fit_s']:.1f} | {r['maps_s']:.1f} | {r['per_map_ms']:.0f} |")
    lines += ["", f"- **Whole city {res['city']}: {res['maps']} maps end to end in {res['wall_s'] / 60:.1f} min** (scene rasters + per-deployment fit + every map).",
              f"- On demand (cached per-deployment products): load {res['warm_load_s']:.2f} s once, then one BS's map in {res['warm_one_s']:.2f} s (1 process).",
              f"- Peak memory (max RSS): main process {res['rss_self_mb']:.0f} MB, largest worker {res['rss_children_mb']:.0f} MB.", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path = ROOT / "benchmarks" / "RESULTS.md") -> None:
    """Replace this benchmark's section (up to the next '## ' heading) or append it."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip() + "\n\n" + text + "\n"
    from deepmend.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(new)


def gallery(out: str) -> None:
    """One urban, one suburban and one rural BS of Lyon Orange on the published colour scale."""
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.render import figure
    from deepmend.scene import Scene

    scene = Scene.from_catalog("FR", "Lyon", "Orange")
    model = GroundTruthSimulator().fit(scene)
    maps, titles = [], []
    for area in ("urban", "suburban", "rural"):
        cand = [int(i) for i in scene.targets if model.area_of(int(i)) == area]
        if not cand:
            continue
        i = cand[len(cand) // 2]
        m = model.predict(i)
        maps.append(m)
        titles.append(f"{area} ({m.meta['site']['scenario']}, {m.meta['site']['height_m']:.0f} m)")
    figure(maps, titles, out, "Simulated ground truth P(ℓ | BS), Lyon Orange (sites: ANFR/Arcep; population: WorldPop 2020)")
    print(f"wrote {out}")


ONE_BS_CITIES = "FR/Lyon/Orange,FR/Orléans/Orange,FR/Marseille/Orange,FR/Paris/Orange,GB/Bristol/O2,IE/Dublin/mno_1"


def one_bs(cities: list[str], old: str | None) -> None:
    """Print a Markdown table: GT of one BS cold, old vs new, wall and CPU per city."""
    import json
    import subprocess
    import tempfile

    script = ROOT / "benchmarks" / "gt_one_bs.py"
    print("| city | operator | sites | old wall (s) | old CPU (s) | new wall (s) | new CPU (s) | new CPU ÷ 2 (s) | CPU ratio | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in cities:
        row = {}
        for tag, src in (("old", old), ("new", str(ROOT))):
            if src is None:
                continue
            with tempfile.TemporaryDirectory(prefix="gt-one-bs-") as cache:
                env = dict(os.environ, PYTHONPATH=src, DEEPMEND_CACHE_DIR=cache)
                env.setdefault("DEEPMEND_DATA_DIR", str((ROOT / ".." / "shared" / "data").resolve()))
                out = subprocess.run([sys.executable, str(script), spec], env=env, capture_output=True, text=True, check=True)
                row[tag] = json.loads(out.stdout.strip().splitlines()[-1])
        o, n = row.get("old"), row["new"]
        country, city, op = spec.split("/")
        cells = [city, op, f"{n['sites']:,}", f"{o['wall_s']:.1f}" if o else "–", f"{o['cpu_s']:.1f}" if o else "–",
                 f"{n['wall_s']:.1f}", f"{n['cpu_s']:.1f}", f"{n['cpu_s'] / 2:.1f}", f"{o['cpu_s'] / n['cpu_s']:.1f}×" if o else "–",
                 f"{os.getloadavg()[0]:.1f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--one-bs", action="store_true", help="ground truth of one BS from a cold cache, per city (old vs new with --old)")
    ap.add_argument("--old", help="an older checkout to compare with (--one-bs)")
    ap.add_argument("--cities", default=ONE_BS_CITIES, help="--one-bs: comma-separated COUNTRY/City/Operator")
    ap.add_argument("--country", default="FR")
    ap.add_argument("--city", default="Lyon")
    ap.add_argument("--operators", default="all", help="comma-separated, or 'all'")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    ap.add_argument("--gallery", help="write the docs gallery PNG here instead of benchmarking")
    a = ap.parse_args()
    if a.one_bs:
        one_bs(a.cities.split(","), a.old)
        return
    if a.gallery:
        gallery(a.gallery)
        return
    res = bench_city(a.country, a.city, None if a.operators == "all" else a.operators.split(","))
    text = markdown(res)
    print(text)
    if a.write:
        write_section(text)


if __name__ == "__main__":
    main()
