"""Training data for the DeepMEND student: coarse input channels + teacher soft labels.

Source: a ground-truth dataset written by ``deepmend groundtruth build`` (``index.json``
and one compact map per BS and scene). For every BS we need the teacher's soft label:
the probabilistic map at the α that minimises the 2-D KS distance to the ground truth
(METHOD.md §2), found by the teacher's exhaustive KS search (scored on the coarse grid, see
:func:`coarse_alpha_search`) and rendered by the teacher's own
:func:`deepmend.models.teacher.candidate_maps`; ground-truth maps are read through
:class:`OperatorMaps`.

Prepared shards. Teacher labels cost ~0.2 s per BS (K maps and K KS distances on the
full grid), far more than a training step, so they are computed once per scene and
cached as ``<data>/student/<scene>.npz`` (plain arrays, ``allow_pickle=False``):

* ``x``        float16 (N, C, S, S)  input channels on the network's grid (S = 600/factor), C the channel set
* ``teacher``  float32 (N, S, S)     teacher soft label, mass per coarse cell (sums to 1)
* ``gt``       float32 (N, S, S)     ground truth, mass per coarse cell (for ablations)
* ``alpha``, ``ks_teacher`` float32 (N,)  chosen α and its (coarse-grid) KS to the truth, ``site_id`` str (N,)

The shard is keyed by the factor and the α grid; a stale or damaged shard is rebuilt. A
channel set other than the reference :data:`~deepmend.models.features.CHANNELS` gets its own
file (``…_c<hash>.npz``, the set in its meta), so a shard of one set is never read for
another; its labels are copied from the same scene's reference shard when one is there
(only the inputs are computed).
Training tensors are kept in memory (≈ 0.27 MB per BS at factor 4) and augmented with
the 8 symmetries of the square: the inputs are isotropic functions of positions, so
the task is equivariant to them, which multiplies the data for free.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from deepmend.errors import InputError
from deepmend.io import atomic_path
from deepmend.models.features import CHANNELS, FeatureBuilder, block_sum, check_channels

#: α grid of the teacher labels: the reference grid (METHOD.md §2) plus 0.75, 1.15, 1.75 —
#: a 14-value subset of the teacher's 45-value grid, for time (labels cost ∝ grid size on
#: 2 cores); see docs/MODEL_CARD.md for what the coarser grid costs in KS.
TEACHER_ALPHAS: tuple[float, ...] = (0.1, 0.5, 0.75, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0)
SHARD_VERSION = 3  # 3: inputs from FeatureBuilder.coarse (network-grid features)


def scene_dir_name(key: str) -> str:
    """The directory name of a dataset key (:func:`deepmend.groundtruth.dataset.scene_dir_name`).

    Parameters
    ----------
    key : str
        ``COUNTRY/City/Operator`` or ``…#wN``.

    Returns
    -------
    str
    """
    from deepmend.groundtruth.dataset import scene_dir_name as name

    return name(key)


def catalog_key(key: str) -> tuple[str, str, str]:
    """(country, city, operator) of a dataset key; ``SCENE#wN`` is world N of the randomised family.

    Parameters
    ----------
    key : str
        ``COUNTRY/City/Operator``, optionally followed by ``#wN``.

    Returns
    -------
    tuple of str
        (country, city, operator).
    """
    country, city, op = key.split("#")[0].split("/")
    return country, city, op


def read_index(data: Path) -> dict:
    """The index of a ground-truth dataset (:class:`deepmend.groundtruth.dataset.GroundTruthDataset`).

    Parameters
    ----------
    data : Path
        The dataset directory.

    Returns
    -------
    dict
        The parsed ``index.json`` (scenes, their directories and settings).
    """
    from deepmend.groundtruth.dataset import GroundTruthDataset

    return GroundTruthDataset(data).read()


def coarse_alpha_search(scene, i: int, truth_coarse: np.ndarray, alphas: np.ndarray, den: np.ndarray, factor: int) -> tuple[int, float]:
    """Index of the α whose probabilistic map is KS-closest to the truth, both summed to the coarse grid.

    The teacher's search (:func:`deepmend.models.teacher.search_alpha`) scores K full
    600×600 maps; on 2 shared cores that is ~3 s per BS. Scoring the block sums instead
    is ``factor``² cheaper in the KS and restricts quadrant origins to coarse-cell
    corners, so it can only pick a neighbouring α where two candidates are within the
    coarse-grid rounding of each other; the student is trained at that resolution anyway.

    Parameters
    ----------
    scene : Scene
        The scene.
    i : int
        Site index of the BS.
    truth_coarse : numpy.ndarray, shape (S, S)
        The ground truth summed to the coarse grid (lattice order, row 0 = south).
    alphas : numpy.ndarray, shape (K,)
        The α grid, ascending.
    den : numpy.ndarray, shape (K, ny, nx)
        The probabilistic normalisers for ``alphas`` (Traag et al. 2011).
    factor : int
        Fine cells per coarse cell side.

    Returns
    -------
    best : int
        Index of the chosen α (ties to the smaller α).
    ks : float
        Its coarse-grid 2-D KS to the truth.
    """
    from deepmend.metrics import ks2d_many
    from deepmend.models.probabilistic import weights_on_window

    rs, cs = scene.slices(i)
    w = weights_on_window(scene, i, alphas, den) * scene.mask[rs, cs][None]
    wc = block_sum(w, factor).astype(np.float64)
    wc /= np.maximum(wc.sum(axis=(1, 2), keepdims=True), 1e-300)
    ks = ks2d_many(wc, truth_coarse.astype(np.float64))
    k = int(np.flatnonzero(ks <= ks.min() + 1e-12)[0])
    return k, float(ks[k])


def prepare_scene(data: Path, key: str, entry: dict, factor: int, alphas: Sequence[float], max_sites: int | None, seed: int, labels: bool = True,
                  channels: Sequence[str] = CHANNELS) -> Path:
    """Write (or reuse) the student shard of one scene of the dataset; returns its path.

    ``labels=False`` skips the teacher's α search (most of the cost) for runs that train on the
    ground truth itself (``--target gt``): the shard's ``teacher`` is then the ground truth and
    ``alpha``/``ks_teacher`` are NaN; such a shard is its own cache entry (a soft-label run
    rebuilds it with labels).

    Parameters
    ----------
    data : Path
        The ground-truth dataset directory.
    key : str
        The scene's dataset key.
    entry : dict
        The scene's entry of the index.
    factor : int
        Coarsening factor.
    alphas : sequence of float
        The teacher's α grid (METHOD.md §2).
    max_sites : int or None
        Seeded sample of BSs (None: all).
    seed : int
        Sampling seed.
    labels : bool, default True
        Compute the teacher's soft labels (see above).
    channels : sequence of str, default CHANNELS
        Input channel set of ``x`` (:func:`~deepmend.models.features.check_channels`).

    Returns
    -------
    Path
        The shard in ``<data>/student/``.

    Raises
    ------
    InputError
        If the scene has no ground-truth maps.
    """
    from deepmend.log import progress as tqdm

    from deepmend.groundtruth.reader import OperatorMaps
    from deepmend.models.probabilistic import denominators
    from deepmend.models.teacher import candidate_maps
    from deepmend.scene import Scene

    channels = check_channels(channels)
    out = data / "student" / f"{scene_dir_name(key)}_f{factor}.npz"
    meta = {"version": SHARD_VERSION, "factor": factor, "alphas": list(map(float, alphas)), "max_sites": max_sites, "seed": seed}
    if not labels:
        meta["teacher_labels"] = False
        out = out.with_name(out.stem + "_gt.npz")
    if channels != CHANNELS:  # its own file; the reference shard (same labels) keeps its name and meta
        ref_out, ref_meta = out, dict(meta)
        meta["channels"] = list(channels)
        out = out.with_name(out.stem + "_c" + hashlib.sha256(",".join(channels).encode()).hexdigest()[:8] + ".npz")
    if _valid_shard(out, meta):
        return out
    scene = Scene.from_catalog(*catalog_key(key))
    if channels != CHANNELS and _valid_shard(ref_out, ref_meta):  # same labels: compute the inputs only
        with np.load(ref_out, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("teacher", "gt", "alpha", "ks_teacher", "site_id")}
        fb = FeatureBuilder(scene)
        idx = [scene.site_index(str(s)) for s in arrays["site_id"]]
        x = np.empty((len(idx), len(channels)) + arrays["gt"].shape[1:], dtype=np.float16)
        for b, i in enumerate(idx):
            x[b] = fb.coarse(i, factor, channels)
        _write_shard(out, dict(arrays, x=x), meta)
        return out
    gt_model = OperatorMaps(data / entry["dir"]).fit(scene)
    sites = [int(i) for i in gt_model.available()]
    if not sites:
        raise InputError(f"no ground-truth maps of scene {key}", file=str(data / entry["dir"]))
    if max_sites and len(sites) > max_sites:
        sites = sorted(np.random.default_rng(seed).choice(sites, size=max_sites, replace=False).tolist())
    a = np.sort(np.asarray(alphas, dtype=np.float64))
    den = denominators(scene, a) if labels else None
    fb = FeatureBuilder(scene)
    s = 600 // factor
    n = len(sites)
    x = np.empty((n, len(channels), s, s), dtype=np.float16)
    soft_c = np.empty((n, s, s), dtype=np.float32)
    gt_c = np.empty((n, s, s), dtype=np.float32)
    alpha = np.empty(n, dtype=np.float32)
    ks_t = np.empty(n, dtype=np.float32)
    for b, i in enumerate(tqdm(sites, desc=f"teacher labels {key}", unit="BS")):
        truth = gt_model.predict(i)
        gt_c[b] = block_sum(truth.lattice_prob, factor)
        if labels:
            k, ks = coarse_alpha_search(scene, i, gt_c[b], a, den, factor)
            alpha[b], ks_t[b] = a[k], ks
            soft_c[b] = block_sum(candidate_maps(scene, i, a[k : k + 1], den[k : k + 1])[0], factor)
        else:
            alpha[b] = ks_t[b] = np.nan
            soft_c[b] = gt_c[b]
        x[b] = fb.coarse(i, factor, channels)  # inputs computed on the network's grid, as at inference
    _write_shard(out, {"x": x, "teacher": soft_c, "gt": gt_c, "alpha": alpha, "ks_teacher": ks_t,
                       "site_id": np.array([str(scene.deployment.site_ids[i]) for i in sites])}, meta)
    return out


def _valid_shard(path: Path, meta: dict) -> bool:
    """True when ``path`` is a readable shard written with exactly ``meta`` (else it is (re)built)."""
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"])) == meta
    except Exception:
        return False  # damaged: rebuild


def _write_shard(out: Path, arrays: dict, meta: dict) -> None:
    """Write a shard atomically (plain arrays + the meta as JSON text)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays, meta=np.array(json.dumps(meta)))


