"""Shared input checks for the metrics.

Every metric compares maps on one grid, so a shape mismatch is always a caller
bug (e.g. a transposed array or a map from another window); failing loudly here
is cheaper than returning a plausible-looking but meaningless number.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_map(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a 2-D float64 array (float64 so that sums over 360 000
    float32 cells do not lose the ~1e-4 relative precision float32 would)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D map, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def same_shape(a: NDArray, b: NDArray, na: str, nb: str) -> None:
    """Raise if two maps are not on the same grid."""
    if a.shape != b.shape:
        raise ValueError(f"{na} and {nb} must share a grid: {a.shape} vs {b.shape}")
