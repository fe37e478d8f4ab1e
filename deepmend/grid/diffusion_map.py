"""A diffusion map P(ℓ|i): a window, float32 probabilities and the mask of valid cells (METHOD.md §1, §6).

One orientation everywhere: ``prob[0]`` is the **northern** row and ``prob[:, 0]`` the
western column, so ``window.transform`` (north-up, as GeoTIFF, rasterio and rioxarray use
it) maps array indices to coordinates. The scene's lattice arrays, on which the models
compute, run northward (row 0 = south, as in the reference code); the only conversions
between the two are :meth:`DiffusionMap.from_lattice` and :attr:`DiffusionMap.lattice_prob` (and `lattice_mask`).

Saved as ``.npz`` (exact, with metadata; only the valid cells' float32 values and a
bit-packed mask are stored, uncompressed — zlib on float32 costs ~50 ms a map for a
factor of three, while dropping masked cells is free) or as a Cloud-Optimized GeoTIFF
(for GIS tools: tiled, DEFLATE with the floating-point predictor, overviews, CRS, NaN
nodata, band description and units). ``.npz`` files of format version 1 (rows northward)
are read and turned north-up. Both writers are atomic, and the loaders validate what they
read, so a corrupt or foreign file is reported instead of silently used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio

from deepmend.errors import InputError
from deepmend.grid.lattice import Window
from deepmend.io import atomic_path

#: 2 = north-up arrays; 1 = rows northward (read and flipped).
FORMAT_VERSION = 2
BAND_DESCRIPTION = "P(location | base station)"
#: The published figures' colour scale: ``jet`` on log10 P from 1e-9 to 1e-2 (also used by deepmend.render).
VMIN, VMAX, COLORMAP = 1e-9, 1e-2, "jet"
UNITS = "probability per cell"


def north_up_from_header(header: dict, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """``arrays`` turned north-up when ``header`` is of a format older than 2 (rows northward).

    Parameters
    ----------
    header : dict
        The map file's JSON header; a missing or non-dict header counts as version 1.
    *arrays : numpy.ndarray, shape (H, W)
        Arrays read from the file (probabilities, mask), in the file's row order.

    Returns
    -------
    tuple of numpy.ndarray
        The same arrays, north-up (row 0 = north): flipped (contiguous copies) for
        format version 1, unchanged for version ≥ 2.
    """
    version = int(header.get("version", 1)) if isinstance(header, dict) else 1
    return tuple(np.ascontiguousarray(a[::-1]) if version < 2 else a for a in arrays)


@dataclass
class DiffusionMap:
    """P(ℓ|i) over a BS's window: ≥ 0, zero outside ``mask``, summing to 1 over it.

    Attributes
    ----------
    window : Window
        The 600×600 window of 100 m cells in the country's metric CRS.
    prob : ndarray of float32, shape (size, size)
        Probabilities, **north-up**: row 0 is the northern edge, matching ``window.transform``.
    mask : ndarray of bool, shape (size, size)
        Valid (land, in-region) cells, north-up.
    site_id, model : str
        The BS and the model that made the map.
    meta : dict
        Model parameters, timings, merged site ids.
    """

    window: Window
    prob: np.ndarray
    mask: np.ndarray
    site_id: str = ""
    model: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (self.window.size, self.window.size)
        if self.prob.shape != shape or self.mask.shape != shape:
            raise ValueError(f"map arrays must be {shape}, got {self.prob.shape} and {self.mask.shape}")

    @classmethod
    def from_lattice(cls, window: Window, prob: np.ndarray, mask: np.ndarray, site_id: str = "", model: str = "", meta: dict | None = None) -> "DiffusionMap":
        """A map from arrays in the scene's lattice order (row 0 = south), turned north-up."""
        return cls(window, np.ascontiguousarray(prob[::-1]), np.ascontiguousarray(mask[::-1]), site_id, model, dict(meta or {}))

    @property
    def lattice_prob(self) -> np.ndarray:
        """``prob`` in the scene's lattice order (row 0 = south), a view, for code that combines
        the map with scene arrays (nearest-site labels, model internals)."""
        return self.prob[::-1]

    @property
    def lattice_mask(self) -> np.ndarray:
        """``mask`` in the scene's lattice order (row 0 = south), a view."""
        return self.mask[::-1]

    @property
    def transform(self):
        """The affine transform of ``prob`` (north-up; ``rasterio``/GDAL convention)."""
        return self.window.transform

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates ``(x, y)`` in the window's CRS: x by column (eastward), y by row (southward)."""
        xs, ys = self.window.centers()
        return xs, ys[::-1].copy()

    # --- views -------------------------------------------------------------
    def to_xarray(self):
        """The map as an ``xarray.DataArray`` (dims ``y``, ``x``; NaN outside the mask) with CRS,
        transform and nodata attached through rioxarray, so ``da.rio.to_raster`` and GIS tools see it in place."""
        import rioxarray  # noqa: F401 - registers the .rio accessor
        import xarray as xr

        xs, ys = self.coords()
        da = xr.DataArray(
            np.where(self.mask, self.prob, np.nan).astype(np.float32),
            dims=("y", "x"), coords={"y": ys, "x": xs}, name="p",
            attrs={"long_name": BAND_DESCRIPTION, "units": UNITS, "site_id": self.site_id, "model": self.model},
        )
        da = da.rio.write_crs(self.window.crs).rio.write_transform(self.window.transform).rio.write_nodata(np.nan, encoded=False)
        return da

    def plot(self, ax=None, *, title: str | None = None, log: bool = True):
        """A matplotlib Figure of the map on the published log colour scale (jet, 1e-9 … 1e-2),
        axes in km of the map's CRS, north up; returns the Figure (draws into ``ax`` when given)."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        if ax is None:
            fig, ax = plt.subplots(figsize=(5.2, 4.4))
        else:
            fig = ax.figure
        w = self.window
        ext = [w.left / 1000, w.right / 1000, w.bottom / 1000, w.top / 1000]
        ax.imshow(np.where(self.mask, 0.0, np.nan), origin="upper", extent=ext, cmap="Greys", vmin=-1, vmax=6)
        data = np.ma.masked_where((self.prob <= 0) | ~self.mask, np.clip(self.prob, VMIN, VMAX))
        im = ax.imshow(data, origin="upper", extent=ext, cmap=COLORMAP, norm=LogNorm(VMIN, VMAX) if log else None, interpolation="nearest")
        fig.colorbar(im, ax=ax, label="P(ℓ | BS)", shrink=0.85)
        ax.set_xlabel(f"x (km, {w.crs})")
        ax.set_ylabel("y (km)")
        ax.set_title(title if title is not None else f"{self.model} {self.site_id}".strip(), fontsize=10)
        return fig

    # --- files -------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write to ``.npz`` or ``.tif``/``.tiff`` by the suffix, atomically (METHOD.md §6).

        Parameters
        ----------
        path : str or Path
            Target file; its suffix chooses the format.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        InputError
            If the suffix is neither ``.npz`` nor ``.tif``/``.tiff``.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, values=self.prob[self.mask].astype(np.float32), mask_bits=np.packbits(self.mask), header=np.array(json.dumps(self._header())))
        elif suffix in (".tif", ".tiff"):
            self.to_geotiff(path)
        else:
            raise InputError("unsupported map format, use .npz or .tif", file=str(path), value=suffix)
        return path

    def _header(self) -> dict:
        return {"version": FORMAT_VERSION, "window": self.window.as_dict(), "site_id": self.site_id, "model": self.model, "meta": self.meta}

    def to_geotiff(self, path: str | Path) -> Path:
        """Write a Cloud-Optimized GeoTIFF (GDAL's COG driver): 256×256 tiles, DEFLATE with the
        floating-point predictor, averaged overviews, the CRS, NaN as nodata outside the mask,
        the band's description and units, and the map's header in the ``deepmend`` tag. Atomic."""
        from rasterio.io import MemoryFile
        from rasterio.shutil import copy as rio_copy

        path = Path(path)
        data = np.where(self.mask, self.prob, np.nan).astype(np.float32)
        profile = {
            "driver": "GTiff", "width": self.window.size, "height": self.window.size, "count": 1, "dtype": "float32",
            "crs": self.window.crs, "transform": self.window.transform, "nodata": float("nan"),
        }
        with atomic_path(path) as tmp, MemoryFile() as mem:
            with mem.open(**profile) as src:
                src.write(data, 1)
                src.update_tags(deepmend=json.dumps(self._header()), site_id=self.site_id, model=self.model)
                src.update_tags(1, units=UNITS)
                src.set_band_description(1, BAND_DESCRIPTION)
                src.set_band_unit(1, UNITS)
            with mem.open() as src:
                rio_copy(src, tmp, driver="COG", compress="DEFLATE", predictor=3, blocksize=256,
                         overviews="AUTO", overview_resampling="AVERAGE", level=6)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DiffusionMap":
        """Read a map written by :meth:`save` (``.npz`` of format 1 or 2, or GeoTIFF), north-up.

        Parameters
        ----------
        path : str or Path
            The file; its suffix chooses the reader.

        Returns
        -------
        DiffusionMap
            The map, validated (shape, mask bits, finite non-negative values).

        Raises
        ------
        InputError
            If the file is missing, has another suffix, or is not a readable diffusion map
            (any reader error is turned into one naming the file).
        """
        path = Path(path)
        if not path.exists():
            raise InputError("map file not found", file=str(path))
        suffix = path.suffix.lower()
        try:
            if suffix == ".npz":
                return cls._load_npz(path)
            if suffix in (".tif", ".tiff"):
                return cls._load_geotiff(path)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"not a readable diffusion map ({type(exc).__name__}: {exc})", file=str(path)) from None
        raise InputError("unsupported map format, use .npz or .tif", file=str(path), value=suffix)

    @classmethod
    def _load_npz(cls, path: Path) -> "DiffusionMap":
        from deepmend.data.limits import check_npz

        check_npz(path, what="diffusion map")  # a crafted archive is refused before np.load allocates what it declares
        with np.load(path, allow_pickle=False) as z:
            missing = {"values", "mask_bits", "header"} - set(z.files)
            if missing:
                raise InputError(f"missing arrays {sorted(missing)}", file=str(path))
            header = json.loads(str(z["header"]))
            win = Window(**header["window"])
            bits, values = z["mask_bits"], z["values"]
        n = win.size * win.size
        if bits.dtype != np.uint8 or bits.size * 8 < n:
            raise InputError(f"mask has {bits.size * 8} bits, expected {n}", file=str(path))
        mask = np.unpackbits(bits, count=n).astype(bool).reshape(win.size, win.size)
        if values.shape != (int(mask.sum()),):
            raise InputError(f"{values.size} values for {int(mask.sum())} valid cells", file=str(path))
        prob = np.zeros(mask.shape, dtype=np.float32)
        prob[mask] = values
        prob, mask = north_up_from_header(header, prob, mask)
        return cls._validated(path, win, prob, mask, header)

    @classmethod
    def _load_geotiff(cls, path: Path) -> "DiffusionMap":
        with rasterio.open(path) as src:
            data = src.read(1).astype(np.float32)
            tags = src.tags()
            t = src.transform
            header = json.loads(tags["deepmend"]) if "deepmend" in tags else {"site_id": "", "model": "", "meta": {}}
            if src.crs is None:
                raise InputError("GeoTIFF has no CRS", file=str(path))
            if src.width != src.height or abs(t.a + t.e) > 1e-9:
                raise InputError(f"expected a square north-up grid, got {src.width}×{src.height}", file=str(path))
            win = Window(src.crs.to_string(), float(t.c), float(t.f + t.e * src.height), src.width, float(t.a))
        mask = np.isfinite(data)
        return cls._validated(path, win, np.where(mask, data, 0).astype(np.float32), mask, header)

    @classmethod
    def _validated(cls, path: Path, win: Window, prob: np.ndarray, mask: np.ndarray, header: dict) -> "DiffusionMap":
        if prob.shape != (win.size, win.size) or mask.shape != prob.shape:
            raise InputError(f"array shape {prob.shape} does not match the {win.size}×{win.size} window", file=str(path))
        if not np.isfinite(prob).all():
            raise InputError("probabilities contain NaN or infinity", file=str(path))
        if (prob < 0).any():
            raise InputError("negative probabilities", file=str(path))
        total = float(prob[mask].sum(dtype=np.float64))
        if prob[~mask].any() or abs(total - 1.0) > 1e-3:
            raise InputError(f"probabilities must sum to 1 on valid cells and be 0 elsewhere (sum = {total:.6f})", file=str(path))
        return cls(win, prob.astype(np.float32), mask, header.get("site_id", ""), header.get("model", ""), header.get("meta", {}))


def load_map(path: str | Path) -> DiffusionMap:
    """Read a map written by deepmend (``.npz`` or GeoTIFF) as a north-up :class:`DiffusionMap`.

    Format of METHOD.md §6; a version-1 ``.npz`` (rows northward) is turned north-up.

    Parameters
    ----------
    path : str or Path
        The map file.

    Returns
    -------
    DiffusionMap
        ``prob`` and ``mask`` of shape (size, size), row 0 = north.

    Raises
    ------
    InputError
        If the file is missing, unreadable or not a valid probability map.
    """
    return DiffusionMap.load(path)


def finalize(prob: np.ndarray, mask: np.ndarray, fallback_rc: tuple[int, int] | None = None) -> np.ndarray:
    """Zero outside the mask and normalise to 1; an all-zero map gets its mass at ``fallback_rc``.

    The fallback (the valid cell nearest the BS) keeps every BS's map a probability even
    when its Voronoi cell holds no cell centre or lies at sea (METHOD.md §1).

    Parameters
    ----------
    prob : numpy.ndarray, shape (H, W)
        Unnormalised non-negative weights, in any row order.
    mask : numpy.ndarray of bool, shape (H, W)
        Valid cells, same row order.
    fallback_rc : tuple of int, optional
        (row, col) of the BS in the same row order; without it an all-zero map stays zero.

    Returns
    -------
    numpy.ndarray of float32, shape (H, W)
        P(ℓ|i): zero outside ``mask``, summing to 1 over it (or all zero when the mask is
        empty or no fallback was given).
    """
    p = np.where(mask, prob, 0).astype(np.float32, copy=False)
    total = float(p.sum(dtype=np.float64))
    if total > 0 and np.isfinite(total):
        p *= np.float32(1.0 / total)
        return p
    out = np.zeros(mask.shape, dtype=np.float32)
    if fallback_rc is not None and mask.any():
        rr, cc = np.nonzero(mask)
        k = int(np.argmin((rr - fallback_rc[0]) ** 2 + (cc - fallback_rc[1]) ** 2))
        out[rr[k], cc[k]] = 1.0
    return out
