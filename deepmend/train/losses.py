"""Losses and the output transforms they imply.

Two heads, both on the coarse grid (mass per coarse cell, ``frac`` = valid fraction of
each coarse cell, the mask channel):

* ``reference`` (METHOD.md §2): the network regresses y with p = 10^(−1/y) (y ≤ 0 → 0)
  the per-100 m-cell probability; the target is y* = −1/log10(p*), mean squared error on
  valid cells. The transform compresses 10 decades of probability into y ∈ (0, 0.5],
  but the loss weighs every cell the same, so the far tail (most cells, little mass)
  dominates while the mass near the BS — what KS and EMD measure — is weighted little.
* ``kl``: the network outputs a log-density z per fine cell; the coarse mass is
  q ∝ exp(z)·frac (a softmax over valid cells), and the loss is KL(teacher ‖ q). Each
  cell counts by its mass, which is what the distribution metrics weigh, and the
  output is a probability by construction (no post-hoc normalisation surprise).
* ``kl+ks``: KL plus ``ks_weight`` × the 2-D KS distance between q and the target,
  computed exactly as the metric (one cumulative sum, max over quadrants) — a
  subgradient that pushes directly on the worst quadrant.
* ``kl+ks+emd``: plus ``emd_weight`` × a sliced Wasserstein-1 distance (km) between q and
  the target: the mean over 8 directions of the 1-D W1 of the projected masses. KL and KS
  are blind to *how far* misplaced mass sits; EMD (the other evaluation metric) is not, and
  the sliced W1 is a cheap differentiable lower bound of it that punishes a map spread too
  wide or too narrow by the distance involved.

:func:`to_mass` turns the raw network output into coarse masses for either head, so the
validation metric is computed the same way whatever the loss.

Sources: the reference head is the reference code's (Martínez-Durive et al., SECON 2024);
KL divergence (Kullback & Leibler 1951); 2-D KS (Peacock 1983; Fasano & Franceschini 1987,
METHOD.md §3); sliced Wasserstein distance (Bonneel et al. 2015). Maps are (B, H, W) on the
network's coarse grid, in the scene's lattice order (row 0 = south).
"""

from __future__ import annotations

import torch

from deepmend.models.deepmend.head import HEADS as LOSSES
from deepmend.models.deepmend.head import reference_prob

__all__ = ["LOSSES", "reference_prob", "log_mass", "to_mass", "loss_fn", "ks2d_torch", "sliced_w1", "init_head_bias"]
#: Size (km) of a fine cell of the METHOD.md grid; coarse cells are ``factor`` times it.
CELL_KM = 0.1
SLICES = 8
#: Floor of the per-cell probability in the reference target (y* ≥ 1/30).
P_FLOOR = 1e-30


