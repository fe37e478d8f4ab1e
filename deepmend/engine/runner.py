"""Drive a batch: tiles → executor → store and/or a consumer, with progress and resume.

The driver fixes every target's row of the store before the run and only keeps the
manifest: the workers write their tiles' maps into the store themselves, so the driver
is not a bound on throughput (a task returns a few numbers per BS). With a consumer
(geolocation), the sparse maps also come back, one tile at a time, and the executor
keeps at most a few tasks in flight, so peak memory is a few tiles' maps whatever the
size of the country.

Resume: tiles whose manifest entry exists in the store are not recomputed; when a
consumer (e.g. a density raster) needs them, they are read back from the store.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from deepmend.engine.executors import Executor, SerialExecutor
from deepmend.engine.job import Job
from deepmend.engine.store import LAYOUT, MapStore
from deepmend.engine.tasks import ModelSpec, TileResult, compute_tile
from deepmend.engine.tiles import DEFAULT_MARGIN_M, DEFAULT_MAX_SITES, make_tiles


@dataclass
class BatchReport:
    """What a run did: counts, timings and the floor's lost mass."""

    n_tiles: int = 0
    n_sites: int = 0
    tiles_computed: int = 0
    tiles_resumed: int = 0
    sites_computed: int = 0
    nnz: int = 0
    lost_max: float = 0.0
    lost_sum: float = 0.0
    seconds: float = 0.0
    task_seconds: float = 0.0
    fit_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    computed_tiles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The report as a JSON-ready dict (without the list of computed tiles)."""
        d = dict(self.__dict__)
        d.pop("computed_tiles")
        return d


def settings_for(job: Job, spec: ModelSpec, floor: float, max_sites: int, margin_m: float) -> dict:
    """What a store's maps depend on; a resumed run must match it."""
    from deepmend.grid.map_dir import deployment_digest, region_digest  # content hashes: a moved site or another region is a change

    out = {"job": job.name, "crs": job.crs, "n_targets": int(len(job.targets)), "model": spec.as_dict(), "floor": float(floor),
           "max_sites_per_tile": int(max_sites), "margin_m": float(margin_m), "layout": LAYOUT,
           "deployment_sha256": deployment_digest(job.deployment), "region_sha256": region_digest(job.mask_region)}
    if spec.name == "deepmend":  # the weights file may be replaced under the same name: its checksum decides
        from deepmend.models.deepmend import declared_checksum

        out["weights_sha256"] = declared_checksum(spec.params.get("weights"))
    return out


def open_store(path, job: Job, spec: ModelSpec, floor: float, max_sites: int, margin_m: float, tiles) -> MapStore:
    """Create (or reopen to resume) the store with one row per target in tile order."""
    from deepmend.grid.lattice import Window

    sites, left, bottom = [], [], []
    dep = job.deployment
    for t in tiles:
        sites.extend(t.site_ids)
        for i in t.targets:
            w = Window.around(float(t.deployment.x[i]), float(t.deployment.y[i]), dep.crs)
            left.append(w.left)
            bottom.append(w.bottom)
    kind, post = "map", {}
    if spec.name == "deepmend":  # stores the network's coarse output (exact, 25× smaller than the map)
        from deepmend.models.deepmend import load_network

        _, cfg, _ = load_network(spec.params.get("weights"))
        kind, post = "coarse", {"factor": int(cfg["factor"]), "head": str(cfg["loss"])}
    aliases = {m: str(dep.site_ids[i]) for i in np.asarray(job.targets, dtype=int) for m in dep.members[i] if str(m) != str(dep.site_ids[i])}
    return MapStore(path, settings_for(job, spec, floor, max_sites, margin_m), sites=sites, left=np.asarray(left), bottom=np.asarray(bottom), kind=kind, post=post,
                    tiles=[(t.tile_id, len(t)) for t in tiles], aliases=aliases)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its finished children (MiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def run_batch(
    job: Job,
    spec: ModelSpec,
    *,
    store: MapStore | str | None = None,
    executor: Executor | None = None,
    floor: float = 1e-6,
    max_sites: int = DEFAULT_MAX_SITES,
    margin_m: float = DEFAULT_MARGIN_M,
    consumer: Callable[[TileResult], None] | None = None,
    progress: bool = True,
    task: Callable[..., TileResult] = compute_tile,
) -> BatchReport:
    """Compute (or resume) every target's map; store it and/or pass it to ``consumer``."""
    from deepmend.log import progress as tqdm

    t0 = time.perf_counter()
    executor = executor or SerialExecutor()
    tiles = make_tiles(job, max_sites=max_sites, margin_m=margin_m)
    rows_of: dict[str, list[int]] = {}
    sites: list[str] = []
    for t in tiles:
        rows_of[t.tile_id] = list(range(len(sites), len(sites) + len(t)))
        sites.extend(t.site_ids)
    if store is not None and not isinstance(store, MapStore):
        store = open_store(store, job, spec, floor, max_sites, margin_m, tiles)
    if store is not None:  # a resumed store keeps its rows: the list's rows may come in another order now
        row_of = store.row_of
        if any(row_of.get(s) != k for k, s in enumerate(sites)):
            rows_of = {t.tile_id: [row_of[s] for s in t.site_ids] for t in tiles}
    done = store.done_tiles() if store is not None else set()
    todo = [t for t in tiles if t.tile_id not in done]
    resumed = [t for t in tiles if t.tile_id in done]
    rep = BatchReport(n_tiles=len(tiles), n_sites=sum(len(t) for t in tiles), tiles_resumed=len(resumed))
    bar = tqdm(total=rep.n_sites, initial=sum(len(t) for t in resumed), unit="BS", desc=f"{spec.name} maps", disable=not progress, smoothing=0.05)

    def account(res: TileResult) -> None:
        rep.nnz += int(res.nnz.sum())
        if len(res):
            rep.lost_max = max(rep.lost_max, float(res.lost.max()))
            rep.lost_sum += float(res.lost.sum())

    try:
        if consumer is not None:
            for t in resumed:
                res = store.read(t.tile_id)  # type: ignore[union-attr]
                account(res)
                consumer(res)
        else:
            for t in resumed:
                e = store.manifest_entry(t.tile_id)  # type: ignore[union-attr]
                rep.nnz += int(np.sum(e["nnz"]))
                if e["lost"]:
                    rep.lost_max = max(rep.lost_max, float(np.max(e["lost"])))
                    rep.lost_sum += float(np.sum(e["lost"]))
        # largest tiles first: the pool's tail is short
        todo.sort(key=len, reverse=True)
        root = str(store.path.resolve()) if store is not None else None  # workers may run elsewhere (another cwd, another machine)
        want = consumer is not None or store is None
        args = [(t, spec, floor, root, rows_of[t.tile_id] if root else None, want) for t in todo]
        for res in executor.imap_unordered(task, args):
            if store is not None:
                store.commit(res, rows_of[res.tile_id])
            account(res)
            if consumer is not None:
                consumer(res)
            rep.tiles_computed += 1
            rep.sites_computed += len(res)
            rep.task_seconds += res.seconds
            rep.fit_seconds += res.fit_seconds
            rep.cpu_seconds += res.cpu_seconds
            rep.computed_tiles.append(res.tile_id)
            bar.update(len(res))
    finally:
        bar.close()
    if store is not None:
        store.finalize()
    rep.seconds = time.perf_counter() - t0
    rep.peak_rss_mb = peak_rss_mb()
    return rep
