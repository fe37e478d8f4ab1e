"""The unit of work: one tile → its targets' maps, written to the store by the worker itself.

:func:`compute_tile` is a pure, module-level function of picklable arguments, so the
same code runs in-process, in a process pool and on Dask workers. With a store it writes
the tile's rows (one chunk per BS, rows fixed by the driver before the run) and returns
only a summary, so the driver never touches map data and throughput grows with workers;
the worker needs the store's path (a shared file system or an fsspec URL, see
docs/SCALING.md). Without a store, or when the caller consumes the maps (geolocation),
the sparse maps come back in the :class:`TileResult`.

Sparse maps: a 600×600 map is kept where P ≥ ``floor``·max(P) (``floor`` = 0 keeps every
non-zero cell) — the one meaning of ``--floor`` in the project. The dropped probability,
``lost`` = Σ of the cells below the floor, is returned per BS and stored: a density made
from stored maps carries exactly Σ_i v_i·(1 − lost_i), and the report says so. Voronoi
maps are uniform, so any floor < 1 loses nothing. DeepMEND's store keeps the network's
coarse output instead (exact; see :mod:`deepmend.engine.store`).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

import numpy as np

from deepmend.engine.tiles import Tile
from deepmend.grid.lattice import WINDOW_CELLS


@dataclass(frozen=True)
class ModelSpec:
    """A model by name and parameters: what travels to a worker instead of a fitted model."""

    name: str
    params: dict = field(default_factory=dict)

    def build(self):
        """The model, built, validated and prepared by the registry (``registry.make_model``), in the worker.

        Raises
        ------
        NotFoundError, ParameterError, InputError
            Unknown model, bad parameter value, unusable weights file (from the registry).
        """
        from deepmend.registry import make_model

        return make_model(self.name, **self.params)

    def as_dict(self) -> dict:
        return {"name": self.name, "params": {k: v for k, v in sorted(self.params.items()) if v is not None}}


@dataclass
class TileResult:
    """Sparse maps of a tile's BSs in CSR form: BS k owns entries ``ptr[k]:ptr[k+1]``.

    ``idx`` is the flat cell index r·600 + c inside the BS's own north-up window (row 0 = north, as DiffusionMap.prob),
    ascending; ``left``/``bottom`` place the window on the national lattice.
    """

    tile_id: str
    site_ids: list[str]
    left: np.ndarray  # float64 (n,)
    bottom: np.ndarray  # float64 (n,)
    ptr: np.ndarray  # int64 (n+1,)
    idx: np.ndarray  # uint32 (nnz,)
    prob: np.ndarray  # float32 (nnz,)
    lost: np.ndarray  # float64 (n,) probability below the floor
    seconds: float = 0.0
    fit_seconds: float = 0.0
    size: int = WINDOW_CELLS
    res: float = 100.0
    cpu_seconds: float = 0.0  # CPU time of the task (all threads): contention-free cost
    counts: np.ndarray | None = None  # cells kept per BS when the maps went to the store instead of ``idx``/``prob``
    worker: str = ""  # host:pid of the process that computed (and wrote) the tile

    @property
    def nnz(self) -> np.ndarray:
        """Cells kept per BS (int64 (n,))."""
        return np.asarray(self.counts, dtype=np.int64) if self.counts is not None else np.diff(self.ptr)

    def __len__(self) -> int:
        return len(self.site_ids)

    def entries(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(flat cell indices, probabilities) of BS ``k``: its CSR slice, indices ascending in its north-up window."""
        a, b = int(self.ptr[k]), int(self.ptr[k + 1])
        return self.idx[a:b], self.prob[a:b]

    def dense(self, k: int) -> np.ndarray:
        """BS k's map as a dense (600, 600) float32 array (zeros below the floor)."""
        out = np.zeros(self.size * self.size, dtype=np.float32)
        i, p = self.entries(k)
        out[i] = p
        return out.reshape(self.size, self.size)