@dataclass
class Shards:
    """Concatenated arrays of several scenes (see the module docstring for each array's shape).

    Parameters
    ----------
    x : numpy.ndarray of float16, shape (N, C, S, S)
    teacher, gt : numpy.ndarray of float32, shape (N, S, S)
    alpha, ks_teacher : numpy.ndarray of float32, shape (N,)
    scene : numpy.ndarray of str, shape (N,)
        The dataset key of each map.
    """

    x: np.ndarray
    teacher: np.ndarray
    gt: np.ndarray
    alpha: np.ndarray
    ks_teacher: np.ndarray
    scene: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def load_shards(paths: Sequence[Path], keys: Sequence[str]) -> Shards:
    """Read and concatenate prepared shards.

    Parameters
    ----------
    paths : sequence of Path
        Shards written by :func:`prepare_scene`.
    keys : sequence of str
        Their scenes' dataset keys, in the same order.

    Returns
    -------
    Shards
    """
    parts = []
    for p, key in zip(paths, keys):
        with np.load(p, allow_pickle=False) as z:
            parts.append((z["x"], z["teacher"], z["gt"], z["alpha"], z["ks_teacher"], np.full(len(z["alpha"]), key)))
    return Shards(*(np.concatenate([p[k] for p in parts]) for k in range(6)))


