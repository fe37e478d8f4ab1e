"""A diffusion map P(ℓ|i): a window, float32 probabilities and the mask of valid cells.

Saved as ``.npz`` (exact, with metadata; only the valid cells' float32 values and a
bit-packed mask are stored, uncompressed — zlib on float32 costs ~50 ms a map for a
factor of three, while dropping masked cells is free) or GeoTIFF (for GIS tools, with its
CRS). Both writers are atomic, and the loaders validate what they read, so a corrupt or
foreign file is reported instead of silently used.
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

FORMAT_VERSION = 1


@dataclass
class DiffusionMap:
    """P over a window: ≥ 0, zero outside ``mask``, summing to 1 over it."""

    window: Window
    prob: np.ndarray  # float32 (size, size), rows northward
    mask: np.ndarray  # bool (size, size)
    site_id: str = ""
    model: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (self.window.size, self.window.size)
        if self.prob.shape != shape or self.mask.shape != shape:
            raise ValueError(f"map arrays must be {shape}, got {self.prob.shape} and {self.mask.shape}")

    # --- .npz -------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write to ``.npz`` or ``.tif``/``.tiff`` by the suffix, atomically."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, values=self.prob[self.mask].astype(np.float32), mask_bits=np.packbits(self.mask), header=np.array(json.dumps(self._header())))
        elif suffix in (".tif", ".tiff"):
            self._save_geotiff(path)
        else:
            raise InputError("unsupported map format, use .npz or .tif", file=str(path), value=suffix)
        return path

    def _header(self) -> dict:
        return {"version": FORMAT_VERSION, "window": self.window.as_dict(), "site_id": self.site_id, "model": self.model, "meta": self.meta}

    def _save_geotiff(self, path: Path) -> None:
        data = np.where(self.mask, self.prob, np.nan).astype(np.float32)[::-1]
        profile = {
            "driver": "GTiff", "width": self.window.size, "height": self.window.size, "count": 1, "dtype": "float32",
            "crs": self.window.crs, "transform": self.window.transform, "nodata": float("nan"), "compress": "deflate",
        }
        with atomic_path(path) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(data, 1)
                dst.update_tags(deepmend=json.dumps(self._header()), site_id=self.site_id, model=self.model)
                dst.set_band_description(1, "P(location | base station); NaN = masked")

    @classmethod
    def load(cls, path: str | Path) -> "DiffusionMap":
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

        check_npz(path)  # a crafted archive is refused before np.load allocates what it declares
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
        return cls._validated(path, win, prob, mask, header)

    @classmethod
    def _load_geotiff(cls, path: Path) -> "DiffusionMap":
        with rasterio.open(path) as src:
            data = src.read(1).astype(np.float32)[::-1]
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


def finalize(prob: np.ndarray, mask: np.ndarray, fallback_rc: tuple[int, int] | None = None) -> np.ndarray:
    """Zero outside the mask and normalise to 1; an all-zero map gets its mass at ``fallback_rc``.

    The fallback (the valid cell nearest the BS) keeps every BS's map a probability even
    when its Voronoi cell holds no cell centre or lies at sea.
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
