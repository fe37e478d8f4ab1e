"""Compact on-disk storage of ground-truth maps for datasets (``groundtruth build``).

A 600×600 float32 map is 1.4 MB; a country of them would not fit on a laptop. Maps
are stored *sparse above a floor* (P ≥ floor·max P, the project's one meaning of a floor): the flat indices and float32 values of the cells
with P ≥ ``floor``, the mask bit-packed, and the JSON header of a DiffusionMap whose
``meta.storage`` records the floor and the mass that was dropped (``lost_mass``). On
load the kept mass is renormalised to 1, so a compact map is a valid DiffusionMap.

Arrays in the ``.npz``: ``index`` (uint32), ``values`` (float32), ``mask_bits``
(uint8, ``np.packbits`` of the row-major mask), ``header`` (JSON string). Arrays are
north-up (header ``version`` 2); files of version 1 ran northward and are flipped on load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import FORMAT_VERSION, DiffusionMap, north_up_from_header
from deepmend.grid.lattice import Window
from deepmend.io import atomic_path

#: Relative floor: cells with P ≥ floor·max(P) are kept (the project's one meaning of ``--floor``, as in the batch engine).
DEFAULT_FLOOR = 1e-7
COMPACT_KEYS = {"index", "values", "mask_bits", "header"}


def save_compact(m: DiffusionMap, path: str | Path, floor: float = DEFAULT_FLOOR) -> float:
    """Write ``m`` sparse, keeping cells with P ≥ ``floor``·max(P); returns the lost mass (also stored in the header)."""
    flat = m.prob.ravel()
    top = float(flat.max()) if flat.size else 0.0
    idx = np.flatnonzero(flat >= np.float32(floor * top) if floor > 0 and top > 0 else flat > 0).astype(np.uint32)
    vals = flat[idx].astype(np.float32)
    lost = float(max(0.0, 1.0 - vals.sum(dtype=np.float64)))
    meta = dict(m.meta)
    meta["storage"] = {"format": "sparse", "floor": floor, "lost_mass": lost, "kept_cells": int(idx.size)}
    header = {"version": FORMAT_VERSION, "window": m.window.as_dict(), "site_id": m.site_id, "model": m.model, "meta": meta}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, index=idx, values=vals, mask_bits=np.packbits(m.mask.ravel()), header=np.array(json.dumps(header)))
    return lost


def is_compact(path: str | Path) -> bool:
    """Whether ``path`` is a readable ``.npz`` holding the compact arrays (``index``, ``values``, ``mask_bits``, ``header``); never raises."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return COMPACT_KEYS <= set(z.files)
    except Exception:
        return False


def read_header(path: str | Path) -> dict:
    """The JSON header of a standard or compact ``.npz`` map (cheap: no arrays decoded).

    Raises
    ------
    InputError
        If the file cannot be read as an ``.npz`` with a JSON header.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["header"]))
    except Exception as exc:
        raise InputError(f"not a readable map header ({type(exc).__name__})", file=str(path)) from None


def load_compact(path: str | Path) -> DiffusionMap:
    """A compact map back as a dense DiffusionMap (renormalised; validated).

    Raises
    ------
    InputError
        If an array is missing, the file is unreadable, the sparse indices fall outside the
        window, or the values are NaN, infinite or negative.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = COMPACT_KEYS - set(z.files)
            if missing:
                raise InputError(f"missing arrays {sorted(missing)}", file=str(path))
            header = json.loads(str(z["header"]))
            idx, vals, bits = z["index"], z["values"], z["mask_bits"]
        win = Window(**header["window"])
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"not a readable compact map ({type(exc).__name__}: {exc})", file=str(path)) from None
    n = win.size * win.size
    if idx.size and (int(idx.max()) >= n or idx.size != vals.size):
        raise InputError(f"sparse indices do not fit the {win.size}×{win.size} window", file=str(path))
    if not np.isfinite(vals).all() or (vals < 0).any():
        raise InputError("values contain NaN, infinity or negative numbers", file=str(path))
    prob = np.zeros(n, dtype=np.float64)
    prob[idx] = vals
    mask = np.unpackbits(bits, count=n).astype(bool)
    total = prob.sum()
    if total <= 0:
        raise InputError("map holds no mass", file=str(path))
    prob = (prob / total).astype(np.float32).reshape(win.size, win.size)
    prob, mask = north_up_from_header(header, prob, mask.reshape(win.size, win.size))
    return DiffusionMap._validated(path, win, prob, mask, header)
