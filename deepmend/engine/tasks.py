"""The unit of work: one tile → the sparse maps of its targets.

:func:`compute_tile` is a pure, module-level function of picklable arguments, so the
same code runs in-process, in a process pool and on Dask workers; it never touches the
store (only the driver writes), so a remote cluster needs no shared file system.

Sparse maps: a 600×600 map is kept where P ≥ ``floor``·max(P) (``floor`` = 0 keeps every
non-zero cell). The dropped probability, ``lost`` = Σ of the cells below the floor, is
returned per BS and stored: a density made from stored maps carries exactly
Σ_i v_i·(1 − lost_i), and the report says so. Voronoi maps are uniform, so any floor < 1
loses nothing.
"""

from __future__ import annotations

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
        from deepmend.registry import make_model

        return make_model(self.name, **self.params)

    def as_dict(self) -> dict:
        return {"name": self.name, "params": {k: v for k, v in sorted(self.params.items()) if v is not None}}


@dataclass
class TileResult:
    """Sparse maps of a tile's BSs in CSR form: BS k owns entries ``ptr[k]:ptr[k+1]``.

    ``idx`` is the flat cell index r·600 + c inside the BS's own window (rows northward),
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

    def __len__(self) -> int:
        return len(self.site_ids)

    def entries(self, k: int) -> tuple[np.ndarray, np.ndarray]:
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


def compute_tile(tile: Tile, spec: ModelSpec, floor: float) -> TileResult:
    """Fit the model on the tile's Scene and return its targets' sparse maps."""
    from deepmend.scene import Scene

    t0, c0 = time.perf_counter(), time.process_time()
    scene = Scene(tile.deployment, tile.mask_region, tile.targets, name=tile.tile_id)
    model = spec.build().fit(scene)
    t_fit = time.perf_counter() - t0
    ids, left, bottom, lost, idxs, probs = [], [], [], [], [], []
    res = 100.0
    for m in model.predict_many(tile.targets):
        i, p, lo = sparsify(m.prob, floor)
        ids.append(m.site_id)
        left.append(m.window.left)
        bottom.append(m.window.bottom)
        res = m.window.res
        lost.append(lo)
        idxs.append(i)
        probs.append(p)
    ptr = np.zeros(len(idxs) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([a.size for a in idxs])
    return TileResult(
        tile.tile_id, ids, np.asarray(left, float), np.asarray(bottom, float), ptr,
        np.concatenate(idxs) if idxs else np.zeros(0, np.uint32),
        np.concatenate(probs).astype(np.float32) if probs else np.zeros(0, np.float32),
        np.asarray(lost, float), time.perf_counter() - t0, t_fit, WINDOW_CELLS, res, time.process_time() - c0,
    )
