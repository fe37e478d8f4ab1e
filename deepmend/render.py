"""Pictures of maps: the published figures' style, ``jet`` on log10 P from 1e-9 to 1e-2.

One colour scale everywhere (API PNGs, docs figures, the web legend) so that maps of
different models can be compared by eye; it is the scale of the maps published by
Martínez-Durive et al. (SECON 2024). Every picture is north-up (row 0 = north), as
``DiffusionMap.prob``; arrays in the scene's lattice order (row 0 = south) are flipped
here (:func:`grey`).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image

from deepmend.grid.diffusion_map import COLORMAP, VMAX, VMIN  # noqa: F401 - one colour scale for pictures and DiffusionMap.plot


def rgba(prob: np.ndarray, valid: np.ndarray | None = None, vmin: float = VMIN, vmax: float = VMAX, cmap: str = COLORMAP) -> np.ndarray:
    """uint8 RGBA of a north-up map (``DiffusionMap.prob``); zero or masked cells transparent.

    t = (log10 clip(P, vmin, vmax) − log10 vmin)/(log10 vmax − log10 vmin), drawn with
    ``cmap``'s 256-entry lookup table.

    Parameters
    ----------
    prob : numpy.ndarray, shape (H, W)
        Probabilities per cell, north-up.
    valid : numpy.ndarray of bool, shape (H, W), optional
        Cells to draw; others are transparent.
    vmin, vmax : float, default 1e-9, 1e-2
        Ends of the log scale (probability per 100 m cell).
    cmap : str, default "jet"
        Matplotlib colormap name.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 4)
        RGBA, north-up; alpha 0 where P = 0 or not ``valid``.
    """
    p = np.asarray(prob, dtype=np.float64)
    lo, hi = np.log10(vmin), np.log10(vmax)
    with np.errstate(divide="ignore"):
        t = (np.log10(np.clip(p, vmin, vmax)) - lo) / (hi - lo)
    lut = (colormaps[cmap](np.linspace(0, 1, 256)) * 255).astype(np.uint8)
    img = lut[np.clip((t * 255).round().astype(int), 0, 255)]
    keep = p > 0 if valid is None else (p > 0) & valid
    img[..., 3] = np.where(keep, 255, 0)
    return img


#: Differences below this (in P per 100 m cell) are drawn white; the scale is symmetric-log up to ``VMAX``.
DIFF_LINTHRESH = 1e-7
DIFF_COLORMAP = "RdBu_r"


def diff_rgba(model: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None,
              linthresh: float = DIFF_LINTHRESH, vmax: float = VMAX, cmap: str = DIFF_COLORMAP) -> np.ndarray:
    """uint8 RGBA of ``model − truth`` on a diverging, symmetric-log scale (north-up in and out).

    Red: the model puts more probability there than the ground truth; blue: less; white: the two
    agree within ``linthresh``. t = sign(d)·(log10|d| − log10 linthresh)/(log10 vmax − log10 linthresh),
    clipped to [−1, 1] and drawn at (t + 1)/2 of ``cmap`` (the symmetric-log scale of
    matplotlib's ``SymLogNorm``, standard definition).

    Parameters
    ----------
    model, truth : numpy.ndarray, shape (n, n)
        Probability maps of the same window, north-up (``DiffusionMap.prob``).
    valid : numpy.ndarray of bool, shape (n, n), optional
        Cells to draw.
    linthresh : float, default 1e-7
        Differences below this (P per 100 m cell) are white.
    vmax : float, default 1e-2
        Difference drawn at full colour.
    cmap : str, default "RdBu_r"
        Diverging matplotlib colormap.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, n, 4)
        RGBA; transparent where both maps are zero or outside ``valid``.
    """
    a, b = np.asarray(model, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    d = a - b
    lo, hi = np.log10(linthresh), np.log10(vmax)
    with np.errstate(divide="ignore"):
        mag = np.clip((np.log10(np.maximum(np.abs(d), linthresh)) - lo) / (hi - lo), 0.0, 1.0)
    t = (np.sign(d) * mag + 1.0) / 2.0
    lut = (colormaps[cmap](np.linspace(0, 1, 256)) * 255).astype(np.uint8)
    img = lut[np.clip((t * 255).round().astype(int), 0, 255)]
    keep = (a > 0) | (b > 0)
    if valid is not None:
        keep &= valid
    img[..., 3] = np.where(keep, 255, 0)
    return img


def grey(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """uint8 RGBA grey scale of a feature channel, min–max scaled over valid cells, north-up out.

    Parameters
    ----------
    values : numpy.ndarray, shape (H, W)
        One channel in the scene's lattice order (rows northward, row 0 = south).
    valid : numpy.ndarray of bool, shape (H, W), optional
        Cells to scale over and draw (default: the finite ones), same order.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 4)
        Grey RGBA flipped north-up (row 0 = north); alpha 0 outside ``valid``.
    """
    v = np.asarray(values, dtype=np.float64)
    m = np.isfinite(v) if valid is None else valid & np.isfinite(v)
    lo, hi = (float(v[m].min()), float(v[m].max())) if m.any() else (0.0, 1.0)
    g = np.zeros(v.shape, dtype=np.uint8)
    g[m] = np.clip((v[m] - lo) / (hi - lo or 1.0) * 255, 0, 255).astype(np.uint8)
    img = np.stack([g, g, g, np.where(m, 255, 0).astype(np.uint8)], axis=-1)
    return img[::-1]


def png_bytes(img: np.ndarray) -> bytes:
    """Encode an RGBA image as PNG (Pillow, zlib level 3: fast enough for the API's per-request tiles).

    Parameters
    ----------
    img : numpy.ndarray of uint8, shape (H, W, 4)
        North-up RGBA, e.g. from :func:`rgba`.

    Returns
    -------
    bytes
        The PNG file.
    """
    buf = io.BytesIO()
    Image.fromarray(img, mode="RGBA").save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def figure(maps: list, titles: list[str], path: str, suptitle: str = "") -> None:
    """A row of maps on one log colour scale with a shared colour bar, written atomically (PNG).

    Axes are km east/north of the BS (north up, the BS at the origin); cells outside the mask
    are light grey.

    Parameters
    ----------
    maps : list of DiffusionMap
        North-up maps, one panel each.
    titles : list of str
        One title per panel.
    path : str
        The PNG file written.
    suptitle : str, optional
        Title of the whole figure.

    Returns
    -------
    None
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from deepmend.io import atomic_path

    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps) + 1.2, 4.4), squeeze=False)
    im = None
    for ax, m, title in zip(axes[0], maps, titles):
        w = m.window
        data = np.ma.masked_where((m.prob <= 0) | ~m.mask, np.clip(m.prob, VMIN, VMAX))
        ext = [(w.left - w.left) / 1000 - 30, (w.right - w.left) / 1000 - 30, -30, 30]
        ax.imshow(np.where(m.mask, 0.0, np.nan), origin="upper", extent=ext, cmap="Greys", vmin=-1, vmax=6)  # valid cells light grey
        im = ax.imshow(data, origin="upper", extent=ext, cmap=COLORMAP, norm=LogNorm(VMIN, VMAX), interpolation="nearest")
        ax.plot([0], [0], marker="^", color="white", markeredgecolor="black", markersize=5)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("km east of BS")
    axes[0][0].set_ylabel("km north of BS")
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), label="P(ℓ | BS)", shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
