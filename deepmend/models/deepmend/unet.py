"""A small U-Net (Ronneberger et al. 2015; METHOD.md §2: "a convolutional encoder–decoder, U-Net family").

Sized for 2 CPU cores: ``base`` channels at the top level doubling per level
(16-32-64-128 for the default 4 levels), two 3×3 conv + BatchNorm + ReLU per block,
max-pool down, 1×1 conv + bilinear up (cheaper than transposed convolutions and free
of their checkerboard artefacts, which would show up as KS noise). The network is fully
convolutional; inputs whose sides are not a multiple of 2^(levels−1) are padded by
replication and the output is cropped back, so 150×150 (400 m cells) works as is.

The head outputs one channel: a log-density (``kind='kl'``) or the reference's ``y``
(``kind='reference'``, p = 10^(−1/y)); the interpretation lives in the losses and in
the model's post-processing, not here.

Optional **radial envelope** (``envelope=True``, issue 19): the log-density gets a
per-BS radial taper added, z(ℓ) + log τ(r_ℓ), with τ(r) = exp(−(r/R)^β), r the distance
(km) of the cell centre to the window centre (the BS), R a *support radius predicted per
BS* from the globally pooled bottleneck features (R = R0·exp(a·g + b), zero-initialised so
R = R0 = 40 km and β = 2 at the start: a mild taper, −0.06 at 10 km and −0.56 at 30 km in
log-density, so a network fine-tuned from weights without it starts close to where they were), and β > 0.5 one
learned exponent shared by all BSs. A U-Net's convolutions see a few km around each
cell; far mass is decided cell by cell where the inputs are flat. The envelope gives the
network one global, per-BS knob that cuts the tail wherever it lies, and a loss that
weighs distance (sliced W1, :mod:`deepmend.train.losses`) calibrates it end to end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Support radius (km) of the envelope at initialisation (≈ no taper inside a 60 km window).
ENVELOPE_R0_KM = 40.0


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the U-Net, stored in the weights' JSON.

    Parameters
    ----------
    in_channels : int, default 4
        Input channels (the reference: three distance channels and the mask, METHOD.md §2; more for ablations, deepmend.models.features).
    base : int, default 16
        Channels of the top level; doubled at each level down.
    levels : int, default 4
        Resolution levels (inputs are padded to a multiple of 2^(levels−1)).
    """
    in_channels: int = 4
    base: int = 16
    levels: int = 4
    #: Radial envelope with a per-BS learned support radius (see the module docstring).
    envelope: bool = False
    #: Size (km) of one cell of the network's grid (the envelope's distances).
    cell_km: float = 0.5

    def as_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    """Two 3×3 convolutions, each followed by BatchNorm (Ioffe & Szegedy 2015) and ReLU; keeps H × W.

    Parameters
    ----------
    cin, cout : int
        Input and output channels.
    """
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UNet(nn.Module):
    """The U-Net of the module docstring (Ronneberger et al. 2015), fully convolutional.

    Input (B, C, H, W) float32 channels of the BS's window on the network's coarse grid, in the
    scene's lattice order (row 0 = south); output (B, H, W), one value per cell (log-density or
    the reference head's y, :mod:`deepmend.models.deepmend.head`).

    Parameters
    ----------
    cfg : UNetConfig, default UNetConfig()
        The architecture.
    """
    def __init__(self, cfg: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.base * 2**k for k in range(cfg.levels)]
        self.down = nn.ModuleList()
        cin = cfg.in_channels
        for w in widths:
            self.down.append(Block(cin, w))
            cin = w
        self.reduce = nn.ModuleList(nn.Conv2d(widths[k + 1], widths[k], 1) for k in range(cfg.levels - 1))
        self.up = nn.ModuleList(Block(2 * widths[k], widths[k]) for k in range(cfg.levels - 1))
        self.head = nn.Conv2d(widths[0], 1, 1)
        if cfg.envelope:
            self.radius = nn.Linear(widths[-1], 1)
            nn.init.zeros_(self.radius.weight)
            nn.init.zeros_(self.radius.bias)
            # β = 0.5 + softplus(raw): raw = log(e^1.5 − 1) gives β = 2 at the start
            self.beta_raw = nn.Parameter(torch.tensor(float(torch.log(torch.expm1(torch.tensor(1.5))))))

    @property
    def multiple(self) -> int:
        return 2 ** (self.cfg.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, H, W)."""
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for k, block in enumerate(self.down):
            if k:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        bottleneck = x
        for k in reversed(range(self.cfg.levels - 1)):
            x = F.interpolate(self.reduce[k](x), scale_factor=2.0, mode="bilinear", align_corners=False)
            x = self.up[k](torch.cat([skips[k], x], dim=1))
        z = self.head(x)[:, 0, :h, :w]
        if self.cfg.envelope:
            z = z + self.log_envelope(bottleneck, h, w)
        return z

    def support_radius_km(self, bottleneck: torch.Tensor) -> torch.Tensor:
        """Per-BS support radius R (km), shape (B,), from the pooled bottleneck features."""
        return ENVELOPE_R0_KM * torch.exp(self.radius(bottleneck.mean(dim=(2, 3)))[:, 0])

    def log_envelope(self, bottleneck: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """log τ = −(r/R)^β on the (h, w) grid, r = distance (km) to the window centre; (B, h, w)."""
        c = self.cfg.cell_km
        yy = (torch.arange(h, dtype=bottleneck.dtype, device=bottleneck.device) - (h - 1) / 2) * c
        xx = (torch.arange(w, dtype=bottleneck.dtype, device=bottleneck.device) - (w - 1) / 2) * c
        r = torch.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2)
        beta = 0.5 + F.softplus(self.beta_raw)
        radius = self.support_radius_km(bottleneck)
        return -torch.pow(r[None] / radius[:, None, None], beta)


def n_parameters(model: nn.Module) -> int:
    """Number of scalars in ``model.parameters()`` (BatchNorm running statistics, being buffers, excluded).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters())
