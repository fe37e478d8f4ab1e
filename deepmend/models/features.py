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

Channel sets (issue 19 ablation). A channel set is an ordered tuple of names from
:data:`CHANNEL_INFO`; :data:`CHANNELS` (the reference, above) is the default of every
function and of the shipped weights, and is computed by exactly the code above. Every set
holds ``mask`` (the training losses read the valid fraction from it). The optional channels
are position-only, BS-independent rasters computed once per deployment (and factor) on the
100 m lattice, read at block centres like d1 … d5 (the middle cell for odd ``factor``, the
mean of the 2×2 central cells for even), transformed, and multiplied by the block's valid
fraction like the near channels:

* ``dens1``, ``dens3``, ``dens10`` — site density around the cell: n_R = number of sites of the
  whole deployment (each counted at the centre of its 100 m cell) within R = 1, 3, 10 km of the
  cell centre, ρ_R = n_R / (π R²) in sites per km²; channel log1p(ρ_R · A) with
  A = :data:`DENSITY_SCALE_KM2` = 1 km² (an urban core, ρ ≈ 5–20 km⁻², gives 1.8–3.0; rural
  ρ ≈ 0.05 gives 0.05). The count is a convolution of a site-count raster with a disk
  kernel (:func:`scipy.signal.oaconvolve`), padded by R so that sites outside the lattice count.
* ``edge`` — d_e = distance (m) from the cell centre to the centre of the nearest invalid
  (outside the region, sea) 100 m cell, exact Euclidean distance transform
  (:func:`scipy.ndimage.distance_transform_edt`; Maurer et al. 2003) of the mask on the
  lattice padded by :data:`EDGE_PAD_CELLS` cells (15 km); channel 1 − exp(−d_e / 5 km)
  (:data:`EDGE_SCALE_M`): 0 on the edge, 0.63 at 5 km, → 1 far inside (1 when no invalid
  cell lies within the padded lattice).
* ``own`` — nearest-site label: 1 where the target BS is the nearest site of the block centre
  (its Voronoi cell, ``Scene.nearest``), else 0; for even ``factor`` the fraction of the 2×2
  central cells in the Voronoi cell. Per BS (its value depends on the target) but from the
  national Voronoi raster computed once.

A BS's extra channels are one slice and one multiply each (``own``: one comparison of a
600×600 label window); their rasters cost one FFT convolution per radius, one distance
transform and the Voronoi raster, once per deployment.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from deepmend.grid.lattice import Lattice
from deepmend.scene import Scene

#: Added to every distance, as in the reference code (keeps d0 > 0 at the BS).
OFFSET_M = 1.0
#: Number of nearest sites the reference uses.
K_NEAREST = 5
#: Channel names of the reference input, in order.
CHANNELS: tuple[str, ...] = ("near1", "near2", "mean5", "mask")
#: Radius (km) of each site-density channel.
DENSITY_RADII_KM: dict[str, float] = {"dens1": 1.0, "dens3": 3.0, "dens10": 10.0}
#: Area (km²) the densities are multiplied by before log1p (values O(1)).
DENSITY_SCALE_KM2 = 1.0
#: Length scale (m) of the edge channel 1 − exp(−d_e / EDGE_SCALE_M).
EDGE_SCALE_M = 5000.0
#: Cells of region mask rasterised around the lattice for the edge distance (3 × the scale).
EDGE_PAD_CELLS = 150
#: Every channel that can be computed: name → formula, units and transform (module docstring).
CHANNEL_INFO: dict[str, str] = {
    "near1": "1 − exp(−d1/d0) × valid fraction: distance to the nearest site relative to the distance to the BS",
    "near2": "1 − exp(−d2/d0) × valid fraction: distance to the second nearest site relative to the distance to the BS",
    "mean5": "1 − exp(−mean(d1..d5)/d0) × valid fraction: mean distance to the 5 nearest sites relative to the distance to the BS",
    "mask": "valid fraction of the cell (land inside the region)",
    "dens1": "log1p(sites per km² within 1 km × 1 km²) × valid fraction",
    "dens3": "log1p(sites per km² within 3 km × 1 km²) × valid fraction",
    "dens10": "log1p(sites per km² within 10 km × 1 km²) × valid fraction",
    "edge": "1 − exp(−d_e / 5 km) × valid fraction, d_e the distance to the nearest invalid cell (region edge, sea)",
    "own": "1 where the BS is the nearest site (its Voronoi cell) × valid fraction, else 0",
}


