"""The diffusion maps of the geolocated sites as one sparse matrix P(ℓ|i) on a common lattice.

Every BS window is aligned to the national 100 m lattice (METHOD.md §1), so placing a
map on the output lattice is index arithmetic (window corner − lattice origin). The
batch engine delivers maps tile by tile (:class:`deepmend.engine.tasks.TileResult`);
:class:`MapCollector` gathers their sparse entries and :meth:`MapCollector.matrix`
builds a ``scipy.sparse`` CSR matrix over the *support* (the cells where any map is
non-zero), so memory follows the number of stored entries, not the lattice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from deepmend.engine.tasks import TileResult
from deepmend.grid.lattice import Lattice


@dataclass
class SiteMaps:
    """P(ℓ|i) of ``n`` sites over ``m`` support cells.

    Attributes
    ----------
    lattice : Lattice
        The output lattice (rows northward, cell (r, c) has its lower-left corner at
        ``x0 + c·res, y0 + r·res`` in ``lattice.crs``).
    cells : int64 (m,)
        Flat index ``r·nx + c`` of each support cell on ``lattice``, ascending.
    P : scipy.sparse.csr_matrix float64 (n, m)
        Row i is site i's diffusion map P(ℓ|i); each row sums to 1 − ``lost[i]``.
    site_ids : list of str (n,)
    lost : float64 (n,)
        Probability each map lost below the engine's floor.
    """

    lattice: Lattice
    cells: np.ndarray
    P: sp.csr_matrix
    site_ids: list[str]
    lost: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.P.shape[0]

    @property
    def n_cells(self) -> int:
        return self.P.shape[1]

    def rows_cols(self) -> tuple[np.ndarray, np.ndarray]:
        """Lattice (row northward, column) of each support cell."""
        return np.divmod(self.cells, self.lattice.nx)

    def dense(self, u: np.ndarray) -> np.ndarray:
        """Values on the support (m,) → a (ny, nx) float64 array on the lattice (rows northward)."""
        out = np.zeros(self.lattice.ny * self.lattice.nx)
        out[self.cells] = u
        return out.reshape(self.lattice.shape)

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates (x, y) of the support cells in ``lattice.crs`` (metres)."""
        r, c = self.rows_cols()
        lat = self.lattice
        return lat.x0 + (c + 0.5) * lat.res, lat.y0 + (r + 0.5) * lat.res


class MapCollector:
    """A ``run_batch`` consumer that keeps the maps of the sites in ``order`` (site id → row).

    Parameters
    ----------
    lattice : Lattice
        The density lattice every map is placed on.
    site_ids : list of str
        The sites to keep, in row order of the final matrix.
    """

    def __init__(self, lattice: Lattice, site_ids: list[str]) -> None:
        self.lattice = lattice
        self.row_of = {s: k for k, s in enumerate(site_ids)}
        self.site_ids = list(site_ids)
        self.lost = np.zeros(len(site_ids))
        self.seen = np.zeros(len(site_ids), dtype=bool)
        self._rows: list[np.ndarray] = []
        self._flat: list[np.ndarray] = []
        self._prob: list[np.ndarray] = []

    @property
    def sites_added(self) -> int:
        return int(self.seen.sum())

    def add(self, res: TileResult) -> None:
        """Place a tile's maps on the lattice (vectorised over the tile's entries).

        Raises
        ------
        ValueError
            If a window of the tile reaches outside the density lattice.
        """
        ks = [k for k, s in enumerate(res.site_ids) if s in self.row_of]
        if not ks:
            return
        lat = self.lattice
        r0 = np.rint((res.bottom[ks] - lat.y0) / lat.res).astype(np.int64)
        c0 = np.rint((res.left[ks] - lat.x0) / lat.res).astype(np.int64)
        if r0.min() < 0 or c0.min() < 0 or r0.max() + res.size > lat.ny or c0.max() + res.size > lat.nx:
            raise ValueError(f"tile {res.tile_id} reaches outside the density lattice")
        counts = np.diff(res.ptr)[ks]
        sel = np.concatenate([np.arange(res.ptr[k], res.ptr[k + 1]) for k in ks])
        idx = res.idx[sel].astype(np.int64)
        rows = np.repeat(r0, counts) + (res.size - 1 - idx // res.size)  # maps are north-up, the lattice runs northward
        cols = np.repeat(c0, counts) + idx % res.size
        out_rows = np.array([self.row_of[res.site_ids[k]] for k in ks])
        self._rows.append(np.repeat(out_rows, counts).astype(np.int32))
        self._flat.append(rows * lat.nx + cols)
        self._prob.append(res.prob[sel].astype(np.float64))
        self.lost[out_rows] = res.lost[ks]
        self.seen[out_rows] = True

    def matrix(self) -> SiteMaps:
        """The collected maps as a CSR matrix over their support (duplicate entries summed)."""
        if self._flat:
            flat = np.concatenate(self._flat)
            rows = np.concatenate(self._rows)
            prob = np.concatenate(self._prob)
        else:
            flat = np.zeros(0, np.int64)
            rows = np.zeros(0, np.int32)
            prob = np.zeros(0)
        self._rows, self._flat, self._prob = [], [], []
        cells, col = np.unique(flat, return_inverse=True)
        P = sp.csr_matrix((prob, (rows, col.ravel().astype(np.int64))), shape=(len(self.site_ids), cells.size))
        P.sum_duplicates()
        return SiteMaps(self.lattice, cells.astype(np.int64), P, self.site_ids, self.lost.copy())
