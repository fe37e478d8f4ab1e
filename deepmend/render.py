"""Pictures of maps: the published figures' style, ``jet`` on log10 P from 1e-9 to 1e-2.

One colour scale everywhere (API PNGs, docs figures, the web legend) so that maps of
different models can be compared by eye.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image

from deepmend.grid.diffusion_map import COLORMAP, VMAX, VMIN  # noqa: F401 - one colour scale for pictures and DiffusionMap.plot


def rgba(prob: np.ndarray, valid: np.ndarray | None = None, vmin: float = VMIN, vmax: float = VMAX, cmap: str = COLORMAP) -> np.ndarray:
    """uint8 RGBA of a north-up map (``DiffusionMap.prob``); zero or masked cells transparent."""
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
    """uint8 RGBA of ``model − truth`` on a diverging, symmetric-log scale (north-up in and out, as ``DiffusionMap.prob``).

    Red: the model puts more probability there than the ground truth; blue: less; white: the two
    agree within ``linthresh``. t = sign(d)·(log10|d| − log10 linthresh)/(log10 vmax − log10 linthresh),
    clipped to [−1, 1] and drawn at (t + 1)/2 of ``cmap``. Cells where both maps are zero, or outside
    ``valid``, are transparent. Both arrays are (n, n) probability maps of the same window.
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
    """uint8 RGBA grey scale of a feature channel (scene lattice order, rows northward), min–max scaled over valid cells, north-up out."""
    v = np.asarray(values, dtype=np.float64)
    m = np.isfinite(v) if valid is None else valid & np.isfinite(v)
    lo, hi = (float(v[m].min()), float(v[m].max())) if m.any() else (0.0, 1.0)
    g = np.zeros(v.shape, dtype=np.uint8)
    g[m] = np.clip((v[m] - lo) / (hi - lo or 1.0) * 255, 0, 255).astype(np.uint8)
    img = np.stack([g, g, g, np.where(m, 255, 0).astype(np.uint8)], axis=-1)
    return img[::-1]


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img, mode="RGBA").save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def figure(maps: list, titles: list[str], path: str, suptitle: str = "") -> None:
    """A row of maps on one log colour scale with a shared colour bar, written atomically (PNG)."""
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
