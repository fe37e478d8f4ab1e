"""Shared input checks for the metrics.

Every metric compares maps on one grid, so a shape mismatch is always a caller
bug (e.g. a transposed array or a map from another window); failing loudly here
is cheaper than returning a plausible-looking but meaningless number. These are
checks, not formulas: the definitions they guard are the standard definitions
cited by each metric module.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_map(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a 2-D float64 map, refusing anything else.

    float64 so that sums over 360 000 float32 cells do not lose the ~1e-4 relative
    precision float32 would.

    Parameters
    ----------
    x : array_like, shape (H, W)
        A map (probabilities or any per-cell value), in either row order.
    name : str
        The argument's name, used in the error message.

    Returns
    -------
    numpy.ndarray of float64, shape (H, W)
        ``x`` converted (a copy only when the dtype changes).

    Raises
    ------
    ValueError
        If ``x`` is not 2-D or holds NaN/±inf.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D map, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def same_shape(a: NDArray, b: NDArray, na: str, nb: str) -> None:
    """Check that two maps lie on the same grid.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (H, W)
        The two maps.
    na, nb : str
        Their names, used in the error message.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If ``a.shape != b.shape``.
    """
    if a.shape != b.shape:
        raise ValueError(f"{na} and {nb} must share a grid: {a.shape} vs {b.shape}")
