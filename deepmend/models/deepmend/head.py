"""The network's output heads and their transform to probabilities (METHOD.md §2).

* ``reference``: the network regresses y with p = 10^(−1/y) for y > 0, else 0
  (Martínez-Durive et al., SECON 2024, the reference code's output transform);
* ``kl``, ``kl+ks``, ``kl+ks+emd``: the network outputs a log-density z per cell,
  p ∝ exp(z) over the valid cells (the losses that train each are in
  :mod:`deepmend.train.losses`).
"""

from __future__ import annotations

#: Every head a weights file may declare (its ``loss`` field).
HEADS = ("reference", "kl", "kl+ks", "kl+ks+emd")


def reference_prob_np(y):
    """p = 10^(−1/y) for y > 0, else 0 (numpy array in, float32 array out, same shape).

    The reference code's output transform (Martínez-Durive et al., SECON 2024).

    Parameters
    ----------
    y : array_like
        Network outputs, any shape (e.g. (B, H, W)).

    Returns
    -------
    numpy.ndarray of float32, shape of ``y``
        p in [0, 1) per cell, unnormalised.
    """
    import numpy as np

    y = np.asarray(y, dtype=np.float32)
    safe = np.where(y > 0, y, np.float32(1))
    return np.where(y > 0, np.power(np.float32(10), np.float32(-1) / safe), np.float32(0)).astype(np.float32)


def reference_prob(y):
    """p = 10^(−1/y) for y > 0, else 0 (torch tensor in, torch tensor out, same shape).

    The reference code's output transform (Martínez-Durive et al., SECON 2024), differentiable.

    Parameters
    ----------
    y : torch.Tensor
        Network outputs, any shape.

    Returns
    -------
    torch.Tensor, shape of ``y``
        p in [0, 1) per cell, unnormalised.
    """
    import torch

    safe = torch.where(y > 0, y, torch.ones_like(y))
    return torch.where(y > 0, torch.pow(10.0, -1.0 / safe), torch.zeros_like(y))
