"""Training loop of the DeepMEND student: seeds, checkpoints, resume, loss log, best-model export.

Design for a 2-core CPU budget (≤ 60 min for the shipped model): the network trains on
the coarse grid (``factor`` 4 → 150×150 cells of 400 m) where a step costs ~16× less
than at 600×600; the shards hold inputs and teacher labels already coarsened, so an
epoch is pure network time. A GPU is used when present (``--device auto``).

Optimiser AdamW (Loshchilov & Hutter 2019) with a linear warm-up and cosine decay of the
learning rate (Loshchilov & Hutter 2017); the losses are those of
:mod:`deepmend.train.losses`, the recipe is in docs/MODEL_CARD.md (METHOD.md §2).

Outputs in ``--out``:

* ``deepmend.npz`` + ``deepmend.json`` — the best weights so far (by validation KS to
  the teacher), in the shipped, pickle-free format, with the training record;
* ``checkpoint.pt`` — model + optimiser + scheduler + RNG states after each epoch,
  loaded with ``torch.load(weights_only=True)`` by ``--resume``;
* ``log.csv`` / ``log.json`` — per epoch: train loss, validation loss, validation KS
  (coarse grid) to the teacher and to the ground truth, seconds.
"""

from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from deepmend.log import progress as tqdm
from deepmend.log import progress_write

from deepmend.errors import InputError
from deepmend.io import atomic_path
from deepmend.models.features import CHANNELS
from deepmend.train.dataset import MapDataset, Shards
from deepmend.train.losses import LOSSES, init_head_bias, ks2d_torch, loss_fn, to_mass
from deepmend.models.deepmend.unet import UNet, UNetConfig, n_parameters


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (recorded in the weights' JSON).

    Parameters
    ----------
    epochs : int, default 12
    batch_size : int, default 8
    lr : float, default 3e-3
        Peak learning rate of AdamW.
    weight_decay : float, default 1e-4
    loss : str, default "kl"
        One of :data:`~deepmend.train.losses.LOSSES` (the head follows from it).
    ks_weight, emd_weight : float, default 1.0, 0.1
        Weights of the KS and sliced-W1 terms.
    factor : int, default 4
        Fine 100 m cells per coarse cell side (4 → 400 m).
    base, levels : int, default 16, 4
        U-Net width and depth.
    seed : int, default 0
    target : {"teacher", "gt"}, default "teacher"
        What the network is trained (and its best epoch chosen) to reproduce.
    crop : int, optional
        Random crop side (coarse cells) for augmentation.
    max_minutes : float, optional
        Stop after the epoch that passes this wall-clock budget.
    device : str, default "auto"
        "auto" (CUDA when available), "cpu", "cuda", …
    channels : tuple of str, default CHANNELS
        Input channel set (:mod:`deepmend.models.features`); must match the shards' ``x``.
    extra : dict
        Free-form notes stored with the record.
    """
    epochs: int = 12
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    loss: str = "kl"
    ks_weight: float = 1.0
    emd_weight: float = 0.1
    kl_weight: float = 1.0
    factor: int = 4
    base: int = 16
    levels: int = 4
    seed: int = 0
    target: str = "teacher"
    crop: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    #: Radial envelope with a per-BS support radius (:class:`UNetConfig`).
    envelope: bool = False
    #: Weights (.json) to start from (fine-tuning); tensors the new network lacks are refused,
    #: new ones (the envelope's) keep their initialisation.
    init: str | None = None
    #: Learning-rate multiple of the envelope's parameters (no weight decay): Adam moves a
    #: parameter by about the learning rate per step, so at the network's rate the support
    #: radius could change by ~10 % over a short fine-tuning (measured: 40 → 38–46 km).
    envelope_lr_scale: float = 30.0
    #: Input channels, in order (the reference set by default; issue 19's ablation adds more).
    channels: tuple[str, ...] = CHANNELS
    extra: dict = field(default_factory=dict)

    def arch(self) -> UNetConfig:
        return UNetConfig(in_channels=len(self.channels), base=self.base, levels=self.levels, envelope=self.envelope, cell_km=0.1 * self.factor)

    @property
    def mask_index(self) -> int:
        """Position of the ``mask`` channel (the valid fraction the losses read)."""
        return list(self.channels).index("mask")


#: The first convolution of the U-Net (the only tensor whose shape depends on the input channels).
FIRST_CONV = "down.0.net.0.weight"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (every device) with ``seed``.

    Parameters
    ----------
    seed : int
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """The torch device of a ``--device`` value: "auto" is CUDA when available, else CPU.

    Parameters
    ----------
    name : str
        "auto" or any name ``torch.device`` accepts.

    Returns
    -------
    torch.device
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_factor(step: int, total: int, warmup: float = 0.05) -> float:
    """Linear warm-up then cosine decay to 2 % of the peak; a pure function of (step, total), so
    ``--resume`` with more ``--epochs`` simply stretches the remaining schedule.

    Warm-up then cosine annealing (Loshchilov & Hutter 2017), without restarts.

    Parameters
    ----------
    step : int
        Optimiser step, from 0.
    total : int
        Total steps of the run.
    warmup : float, default 0.05
        Fraction of the steps spent warming up.

    Returns
    -------
    float
        Multiplier of the peak learning rate, in (0, 1].
    """
    w = max(1, int(warmup * total))
    if step < w:
        return (step + 1) / w
    t = min(1.0, (step - w) / max(1, total - w))
    return float(0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * t)))