def check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    """The channel set as a tuple, checked against :data:`CHANNEL_INFO`.

    Parameters
    ----------
    channels : sequence of str
        Channel names, in the network's input order.

    Returns
    -------
    tuple of str

    Raises
    ------
    ValueError
        An unknown or repeated name, or a set without ``mask``; the message names it.
    """
    names = tuple(str(c) for c in channels)
    for c in names:
        if c not in CHANNEL_INFO:
            raise ValueError(f"unknown input channel {c!r} (known: {', '.join(CHANNEL_INFO)})")
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise ValueError(f"input channel {dup[0]!r} is listed twice")
    if "mask" not in names:
        raise ValueError("the input channels must include 'mask' (the valid fraction the losses and the model read)")
    return names


def site_counts(scene: Scene, radius_m: float) -> np.ndarray:
    """Number of sites within ``radius_m`` of every lattice cell centre, float32 (ny, nx).

    Each site is counted at the centre of its 100 m cell (so a site within ~71 m of the
    circle may fall either side); the disk is the set of cells whose centre-to-centre
    distance is ≤ ``radius_m``. One FFT overlap-add convolution of the site-count raster,
    padded by the radius so that sites outside the lattice count (a kernel density count,
    Silverman 1986 §1.2 with a uniform disk kernel).

    Parameters
    ----------
    scene : Scene
        The scene (all sites of its deployment, not only the targets).
    radius_m : float
        Disk radius, metres.

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        Integer counts, lattice order (row 0 = south).
    """
    from scipy.signal import oaconvolve

    lat = scene.lattice
    p = int(np.ceil(radius_m / lat.res))
    col = np.floor((np.asarray(scene.deployment.x) - lat.x0) / lat.res).astype(np.int64) + p
    row = np.floor((np.asarray(scene.deployment.y) - lat.y0) / lat.res).astype(np.int64) + p
    h, w = lat.ny + 2 * p, lat.nx + 2 * p
    keep = (row >= 0) & (row < h) & (col >= 0) & (col < w)
    counts = np.bincount(row[keep] * w + col[keep], minlength=h * w).reshape(h, w).astype(np.float32)
    off = np.arange(-p, p + 1) * lat.res
    disk = (off[:, None] ** 2 + off[None, :] ** 2 <= radius_m**2 + 1e-6).astype(np.float32)
    return np.rint(np.maximum(oaconvolve(counts, disk, mode="valid"), 0.0)).astype(np.float32)


def edge_distance(scene: Scene, pad: int = EDGE_PAD_CELLS) -> np.ndarray:
    """Distance (m) from every lattice cell centre to the nearest invalid cell's centre, float32 (ny, nx).

    Exact Euclidean distance transform (Maurer, Qi & Raghavan 2003, as implemented by
    :func:`scipy.ndimage.distance_transform_edt`) of the scene's mask, on the lattice padded
    by ``pad`` cells of the rasterised region (invalid cells just outside the lattice count).

    Parameters
    ----------
    scene : Scene
        The scene.
    pad : int, default EDGE_PAD_CELLS
        Cells of region rasterised around the lattice.

    Returns
    -------
    numpy.ndarray of float32, shape (ny, nx)
        0 on invalid cells; ``inf`` everywhere when no cell of the padded lattice is invalid.
    """
    from scipy.ndimage import distance_transform_edt

    lat = scene.lattice
    big = Lattice(lat.crs, lat.x0 - pad * lat.res, lat.y0 - pad * lat.res, lat.nx + 2 * pad, lat.ny + 2 * pad, lat.res)
    m = big.rasterize(scene.mask_region.metric)
    m[pad : pad + lat.ny, pad : pad + lat.nx] = scene.mask  # the same cells as the scene's own mask
    if m.all():
        return np.full(lat.shape, np.inf, dtype=np.float32)
    d = distance_transform_edt(m, sampling=lat.res)
    return np.ascontiguousarray(d[pad : pad + lat.ny, pad : pad + lat.nx], dtype=np.float32)