def sparsify(prob: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(flat indices, values, lost mass) of a map kept above ``floor``·max."""
    flat = prob.ravel()
    top = float(flat.max()) if flat.size else 0.0
    keep = flat > 0 if floor <= 0 or top <= 0 else flat >= np.float32(floor * top)
    idx = np.flatnonzero(keep).astype(np.uint32)
    lost = float(flat.sum(dtype=np.float64) - flat[idx].sum(dtype=np.float64)) if floor > 0 else 0.0
    return idx, flat[idx], max(lost, 0.0)


def apply_floor(prob: np.ndarray, floor: float) -> tuple[np.ndarray, int, float]:
    """(map with the cells below ``floor``·max set to 0, cells kept, lost mass): :func:`sparsify`'s
    cut as a dense map, for the store. A map with nothing below the floor (Voronoi's uniform
    maps, any floor ≤ min/max) is returned as is, without a copy."""
    top = float(prob.max()) if prob.size else 0.0
    if floor <= 0 or top <= 0:
        return prob, int(np.count_nonzero(prob)), 0.0
    low = (prob < np.float32(floor * top)) & (prob > 0)
    if not low.any():
        return prob, int(np.count_nonzero(prob)), 0.0
    lost = float(prob[low].sum(dtype=np.float64))
    kept = np.where(low, np.float32(0), prob)
    return kept, int(np.count_nonzero(kept)), lost


def _sparse_result(tile_id, ids, left, bottom, idxs, probs, lost, t0, c0, t_fit, res, counts=None) -> TileResult:
    ptr = np.zeros(len(idxs) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([a.size for a in idxs])
    return TileResult(
        tile_id, ids, np.asarray(left, float), np.asarray(bottom, float), ptr,
        np.concatenate(idxs) if idxs else np.zeros(0, np.uint32),
        np.concatenate(probs).astype(np.float32) if probs else np.zeros(0, np.float32),
        np.asarray(lost, float), time.perf_counter() - t0, t_fit, WINDOW_CELLS, res, time.process_time() - c0,
        None if counts is None else np.asarray(counts, dtype=np.int64), f"{socket.gethostname()}:{os.getpid()}",
    )


def compute_tile(tile: Tile, spec: ModelSpec, floor: float, store: str | None = None, rows: list[int] | None = None,
                 want_maps: bool = True) -> TileResult:
    """Fit the model on the tile's Scene; write its targets' maps to ``store`` rows ``rows`` and/or return them sparse.

    ``want_maps`` = False (with a store) returns counts and lost mass only: the maps stay in the store.

    Raises
    ------
    ValueError
        If a store is given without exactly one row per target of the tile.
    """
    from deepmend.engine.store import RowWriter
    from deepmend.scene import Scene

    t0, c0 = time.perf_counter(), time.process_time()
    scene = Scene(tile.deployment, tile.mask_region, tile.targets, name=tile.tile_id)
    model = spec.build().fit(scene)
    t_fit = time.perf_counter() - t0
    if store is not None and (rows is None or len(rows) != len(tile)):
        raise ValueError("a store needs one row per target")
    writer = RowWriter(store) if store is not None else None
    ids = [str(s) for s in scene.deployment.site_ids[tile.targets]]
    wins = [scene.window(int(i)) for i in tile.targets]
    left, bottom = [w.left for w in wins], [w.bottom for w in wins]
    res = wins[0].res if wins else 100.0
    coarse = store is not None and hasattr(model, "coarse_batch")
    idxs, probs, lost, counts = [], [], [], []
    step = int(getattr(model, "batch_size", 8))
    targets = [int(i) for i in tile.targets]
    for a in range(0, len(targets), step):
        chunk = targets[a : a + step]
        if coarse:  # DeepMEND: store the network's output; the 100 m map only if someone consumes it
            out, masks = model.coarse_batch(chunk)  # the scene's lattice order (rows northward)
            writer.write(rows[a : a + len(chunk)], {"coarse": out[:, ::-1], "mask": masks[:, ::-1]})  # stored north-up
            if not want_maps:
                counts.extend([int(m.sum()) for m in masks])
                lost.extend([0.0] * len(chunk))
                continue
            dense = model.maps_from_coarse(out, masks, [scene.site_rc(i) for i in chunk])[:, ::-1]  # north-up
        else:
            dense, masks = model.predict_dense(chunk)  # north-up
        if store is not None and not coarse and not want_maps:  # to the store only: dense maps, no index lists
            for b in range(len(chunk)):
                p = dense[b]
                kept_b, n_kept, lo = apply_floor(p, floor)
                if kept_b is not p:
                    dense[b] = kept_b
                counts.append(n_kept)
                lost.append(lo)
            writer.write(rows[a : a + len(chunk)], {"prob": dense, "mask": masks})
            continue
        kept = np.empty_like(dense) if store is not None and not coarse else None
        for b, p in enumerate(dense):
            i, v, lo = sparsify(p, floor)
            lost.append(lo)
            counts.append(i.size)
            if kept is not None:
                kept[b] = 0
                kept[b].flat[i] = v
            idxs.append(i)
            probs.append(v)
        if kept is not None:
            writer.write(rows[a : a + len(chunk)], {"prob": kept, "mask": masks})
    if store is not None and not want_maps:
        return _sparse_result(tile.tile_id, ids, left, bottom, [], [], lost, t0, c0, t_fit, res, counts)
    return _sparse_result(tile.tile_id, ids, left, bottom, idxs, probs, lost, t0, c0, t_fit, res, counts if coarse else None)