def log_mass(z: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """log q for the log-density head: log-softmax of z + log(frac) over valid cells (−inf elsewhere).

    Parameters
    ----------
    z : torch.Tensor, shape (B, H, W)
        Log-density per coarse cell.
    frac : torch.Tensor, shape (B, H, W)
        Valid fraction of each coarse cell, in [0, 1].

    Returns
    -------
    torch.Tensor, shape (B, H, W)
        log q, each map's q summing to 1 over cells with frac > 0.
    """
    logits = z + torch.log(frac.clamp_min(1e-12))
    logits = torch.where(frac > 0, logits, torch.full_like(logits, -1e30))
    return logits - torch.logsumexp(logits.flatten(1), dim=1)[:, None, None]


def to_mass(out: torch.Tensor, frac: torch.Tensor, kind: str, factor: int) -> torch.Tensor:
    """Coarse masses (sum 1 per map) from the raw output of either head.

    Parameters
    ----------
    out : torch.Tensor, shape (B, H, W)
        Raw network output.
    frac : torch.Tensor, shape (B, H, W)
        Valid fraction of each coarse cell.
    kind : str
        The head (:data:`~deepmend.models.deepmend.head.HEADS`).
    factor : int
        Fine cells per coarse cell side (unused by the log-density heads).

    Returns
    -------
    torch.Tensor, shape (B, H, W)
        Masses, each map summing to 1.
    """
    if kind == "reference":
        m = reference_prob(out) * frac
        return m / m.flatten(1).sum(1).clamp_min(1e-30)[:, None, None]
    return torch.exp(log_mass(out, frac))


def ks2d_torch(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Batched 2-D KS distance (same definition as :func:`deepmend.metrics.ks2d`), differentiable.

    Parameters
    ----------
    p, q : torch.Tensor, shape (B, H, W)
        Mass maps.

    Returns
    -------
    torch.Tensor, shape (B,)
    """
    d = p - q
    c = torch.nn.functional.pad(d.cumsum(-2).cumsum(-1), (1, 0, 1, 0))
    rows = c[..., :, -1:]
    cols = c[..., -1:, :]
    total = c[..., -1:, -1:]
    quads = torch.stack([c, rows - c, cols - c, total - rows - cols + c], dim=1)
    return quads.abs().flatten(1).max(dim=1).values


_BINS: dict = {}


def _slice_bins(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Per direction, the 1-cell-wide bin of every coarse cell's projection (cached per shape)."""
    key = (h, w, str(device))
    if key not in _BINS:
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
        th = torch.arange(SLICES, dtype=torch.float32) * (torch.pi / SLICES)
        proj = xx.reshape(1, -1) * torch.cos(th)[:, None] + yy.reshape(1, -1) * torch.sin(th)[:, None]
        idx = torch.round(proj - proj.min(dim=1, keepdim=True).values).long()
        _BINS[key] = (idx.to(device), int(idx.max()) + 1)
    return _BINS[key]


def sliced_w1(p: torch.Tensor, q: torch.Tensor, cell_km: float) -> torch.Tensor:
    """Batched sliced Wasserstein-1 (km) between coarse mass maps (B, H, W) summing to 1.

    The mean over 8 directions of the 1-D W1 of the projected masses (Bonneel et al. 2015): a lower
    bound of the 2-D W1.

    Parameters
    ----------
    p, q : torch.Tensor, shape (B, H, W)
        Mass maps.
    cell_km : float
        Coarse cell side in km.

    Returns
    -------
    torch.Tensor, shape (B,)
        km.
    """
    b, h, w = p.shape
    idx, nb = _slice_bins(h, w, p.device)
    d = (p - q).reshape(b, -1)
    total = torch.zeros(b, device=p.device, dtype=p.dtype)
    for k in range(SLICES):
        hist = torch.zeros(b, nb, device=p.device, dtype=p.dtype).index_add_(1, idx[k], d)
        total = total + hist.cumsum(1).abs().sum(1)
    return total * (cell_km / SLICES)


def loss_fn(out: torch.Tensor, target: torch.Tensor, frac: torch.Tensor, kind: str, factor: int, ks_weight: float = 1.0, emd_weight: float = 0.1,
            kl_weight: float = 1.0) -> torch.Tensor:
    """Mean loss over the batch. ``target`` is the coarse teacher mass (sums to 1).

    ``kl_weight`` scales the KL term of the distribution losses: KL(target ‖ q) is
    mass-covering (a cell where the target has mass and q has little costs without bound),
    so over a family of worlds it pulls q towards the *mixture* of their maps and its wide
    tails; a small ``kl_weight`` with a large ``emd_weight`` trains towards the maps' W1
    barycentre instead, which punishes mass by how far it is misplaced, as the EMD does.

    Parameters
    ----------
    out : torch.Tensor, shape (B, H, W)
        Raw network output.
    target : torch.Tensor, shape (B, H, W)
        Teacher (or ground-truth) coarse masses.
    frac : torch.Tensor, shape (B, H, W)
        Valid fraction of each coarse cell.
    kind : {"reference", "kl", "kl+ks", "kl+ks+emd"}
        The loss (see the module docstring).
    factor : int
        Fine cells per coarse cell side.
    ks_weight : float, default 1.0
        Weight of the KS term.
    emd_weight : float, default 0.1
        Weight of the sliced W1 term (per km).
    kl_weight : float, default 1.0
        Weight of the KL term.

    Returns
    -------
    torch.Tensor
        Scalar.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "reference":
        density = target / (frac * factor**2).clamp_min(1e-12)
        y_star = -1.0 / torch.log10(density.clamp_min(P_FLOOR))
        valid = frac > 0
        return ((out - y_star) ** 2)[valid].mean()
    lq = log_mass(out, frac)
    kl = (torch.xlogy(target, target) - torch.where(target > 0, target * lq, torch.zeros_like(lq))).flatten(1).sum(1)
    kl = kl_weight * kl
    if kind == "kl":
        return kl.mean()
    if kind == "kl+ks":
        return kl.mean() + ks_weight * ks2d_torch(torch.exp(lq), target).mean()
    if kind == "kl+ks+emd":
        q = torch.exp(lq)
        return kl.mean() + ks_weight * ks2d_torch(q, target).mean() + emd_weight * sliced_w1(q, target, CELL_KM * factor).mean()
    raise ValueError(f"unknown loss {kind!r}; valid: {', '.join(LOSSES)}")


def init_head_bias(kind: str) -> float:
    """A sensible start for the head's bias: y ≈ 0.2 (p ≈ 1e-5) or z = 0.

    Parameters
    ----------
    kind : str
        The head.

    Returns
    -------
    float
    """
    return 0.2 if kind == "reference" else 0.0

