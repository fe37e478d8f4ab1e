"""DeepMEND input channels for a batch of BSs, sliced from national rasters (METHOD.md §2).

Reference inputs, per cell ℓ of BS i's 600×600 window:

* d0 = |ℓ − i| + 1 m (distance to the target BS),
* d1 … d5 = distances to the 5 nearest sites of the whole network + 1 m,
* channels [d1, d2, mean(d1..d5)], each 1 − exp(−d_k/d0), times the mask, plus the mask.

Why this is cheap: d1 … d5 do not depend on the target BS, so ``Scene.knn(5)`` is
computed ONCE per deployment on the national lattice; :class:`FeatureBuilder` keeps the
three BS-independent rasters (d1, d2, mean5, + 1 m) and a BS's channels are one slice,
one window of distances to the BS (two outer differences) and three exponentials —
about 10 ms for a 600×600 window instead of the reference's 360,000 KD-tree queries.

``factor`` > 1 computes the channels **directly on the network's grid** (one value per
``factor``×``factor`` block of the window, (600/f)² cells instead of 600²): d0 at the block's
centre, d1 … d5 at the block's centre (for odd ``factor`` the centre is the middle 100 m
cell, read by a strided slice of the knn rasters; for even ``factor`` the mean of the 2×2
central cells), the near channels times the fraction of valid cells of the block, and the
mask channel that fraction (a box-sum raster computed once per deployment and factor).
At f = 5 this is 14,400 exponentials per BS instead of 1,080,000 plus a 25 → 1 average
(benchmarks/RESULTS.md § DeepMEND inference). Up to step 16 the inputs were the block
means of the 100 m channels (:func:`block_mean` of :meth:`FeatureBuilder.window`); the two
agree exactly on the mask channel and wherever the channels are constant over a block,
and differ by the non-linearity of 1 − exp(−d/d0) inside a block (largest in the BS's own
block, where d0 varies most).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from deepmend.scene import Scene

#: Added to every distance, as in the reference code (keeps d0 > 0 at the BS).
OFFSET_M = 1.0
#: Number of nearest sites the reference uses.
K_NEAREST = 5
#: Channel names of the reference input, in order.
CHANNELS: tuple[str, ...] = ("near1", "near2", "mean5", "mask")


def block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor``×``factor`` blocks of the last two axes (sizes must divide).

    Used to average the 100 m channels to the network's 400 m grid (METHOD.md §2).

    Parameters
    ----------
    a : numpy.ndarray, shape (..., H, W)
        Stack of rasters (either row order; kept).
    factor : int
        Block side in cells; 1 returns ``a`` itself.

    Returns
    -------
    numpy.ndarray, shape (..., H/factor, W/factor)

    Raises
    ------
    ValueError
        If ``factor`` does not divide H and W.
    """
    if factor == 1:
        return a
    *lead, h, w = a.shape
    if h % factor or w % factor:
        raise ValueError(f"window {h}×{w} is not a multiple of factor {factor}")
    return a.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def block_sum(a: np.ndarray, factor: int) -> np.ndarray:
    """Sum over ``factor``×``factor`` blocks of the last two axes (mass-preserving coarsening).

    Parameters
    ----------
    a : numpy.ndarray, shape (..., H, W)
        Stack of rasters; ``factor`` must divide H and W (not checked: callers pass 600×600
        windows and a divisor).
    factor : int
        Block side in cells; 1 returns ``a`` itself.

    Returns
    -------
    numpy.ndarray, shape (..., H/factor, W/factor)
        Same total per leading index as ``a``.
    """
    if factor == 1:
        return a
    *lead, h, w = a.shape
    return a.reshape(*lead, h // factor, factor, w // factor, factor).sum(axis=(-3, -1))


class FeatureBuilder:
    """Per-deployment rasters once, per-BS channels by slicing.

    ``near`` holds (d1, d2, mean(d1..d5)) + 1 m on the whole lattice as float32 (3, ny, nx):
    contiguous per channel so that a window slice is three cheap 2-D views.

    Parameters
    ----------
    scene : Scene
        The fitted-on scene; its 5-nearest-site query (``Scene.knn(5)``) is computed here,
        once, on the whole lattice (rows northward, row 0 = south).
    """

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        d, _ = scene.knn(K_NEAREST)
        near = np.empty((3,) + d.shape[:2], dtype=np.float32)
        near[0] = d[..., 0]
        near[1] = d[..., 1]
        near[2] = d.mean(axis=-1)
        near += np.float32(OFFSET_M)
        self.near = near
        self.mask = scene.mask

    def d0(self, i: int) -> np.ndarray:
        """Distance (m) + 1 m from every cell of BS ``i``'s window to the BS, float32 (600, 600).

        One definition for the network's inputs and for anything that shows them (the API)."""
        scene = self.scene
        xs, ys = scene.window(i).centers()
        dx = (xs - scene.deployment.x[i]).astype(np.float32)
        dy = (ys - scene.deployment.y[i]).astype(np.float32)
        return np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2) + np.float32(OFFSET_M)

    def window(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(channels float32 (4, 600, 600), mask bool (600, 600)) of BS ``i`` at full resolution."""
        rs, cs = self.scene.slices(i)
        # −1/d0 once, then the three channels share it: 1 − exp(−d_k/d0)
        inv_d0 = np.float32(-1.0) / self.d0(i)
        mask = self.mask[rs, cs]
        out = np.empty((4,) + mask.shape, dtype=np.float32)
        np.multiply(self.near[:, rs, cs], inv_d0[None], out=out[:3])
        np.exp(out[:3], out=out[:3])
        np.subtract(np.float32(1.0), out[:3], out=out[:3])
        out[:3] *= mask[None]
        out[3] = mask
        return out, mask

    def _coarse_rasters(self, factor: int) -> tuple[np.ndarray, np.ndarray]:
        """(near at block centres (3, ny', nx'), valid fraction (ny', nx')), indexed by a block's first cell.

        Entry [r, c] belongs to the block whose south-west 100 m cell is lattice cell (r, c),
        so a window starting at (r0, c0) reads ``[r0::f, c0::f]``. Once per deployment and factor."""
        cache = self.__dict__.setdefault("_coarse", {})
        if factor not in cache:
            f = factor
            h = f // 2
            if f % 2:  # the centre is the middle cell: a view, no copy
                near = self.near[:, h:, h:]
            else:  # the centre is a corner shared by 4 cells: their mean
                nr = self.near
                near = 0.25 * (nr[:, h - 1 : -h, h - 1 : -h] + nr[:, h : nr.shape[1] - h + 1, h - 1 : -h]
                               + nr[:, h - 1 : -h, h : nr.shape[2] - h + 1] + nr[:, h : nr.shape[1] - h + 1, h : nr.shape[2] - h + 1])
            s = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), dtype=np.int32)
            np.cumsum(np.cumsum(self.mask, axis=0, dtype=np.int32), axis=1, out=s[1:, 1:])
            frac = (s[f:, f:] - s[:-f, f:] - s[f:, :-f] + s[:-f, :-f]).astype(np.float32) / np.float32(f * f)
            cache[factor] = (near, frac)
        return cache[factor]

    def coarse(self, i: int, factor: int) -> np.ndarray:
        """Channels float32 (4, 600/f, 600/f) of BS ``i`` computed on the network's grid.

        ``factor`` = 1 is :meth:`window`'s channels. Rows northward, block (R, C) covering
        100 m cells [fR, fR + f) × [fC, fC + f) of the window.

        Raises
        ------
        ValueError
            If ``factor`` does not divide 600.
        """
        if factor == 1:
            return self.window(i)[0]
        if 600 % factor:
            raise ValueError(f"window 600×600 is not a multiple of factor {factor}")
        n = 600 // factor
        rs, cs = self.scene.slices(i)
        near, frac = self._coarse_rasters(factor)
        win = self.scene.window(i)
        c = (np.arange(n) + 0.5) * (factor * win.res)
        dx = (win.left + c - self.scene.deployment.x[i]).astype(np.float32)
        dy = (win.bottom + c - self.scene.deployment.y[i]).astype(np.float32)
        inv_d0 = np.float32(-1.0) / (np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2) + np.float32(OFFSET_M))
        sl = (slice(rs.start, rs.stop, factor), slice(cs.start, cs.stop, factor))
        out = np.empty((4, n, n), dtype=np.float32)
        np.multiply(near[(slice(None),) + sl], inv_d0[None], out=out[:3])
        np.exp(out[:3], out=out[:3])
        np.subtract(np.float32(1.0), out[:3], out=out[:3])
        out[3] = frac[sl]
        out[:3] *= out[3][None]
        return out

    def batch(self, sites: Sequence[int], factor: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Channels (B, 4, 600/f, 600/f) float32 on the network's grid and 100 m masks (B, 600, 600) bool."""
        n = 600 // factor
        x = np.empty((len(sites), 4, n, n), dtype=np.float32)
        masks = np.empty((len(sites), 600, 600), dtype=bool)
        for b, i in enumerate(sites):  # loop over BSs only; every cell operation is vectorised
            x[b] = self.coarse(int(i), factor)
            rs, cs = self.scene.slices(int(i))
            masks[b] = self.mask[rs, cs]
        return x, masks

def brute_force_channels(scene: Scene, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Reference-style channels at chosen window cells by explicit KD-tree queries (tests only).

    The definition of the module docstring (the authors' reference inputs, METHOD.md §2)
    evaluated cell by cell, against which the sliced rasters are tested.

    Parameters
    ----------
    scene : Scene
        The scene.
    i : int
        Site index of the BS.
    rows, cols : numpy.ndarray of int, shape (n,)
        Cells of BS ``i``'s window, lattice order (row 0 = south).

    Returns
    -------
    numpy.ndarray of float64, shape (4, n)
        [1 − exp(−d1/d0), 1 − exp(−d2/d0), 1 − exp(−mean(d1..d5)/d0)] × mask, and the mask.
    """
    win = scene.window(i)
    xs, ys = win.centers()
    px, py = xs[cols], ys[rows]
    d, _ = scene.tree.query(np.column_stack([px, py]), k=K_NEAREST)
    d = d + OFFSET_M
    d0 = np.hypot(px - scene.deployment.x[i], py - scene.deployment.y[i]) + OFFSET_M
    rs, cs = scene.slices(i)
    m = scene.mask[rs, cs][rows, cols].astype(np.float64)
    ch = [1 - np.exp(-d[:, 0] / d0), 1 - np.exp(-d[:, 1] / d0), 1 - np.exp(-d.mean(axis=1) / d0)]
    return np.stack([c * m for c in ch] + [m], axis=0)