class MapDataset(Dataset):
    """(x, target) pairs with random dihedral augmentation and optional random crops.

    ``crop``: side of a random square crop (coarse cells) or None for the whole window;
    the crop's target is renormalised so it stays a distribution over the crop.

    The 8 symmetries of the square (dihedral group): the inputs are isotropic functions of
    positions, so the task is equivariant to them.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, C, S, S)
        Input channels.
    target : numpy.ndarray, shape (N, S, S)
        Target masses.
    augment : bool, default True
        Apply a random symmetry per item.
    crop : int, optional
        Side of a random crop.
    seed : int, default 0
        Seed of the augmentation generator.
    """

    def __init__(self, x: np.ndarray, target: np.ndarray, augment: bool = True, crop: int | None = None, seed: int = 0) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.t = torch.from_numpy(np.ascontiguousarray(target))
        self.augment, self.crop = augment, crop
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, t = self.x[k].float(), self.t[k].float()
        if self.crop:
            s = x.shape[-1]
            r, c = self.rng.integers(0, s - self.crop + 1, size=2)
            x, t = x[:, r : r + self.crop, c : c + self.crop], t[r : r + self.crop, c : c + self.crop]
            t = t / t.sum().clamp_min(1e-12)
        if self.augment:
            g = int(self.rng.integers(8))
            if g & 1:
                x, t = x.flip(-1), t.flip(-1)
            if g & 2:
                x, t = x.flip(-2), t.flip(-2)
            if g & 4:
                x, t = x.transpose(-1, -2), t.transpose(-1, -2)
        return x.contiguous(), t.contiguous()