def param_groups(net: UNet, cfg: TrainConfig) -> list[dict]:
    """The network's parameters; the envelope's (support radius, exponent) in a group of their own.

    Parameters
    ----------
    net : UNet
        The network.
    cfg : TrainConfig
        ``lr`` and ``envelope_lr_scale`` (the envelope's group has no weight decay).

    Returns
    -------
    list of dict
        AdamW parameter groups (Loshchilov & Hutter 2019).
    """
    env = [p for n, p in net.named_parameters() if n.startswith("radius.") or n == "beta_raw"]
    rest = [p for n, p in net.named_parameters() if not (n.startswith("radius.") or n == "beta_raw")]
    groups = [{"params": rest}]
    if env:
        groups.append({"params": env, "lr": cfg.lr * cfg.envelope_lr_scale, "weight_decay": 0.0})
    return groups


def build_net(cfg: TrainConfig) -> UNet:
    """A fresh U-Net for ``cfg`` with the head's bias set for its loss (:func:`~deepmend.train.losses.init_head_bias`).

    Parameters
    ----------
    cfg : TrainConfig

    Returns
    -------
    UNet

    Raises
    ------
    InputError
        If ``cfg.init`` names weights of an incompatible head or whose tensors do not fit the
        architecture, or whose channels are not the first of ``cfg.channels``.

    Notes
    -----
    Weights trained on fewer channels start a run whose channel list begins with theirs: the
    first convolution's kernels of the old channels are copied and those of the new channels
    set to zero, so the network computes exactly the old function at the start (the new
    inputs enter through zero weights) and fine-tuning learns how much to use them.
    """
    net = UNet(cfg.arch())
    with torch.no_grad():
        net.head.bias.fill_(init_head_bias(cfg.loss))
    if cfg.init:
        from deepmend.models.deepmend import load_weights

        src, src_cfg, js = load_weights(cfg.init)
        if src_cfg["loss"] != cfg.loss and "reference" in (src_cfg["loss"], cfg.loss):  # another factor is allowed: the network is convolutional
            raise InputError(f"cannot start from these weights: head {src_cfg['loss']!r}, this run: {cfg.loss!r}", file=str(js))
        state = src.state_dict()
        own = net.state_dict()
        old, new = list(src_cfg["channels"]), list(cfg.channels)
        if old != new:
            if new[: len(old)] != old:
                raise InputError(f"cannot start from these weights: their channels {old} are not the first of this run's {new}", file=str(js))
            w = torch.zeros_like(own[FIRST_CONV])
            w[:, : len(old)] = state[FIRST_CONV]
            state = dict(state, **{FIRST_CONV: w})
        bad = [k for k in state if k not in own or own[k].shape != state[k].shape]
        if bad:
            raise InputError(f"cannot start from these weights: {len(bad)} tensor(s) do not fit this architecture, e.g. {bad[0]!r}", file=str(js))
        net.load_state_dict(state, strict=False)
    return net


@torch.no_grad()
def evaluate(net: UNet, x: np.ndarray, teacher: np.ndarray, gt: np.ndarray, cfg: TrainConfig, device: torch.device, batch: int = 16) -> dict:
    """Validation loss and mean coarse-grid KS to the teacher and to the ground truth.

    Parameters
    ----------
    net : UNet
        The network (put in eval mode).
    x : numpy.ndarray, shape (n, C, H, W)
        Coarse input channels (``cfg.channels``; ``mask`` is the valid fraction).
    teacher, gt : numpy.ndarray, shape (n, H, W)
        Coarse teacher and ground-truth masses.
    cfg : TrainConfig
    device : torch.device
    batch : int, default 16

    Returns
    -------
    dict
        ``val_loss``, ``val_ks_teacher``, ``val_ks_gt`` (2-D KS of Peacock 1983 on the coarse grid).
    """
    net.eval()
    losses, ks_t, ks_g = [], [], []
    for a in range(0, len(x), batch):
        xb = torch.from_numpy(x[a : a + batch].astype(np.float32)).to(device)
        tb = torch.from_numpy(teacher[a : a + batch]).to(device)
        gb = torch.from_numpy(gt[a : a + batch]).to(device)
        frac = xb[:, cfg.mask_index]
        out = net(xb)
        losses.append(float(loss_fn(out, tb, frac, cfg.loss, cfg.factor, cfg.ks_weight, cfg.emd_weight, cfg.kl_weight)) * len(xb))
        q = to_mass(out, frac, cfg.loss, cfg.factor)
        ks_t.append(ks2d_torch(q.double(), tb.double()).cpu().numpy())
        ks_g.append(ks2d_torch(q.double(), gb.double()).cpu().numpy())
    n = max(len(x), 1)
    return {"val_loss": sum(losses) / n, "val_ks_teacher": float(np.concatenate(ks_t).mean()), "val_ks_gt": float(np.concatenate(ks_g).mean())}


