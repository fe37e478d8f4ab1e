"""``deepmend train``: the student network from a ground-truth dataset with teacher soft labels.

Heavy imports (torch) happen inside the command so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--data", required=True, type=click.Path(file_okay=False), help="Ground-truth dataset (from 'deepmend groundtruth build').")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for weights, checkpoint and loss log.")
@click.option("--val-cities", default="Nantes", show_default=True, help="Comma-separated cities held out for validation (never trained on).")
@click.option("--exclude-cities", default="", help="Comma-separated cities of the dataset not used at all (e.g. test cities).")
@click.option("--train-worlds", default="", help="Comma-separated world numbers of a randomised family (scenes SCENE#wN) to train on; default every training scene. Validation scenes are kept whatever their world.")
@click.option("--epochs", type=int, default=12, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--loss", type=click.Choice(["reference", "kl", "kl+ks", "kl+ks+emd"]), default="kl", show_default=True, help="Reference y-regression or distribution-aware loss.")
@click.option("--ks-weight", type=float, default=1.0, show_default=True, help="Weight of the KS term with --loss kl+ks[+emd].")
@click.option("--emd-weight", type=float, default=0.1, show_default=True, help="Weight (per km) of the sliced-W1 term with --loss kl+ks+emd.")
@click.option("--kl-weight", type=float, default=1.0, show_default=True, help="Weight of the KL term (a small one with a large --emd-weight trains towards the W1 barycentre of the worlds' maps).")
@click.option("--envelope", is_flag=True, help="Radial envelope with a per-BS learned support radius on the output (deepmend/models/deepmend/unet.py).")
@click.option("--init-weights", type=click.Path(dir_okay=False, exists=True), default=None, help="Start from these weights (.json) instead of a random initialisation (fine-tuning).")
@click.option("--target", type=click.Choice(["teacher", "gt"]), default="teacher", show_default=True, help="Train on teacher soft labels (reference) or raw ground truth.")
@click.option("--factor", type=int, default=4, show_default=True, help="Coarsening of the 600×600 window (4 → 150×150 cells of 400 m).")
@click.option("--base", type=int, default=16, show_default=True, help="U-Net channels at the top level.")
@click.option("--levels", type=int, default=4, show_default=True, help="U-Net levels.")
@click.option("--crop", type=int, default=None, help="Train on random crops of this many coarse cells (default: whole windows).")
@click.option("--max-per-scene", type=int, default=None, help="Use at most this many BSs per scene (random, seeded).")
@click.option("--max-minutes", type=float, default=None, help="Stop after the epoch that passes this wall time.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (GPU when present), cpu, cuda …")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--channels", default="near1,near2,mean5,mask", show_default=True,
              help="Comma-separated input channels, in order (reference set by default; optional: dens1,dens3,dens10,edge,own — deepmend/models/features.py). "
                   "With --init-weights of fewer channels, start with theirs: the new channels' first-layer weights start at zero.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Processes preparing the teacher labels (one scene each).")
def train(data, out, val_cities, exclude_cities, train_worlds, epochs, batch_size, lr, loss, ks_weight, emd_weight, kl_weight, envelope, init_weights, target, factor, base, levels, crop, max_per_scene, max_minutes, seed, device, threads, resume, channels, jobs) -> None:
    """Train the DeepMEND student on teacher soft labels (coarse grid, CPU or GPU)."""
    import torch

    from deepmend.errors import InputError
    from deepmend.io import check_writable_dir
    from deepmend.models.features import check_channels
    from deepmend.train.dataset import TEACHER_ALPHAS, load_shards, prepare_scene, read_index
    from deepmend.train.trainer import TrainConfig, train as run_train

    if threads:
        torch.set_num_threads(threads)
    if envelope and crop:
        raise InputError("the envelope is centred on the BS: random crops move it off centre (use whole windows)", column="--crop", value=crop)
    if 600 % factor:
        raise InputError("factor must divide 600", column="--factor", value=factor)
    try:
        chans = check_channels([c.strip() for c in channels.split(",") if c.strip()])
    except ValueError as exc:
        raise InputError(str(exc), column="--channels", value=channels) from None
    for name, v in (("--ks-weight", ks_weight), ("--emd-weight", emd_weight), ("--kl-weight", kl_weight), ("--jobs", jobs)):
        if v < 0:
            raise InputError("must be ≥ 0", column=name, value=v)
    root, out_path = Path(data), Path(out)
    check_writable_dir(out_path)
    index = read_index(root)
    val = {c.strip().lower() for c in val_cities.split(",") if c.strip()}
    excl = {c.strip().lower() for c in exclude_cities.split(",") if c.strip()}
    scenes = {k: e for k, e in index.get("scenes", {}).items() if k.split("/")[1].lower() not in excl}
    tr_keys = [k for k in scenes if k.split("/")[1].lower() not in val]
    if train_worlds.strip():
        try:
            keep = {int(w) for w in train_worlds.split(",") if w.strip()}
        except ValueError:
            raise InputError("world numbers must be integers", column="--train-worlds", value=train_worlds) from None
        tr_keys = [k for k in tr_keys if "#w" in k and int(k.rsplit("#w", 1)[1]) in keep]
    va_keys = [k for k in scenes if k.split("/")[1].lower() in val]
    if not tr_keys:
        raise InputError(f"no training scenes left after holding out {sorted(val | excl)}" + (f" and keeping worlds {train_worlds}" if train_worlds.strip() else ""), file=str(root))
    overlap = {k.split("/")[1] for k in tr_keys} & {k.split("/")[1] for k in va_keys}
    if overlap:  # cannot happen by construction; kept as the guarantee the model card states
        raise InputError(f"cities both in training and validation: {sorted(overlap)}")
    keys = tr_keys + va_keys
    if jobs > 1 and len(keys) > 1:  # labels are per scene and independent: one process per scene
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, len(keys))) as pool:
            done = pool.map(prepare_scene, [root] * len(keys), keys, [scenes[k] for k in keys], [factor] * len(keys),
                            [TEACHER_ALPHAS] * len(keys), [max_per_scene] * len(keys), [seed] * len(keys), [target == "teacher"] * len(keys), [chans] * len(keys))
            paths = dict(zip(keys, done))
    else:
        paths = {k: prepare_scene(root, k, scenes[k], factor, TEACHER_ALPHAS, max_per_scene, seed, target == "teacher", chans) for k in keys}
    tr = load_shards([paths[k] for k in tr_keys], tr_keys)
    va = load_shards([paths[k] for k in va_keys], va_keys) if va_keys else None
    if va is None:
        import numpy as np

        from deepmend.train.dataset import Shards

        va = Shards(*(np.empty((0,) + a.shape[1:], a.dtype) for a in (tr.x, tr.teacher, tr.gt, tr.alpha, tr.ks_teacher, tr.scene)))
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, ks_weight=ks_weight, emd_weight=emd_weight, kl_weight=kl_weight, factor=factor, base=base, levels=levels,
                      seed=seed, target=target, crop=crop, max_minutes=max_minutes, device=device, envelope=envelope, init=init_weights, channels=chans)
    split = {"train": tr_keys, "val": va_keys, "excluded_cities": sorted(excl), "train_worlds": train_worlds, "data": str(root)}
    click.echo(f"training on {len(tr)} maps ({', '.join(tr_keys)}); validating on {len(va)} ({', '.join(va_keys) or 'none'})")
    rec = run_train(tr, va, out_path, cfg, resume=resume, split=split)
    last = rec["epochs"][-1] if rec["epochs"] else {}
    click.echo(f"best validation KS {rec['best']:.4f}; weights in {out_path / 'deepmend.json'}; log in {out_path / 'log.csv'}")
    click.echo(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in last.items()}))