def _at_centres(r: np.ndarray, f: int) -> np.ndarray:
    """Values of rasters (C, ny, nx) at the centres of f×f blocks, indexed by a block's first cell.

    Odd ``f``: the middle cell (a view); even: the mean of the 2×2 central cells."""
    if f == 1:
        return r
    h = f // 2
    if f % 2:
        return r[:, h:, h:]
    return 0.25 * (r[:, h - 1 : -h, h - 1 : -h] + r[:, h : r.shape[1] - h + 1, h - 1 : -h]
                   + r[:, h - 1 : -h, h : r.shape[2] - h + 1] + r[:, h : r.shape[1] - h + 1, h : r.shape[2] - h + 1])


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
            near = _at_centres(self.near, f)
            s = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), dtype=np.int32)
            np.cumsum(np.cumsum(self.mask, axis=0, dtype=np.int32), axis=1, out=s[1:, 1:])
            frac = (s[f:, f:] - s[:-f, f:] - s[f:, :-f] + s[:-f, :-f]).astype(np.float32) / np.float32(f * f)
            cache[factor] = (near, frac)
        return cache[factor]

    def _extra_raster(self, name: str, factor: int) -> np.ndarray:
        """Transformed BS-independent channel ``name`` (dens*, edge) at block centres, float32, indexed like
        :meth:`_coarse_rasters` (factor 1: the 100 m lattice). Once per deployment and factor."""
        cache = self.__dict__.setdefault("_extra", {})
        if (name, factor) not in cache:
            raw = self.__dict__.setdefault("_extra_raw", {})
            if name not in raw:
                if name in DENSITY_RADII_KM:
                    raw[name] = site_counts(self.scene, DENSITY_RADII_KM[name] * 1000.0)
                else:  # edge
                    raw[name] = edge_distance(self.scene)
            r = _at_centres(raw[name][None], factor)[0]
            if name in DENSITY_RADII_KM:
                area_km2 = np.pi * DENSITY_RADII_KM[name] ** 2
                v = np.log1p(r * np.float32(DENSITY_SCALE_KM2 / area_km2))
            else:
                v = -np.expm1(r * np.float32(-1.0 / EDGE_SCALE_M))
            cache[(name, factor)] = np.ascontiguousarray(v, dtype=np.float32)
        return cache[(name, factor)]

    def _own(self, i: int, factor: int) -> np.ndarray:
        """Nearest-site label of BS ``i`` at its window's block centres (float32 (600/f, 600/f)), from ``Scene.nearest``."""
        rs, cs = self.scene.slices(i)
        own = np.equal(self.scene.nearest[rs, cs], i)
        return _at_centres(own[None].astype(np.float32), factor)[0][::factor, ::factor] if factor > 1 else own.astype(np.float32)

    def coarse(self, i: int, factor: int, channels: Sequence[str] = CHANNELS) -> np.ndarray:
        """Channels float32 (C, 600/f, 600/f) of BS ``i`` computed on the network's grid.

        ``factor`` = 1 is :meth:`window`'s channels (and the optional ones at 100 m). Rows
        northward, block (R, C) covering 100 m cells [fR, fR + f) × [fC, fC + f) of the window.

        Parameters
        ----------
        i : int
            Site index of the BS.
        factor : int
            Block side in 100 m cells (a divisor of 600).
        channels : sequence of str, default CHANNELS
            The channel set, in order (module docstring, :data:`CHANNEL_INFO`).

        Returns
        -------
        numpy.ndarray of float32, shape (len(channels), 600/factor, 600/factor)

        Raises
        ------
        ValueError
            If ``factor`` does not divide 600, or the channel set is invalid (:func:`check_channels`).
        """
        channels = tuple(channels)
        ref = self._reference(i, factor)
        if channels == CHANNELS:
            return ref
        names = check_channels(channels)
        out = np.empty((len(names),) + ref.shape[1:], dtype=np.float32)
        frac = ref[3]
        rs, cs = self.scene.slices(i)
        sl = (slice(rs.start, rs.stop, factor), slice(cs.start, cs.stop, factor))
        for k, name in enumerate(names):  # loop over channels only
            if name in CHANNELS:
                out[k] = ref[CHANNELS.index(name)]
            elif name == "own":
                np.multiply(self._own(i, factor), frac, out=out[k])
            else:
                np.multiply(self._extra_raster(name, factor)[sl], frac, out=out[k])
        return out

    def _reference(self, i: int, factor: int) -> np.ndarray:
        """The reference channels (4, 600/f, 600/f) (module docstring)."""
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

    def batch(self, sites: Sequence[int], factor: int = 1, channels: Sequence[str] = CHANNELS) -> tuple[np.ndarray, np.ndarray]:
        """Channels on the network's grid and 100 m masks of a batch of BSs.

        Parameters
        ----------
        sites : sequence of int
            Site indices.
        factor : int, default 1
            Block side in 100 m cells.
        channels : sequence of str, default CHANNELS
            The channel set (:meth:`coarse`).

        Returns
        -------
        x : numpy.ndarray of float32, shape (B, len(channels), 600/f, 600/f)
        masks : numpy.ndarray of bool, shape (B, 600, 600)
        """
        n = 600 // factor
        x = np.empty((len(sites), len(channels), n, n), dtype=np.float32)
        masks = np.empty((len(sites), 600, 600), dtype=bool)
        for b, i in enumerate(sites):  # loop over BSs only; every cell operation is vectorised
            x[b] = self.coarse(int(i), factor, channels)
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