def train(train_data: Shards, val_data: Shards, out: Path, cfg: TrainConfig, resume: bool = False, split: dict | None = None, progress: bool = True) -> dict:
    """Train, checkpoint every epoch, export the best weights; returns the final record.

    Parameters
    ----------
    train_data, val_data : Shards
        Training and validation maps (:func:`deepmend.train.dataset.load_shards`).
    out : Path
        Output directory (weights, checkpoint, logs; see the module docstring).
    cfg : TrainConfig
    resume : bool, default False
        Continue from ``out/checkpoint.pt``.
    split : dict, optional
        The scenes of each split, stored in the record.
    progress : bool, default True
        Show a progress bar and per-epoch lines.

    Returns
    -------
    dict
        ``epochs`` (the per-epoch log), ``best`` (best validation KS) and the record.

    Raises
    ------
    InputError
        For an unknown loss, no training maps, or shards whose channels are not ``cfg.channels``.
    """
    from deepmend.models.deepmend import save_weights

    if cfg.loss not in LOSSES:
        raise InputError(f"unknown loss; valid: {', '.join(LOSSES)}", column="--loss", value=cfg.loss)
    if len(train_data) == 0:
        raise InputError("no training maps")
    if train_data.x.shape[1] != len(cfg.channels):
        raise InputError(f"the training shards hold {train_data.x.shape[1]} input channels, the run expects {len(cfg.channels)} ({', '.join(cfg.channels)})")
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    net = build_net(cfg).to(device)
    target = train_data.teacher if cfg.target == "teacher" else train_data.gt
    ds = MapDataset(train_data.x, target, augment=True, crop=cfg.crop, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=gen, drop_last=len(ds) > cfg.batch_size)
    opt = torch.optim.AdamW(param_groups(net, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = max(1, cfg.epochs * len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total_steps))
    ckpt_path = out / "checkpoint.pt"
    log: list[dict] = []
    start_epoch, best = 0, float("inf")
    if resume and ckpt_path.exists():
        try:
            ck = torch.load(ckpt_path, map_location=device, weights_only=True)
            net.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            sched.load_state_dict(ck["sched"])
            gen.set_state(ck["gen"])
            torch.set_rng_state(ck["torch_rng"])
            ds.rng = np.random.default_rng(int(ck["epoch"]) * 1000 + cfg.seed)
        except Exception as exc:
            raise InputError(f"cannot resume from checkpoint ({type(exc).__name__}: {exc}); delete it to start over", file=str(ckpt_path)) from None
        start_epoch, best = int(ck["epoch"]), float(ck["best"])
        if (out / "log.json").exists():
            log = json.loads((out / "log.json").read_text())["epochs"][:start_epoch]
    t_start = time.perf_counter()
    record = {"config": asdict(cfg), "arch": cfg.arch().as_dict(), "n_parameters": n_parameters(net), "n_train": len(train_data), "n_val": len(val_data), "split": split or {}}
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        t0, tot, n = time.perf_counter(), 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress, leave=False)
        for xb, tb in bar:
            xb, tb = xb.to(device), tb.to(device)
            loss = loss_fn(net(xb), tb, xb[:, cfg.mask_index], cfg.loss, cfg.factor, cfg.ks_weight, cfg.emd_weight, cfg.kl_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            tot += loss.item() * len(xb)
            n += len(xb)
            bar.set_postfix(loss=f"{tot / n:.4f}")
        row = {"epoch": epoch + 1, "train_loss": tot / max(n, 1), "lr": sched.get_last_lr()[0]}
        if len(val_data):
            row.update(evaluate(net, val_data.x, val_data.teacher, val_data.gt, cfg, device))
        row["seconds"] = time.perf_counter() - t0
        log.append(row)
        # best epoch by validation KS to what the network is trained to reproduce
        score = row.get("val_ks_gt" if cfg.target == "gt" else "val_ks_teacher", row["train_loss"])
        if score < best:
            best = score
            save_weights(net.state_dict(), {"arch": cfg.arch().as_dict(), "loss": cfg.loss, "factor": cfg.factor, "channels": list(cfg.channels),
                                            "training": dict(record, best_epoch=epoch + 1, best=row)}, out / "deepmend.json")
        with atomic_path(ckpt_path) as tmp:
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(),
                        "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "best": best}, tmp)
        _write_log(out, log, record)
        if progress:
            progress_write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        if cfg.max_minutes and (time.perf_counter() - t_start) / 60 > cfg.max_minutes:
            progress_write(f"stopping after {epoch + 1} epochs: --max-minutes {cfg.max_minutes} reached")
            break
    net.to("cpu")
    return {"epochs": log, "best": best, **record}


def _write_log(out: Path, log: list[dict], record: dict) -> None:
    with atomic_path(out / "log.json") as tmp:
        tmp.write_text(json.dumps({"record": record, "epochs": log}, indent=1))
    keys = list(dict.fromkeys(k for row in log for k in row))
    with atomic_path(out / "log.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(log)
