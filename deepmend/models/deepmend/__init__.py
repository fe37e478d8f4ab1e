"""DeepMEND student: a small U-Net maps position-only channels to a BS's diffusion map.

Pipeline per batch of BSs (METHOD.md §2, §5):

1. **features** — :class:`FeatureBuilder` slices the per-deployment knn rasters and
   computes the channels the weights declare (``channels`` of their JSON: the reference
   set for the shipped weights, optional extra channels of :mod:`deepmend.models.features`
   for ablations) directly on the network's grid of each window
   (``factor`` 5 → 120×120 cells of 500 m, one value per block centre);
2. **network** — the U-Net on the coarse grid, batched, in onnxruntime (default: the
   faster on 2 cores, see benchmarks/RESULTS.md) or eager torch with channels-last;
3. **post-processing** — the coarse log-density is upsampled bilinearly to 100 m
   (interpolating the *log* keeps exponentially decaying tails smooth instead of
   blocky), exponentiated, masked at full resolution and normalised — in numpy
   (:func:`coarse_to_maps`), and only when a 100 m map is output: a batch store keeps
   the network's output and recomputes the map exactly on read.

Why the network runs at 500 m: the maps it must reproduce are smooth at that scale
(the teacher's P(ℓ|i) is a power law of distances), its 120×120 grid is 25× cheaper than 600×600,
and training fits in the 2-core budget. The cost at full resolution is measured in
docs/MODEL_CARD.md (KS of the teacher's own maps after the same down/up-sampling).

Lifecycle (scikit-learn's estimator contract): the constructor stores its four
parameters; :meth:`DeepMENDModel.validate` and :meth:`DeepMENDModel.fit` obtain the
network and its runtime from :mod:`deepmend.resources` — loaded, verified and (for
onnxruntime) exported once per process and per weights checksum, whatever number of
models or threads ask at the same time.

Weights: ``<name>.npz`` (the state dict as plain float arrays, read with
``allow_pickle=False`` — never pickle) and ``<name>.json`` (architecture, head,
factor, channels, training record and the SHA-256 of the ``.npz``). Anything missing,
corrupt or incompatible is an :class:`InputError` naming the file and the problem.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from deepmend.errors import InputError, ParameterError
from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.models.base import DiffusionModel
from deepmend.models.deepmend.head import HEADS, reference_prob_np
from deepmend.models.features import CHANNELS, FeatureBuilder, check_channels
from deepmend.resources import once
from deepmend.scene import Scene

WEIGHTS_FORMAT = "deepmend-weights/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "deepmend.json"
RUNTIMES = ("auto", "onnx", "torch")
#: BSs per network call: large enough to amortise per-call overhead, small enough
#: that a batch's full-resolution maps (B × 1.4 MB) stay in cache-friendly memory.
DEFAULT_BATCH = 8


# --- weights ----------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (hex digest).

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
        64 hex digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_weights() -> dict[str, Path]:
    """The weights installed with the package, by name (``deepmend``, ``deepmend_v4``, ``deepmend_softlabels`` …).

    Returns
    -------
    dict of str to Path
        Name (the file stem) → its ``.json`` config in the package's ``weights`` folder.
    """
    return {q.stem: q for q in sorted(DEFAULT_WEIGHTS.parent.glob("deepmend*.json"))}


def resolve_weights(path: str | Path | None) -> tuple[Path, Path]:
    """(config .json, arrays .npz) from a .json, a .npz, a directory holding deepmend.json, or the
    name of shipped weights.

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, a directory holding
        ``deepmend.json``, or the name of weights installed with the package
        (:func:`shipped_weights`: ``deepmend``, ``deepmend_v4``, ``deepmend_softlabels``, also without
        the ``deepmend_`` prefix: ``v4``, ``softlabels``) — a bare shipped name always means the shipped
        weights, whatever folders the working directory holds (a local folder of that name: ``./v4``);
        default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    config : Path
        The ``.json``.
    arrays : Path
        The ``.npz``.

    Raises
    ------
    InputError
        If the path is none of the three kinds, or the config does not exist.
    """
    p = Path(path) if path is not None else DEFAULT_WEIGHTS
    if path is not None and not p.suffix and len(p.parts) == 1 and not str(path).startswith("."):
        named = shipped_weights()
        hit = named.get(str(path)) or named.get(f"deepmend_{path}")
        if hit is not None:  # a bare shipped name always means the shipped weights (a folder of that name: ./NAME)
            p = hit
        elif not p.exists():
            names = ", ".join(sorted({*named, *(n.removeprefix("deepmend_") for n in named)}))
            raise InputError(f"no such weights file or directory, and not the name of shipped weights ({names})", file=str(path))
    if p.is_dir():
        p = p / "deepmend.json"
    if p.suffix.lower() == ".npz":
        p = p.with_suffix(".json")
    elif p.suffix.lower() != ".json":
        raise InputError("weights must be a .json config (with its .npz beside it), a .npz, or a directory", file=str(p))
    if not p.is_file():
        raise InputError("weights config not found" + (" (the shipped weights are missing from this installation)" if path is None else ""), file=str(p))
    npz = p.with_suffix(".npz")
    if not npz.is_file():
        raise InputError("weights arrays not found (expected beside the config)", file=str(npz))
    return p, npz


def save_weights(state: dict, config: dict, path: str | Path) -> Path:
    """Write ``<path>.npz`` + ``<path>.json`` atomically; the JSON records the .npz checksum.

    Parameters
    ----------
    state : dict
        The network's ``state_dict`` (tensors), stored as plain float arrays.
    config : dict
        Architecture, head, factor, channels and training record; the ``.npz``'s SHA-256 is added.
    path : str or Path
        The ``.json`` to write (the ``.npz`` goes beside it).

    Returns
    -------
    Path
        The ``.json``.
    """
    from deepmend.io import atomic_path

    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".json", ".npz") else path / "deepmend"
    npz, js = base.with_suffix(".npz"), base.with_suffix(".json")
    arrays = {k: v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v) for k, v in state.items()}
    with atomic_path(npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    cfg = dict(config, format=WEIGHTS_FORMAT, sha256=sha256_file(npz))
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(cfg, indent=1))
    return js


def load_config(path: str | Path | None = None) -> tuple[dict, Path, Path]:
    """(config dict, config path, arrays path), validated and with the arrays' checksum verified (no torch).

    Raises
    ------
    InputError
        Missing, unreadable or incompatible config (an input channel this version does not
        compute, :data:`~deepmend.models.features.CHANNEL_INFO`); arrays whose SHA-256 differs
        from the config's (corrupt or changed), naming the file.

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    config : dict
    config_path, arrays_path : Path
    """
    js, npz = resolve_weights(path)
    try:
        cfg = json.loads(js.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"weights config is not valid JSON ({exc})", file=str(js)) from None
    if not isinstance(cfg, dict) or cfg.get("format") != WEIGHTS_FORMAT:
        raise InputError(f"incompatible weights config: format {cfg.get('format') if isinstance(cfg, dict) else None!r}, expected {WEIGHTS_FORMAT!r}", file=str(js))
    missing = {"arch", "loss", "factor", "channels", "sha256"} - set(cfg)
    if missing:
        raise InputError(f"weights config lacks {sorted(missing)}", file=str(js))
    if not isinstance(cfg["channels"], list):
        raise InputError(f"weights config: 'channels' must be a list of channel names, got {cfg['channels']!r}", file=str(js))
    try:
        channels = check_channels(cfg["channels"])
    except ValueError as exc:
        raise InputError(f"incompatible weights: {exc}", file=str(js)) from None
    arch = cfg.get("arch")
    if isinstance(arch, dict) and arch.get("in_channels", 4) != len(channels):
        raise InputError(f"incompatible weights: {len(channels)} channels declared, the architecture takes {arch.get('in_channels')}", file=str(js))
    if cfg["loss"] not in HEADS or int(cfg["factor"]) not in (1, 2, 3, 4, 5, 6, 8, 10, 12):
        raise InputError(f"incompatible weights: head {cfg['loss']!r}, factor {cfg['factor']!r}", file=str(js))
    digest = sha256_file(npz)
    if digest != cfg["sha256"]:
        raise InputError(f"weights checksum mismatch: the file is corrupt or was changed (expected sha256 {cfg['sha256'][:12]}…, got {digest[:12]}…)", file=str(npz))
    return cfg, js, npz


def load_weights(path: str | Path | None = None):
    """(UNet in eval mode, config dict, config path). Validates everything it reads.

    Raises
    ------
    InputError
        As :func:`load_config`, and arrays that do not match the architecture or hold NaN/inf.

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    net : UNet
        In eval mode (torch).
    config : dict
    config_path : Path
    """
    import torch

    from deepmend.data.limits import check_npz
    from deepmend.models.deepmend.unet import UNet, UNetConfig

    cfg, js, npz = load_config(path)
    check_npz(npz, what="weights archive")  # weights a person supplied: refused before anything is expanded if they declare too much
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise InputError(f"not a readable weights archive ({type(exc).__name__}: {exc})", file=str(npz)) from None
    try:
        net = UNet(UNetConfig(**cfg["arch"]))
    except TypeError as exc:
        raise InputError(f"incompatible architecture in weights config ({exc})", file=str(js)) from None
    ref = net.state_dict()
    bad = sorted(set(ref) ^ set(arrays))
    if bad:
        raise InputError(f"weights do not match the architecture {cfg['arch']}: {len(bad)} tensor name(s) differ, e.g. {bad[0]!r}", file=str(npz))
    for k, v in ref.items():
        if tuple(arrays[k].shape) != tuple(v.shape):
            raise InputError(f"weights do not match the architecture: {k} has shape {arrays[k].shape}, expected {tuple(v.shape)}", file=str(npz))
        if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all():
            raise InputError(f"weights contain NaN or infinity in {k}", file=str(npz))
    net.load_state_dict({k: torch.from_numpy(np.array(arrays[k], dtype=ref[k].numpy().dtype)) for k in ref})
    net.eval()
    return net, cfg, js


def load_network(path: str | Path | None = None):
    """:func:`load_weights`, once per process and per content: (UNet, config, config path).

    The key is the SHA-256 of the arrays *as they are on disk now* and of the config's
    text, so a file changed or corrupted since an earlier load is read (and refused)
    again, while every model of the same weights shares one network.

    Raises
    ------
    InputError
        As :func:`load_weights`: missing, corrupt or incompatible weights, naming the file.

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    net : UNet
    config : dict
    config_path : Path
    """
    js, npz = resolve_weights(path)
    try:
        key = ("deepmend-net", sha256_file(npz), hashlib.sha256(js.read_bytes()).hexdigest(), str(js.resolve()))
    except OSError as exc:
        raise InputError(f"weights cannot be read ({exc.strerror or exc})", file=str(npz)) from None
    return once(key, lambda: load_weights(js))


def declared_checksum(path: str | Path | None = None) -> str:
    """The SHA-256 a weights config declares for its arrays (reads only the small .json).

    Raises
    ------
    InputError
        Missing or unreadable config.

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    str
        The declared SHA-256 ("" when the config declares none).
    """
    js, _ = resolve_weights(path)
    try:
        return str(json.loads(js.read_text()).get("sha256", ""))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise InputError(f"weights config is not valid JSON ({exc})", file=str(js)) from None


def declared_channels(path: str | Path | None = None) -> tuple[str, ...]:
    """The input channels a weights config declares (reads only the small .json, no checksum).

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    tuple of str
        The channel set, in the network's input order (:data:`~deepmend.models.features.CHANNEL_INFO`).

    Raises
    ------
    InputError
        Missing or unreadable config, or a channel this version does not compute.
    """
    js, _ = resolve_weights(path)
    try:
        return check_channels(json.loads(js.read_text()).get("channels", CHANNELS))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError) as exc:
        raise InputError(f"weights config is not valid JSON ({exc})", file=str(js)) from None
    except ValueError as exc:
        raise InputError(f"incompatible weights: {exc}", file=str(js)) from None


def shipped_onnx(cfg: dict, js: Path) -> bytes | None:
    """The exported graph shipped beside the weights (``<name>.onnx``), if its SHA-256 is the config's ``onnx_sha256``.

    With it, inference needs onnxruntime and numpy only (no torch). A graph whose config
    records no ``onnx_sha256`` (weights retrained since) is ignored; one that does not
    match its recorded checksum is refused.

    Raises
    ------
    InputError
        The shipped graph is corrupt or was changed (checksum mismatch), naming it.

    Parameters
    ----------
    cfg : dict
        The weights' config.
    js : Path
        Its path (the ``.onnx`` is looked for beside it).

    Returns
    -------
    bytes or None
        The graph, or None when there is none or its checksum is not the declared one.
    """
    path = js.with_suffix(".onnx")
    want = cfg.get("onnx_sha256")
    if not want or not path.is_file():
        return None
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise InputError(f"ONNX graph checksum mismatch: the file is corrupt or was changed (expected sha256 {want[:12]}…, got {got[:12]}…)", file=str(path))
    return data


def write_shipped_onnx(path: str | Path | None = None) -> Path:
    """Export the weights' network to ``<name>.onnx`` beside them and record its SHA-256 in the config.

    Run after training to ship a torch-free inference path
    (``python -c "from deepmend.models.deepmend import write_shipped_onnx; write_shipped_onnx()"``).

    Parameters
    ----------
    path : str or Path, optional
        Weights: a ``.json`` config (its ``.npz`` beside it), a ``.npz``, or a directory holding
        ``deepmend.json``; default the shipped ``deepmend/weights/deepmend.json``.

    Returns
    -------
    Path
        The ``.onnx`` written.
    """
    from deepmend.io import atomic_path

    net, cfg, js = load_weights(path)
    data = export_onnx(net, 600 // int(cfg["factor"]))
    out = js.with_suffix(".onnx")
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    raw = json.loads(js.read_text())
    raw["onnx_sha256"] = hashlib.sha256(data).hexdigest()
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(raw, indent=1))
    return out


def _upsample_axis(z: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """Bilinear upsampling by ``factor`` along ``axis``: output cell f·k + j reads source
    coordinate k + (j + ½)/f − ½ (half-pixel centres, clamped at the edges), i.e. a fixed
    pair of weights per j — strided writes instead of gathers."""
    z = np.moveaxis(z, axis, -1)
    n = z.shape[-1]
    zp = np.concatenate([z[..., :1], z, z[..., -1:]], axis=-1)  # edge padding = clamping
    out = np.empty(z.shape[:-1] + (n * factor,), dtype=np.float32)
    for j in range(factor):
        s = (j + 0.5) / factor - 0.5
        lo, w = (0, np.float32(1.0 + s)) if s < 0 else (1, np.float32(s))  # padded index of the lower source cell
        np.multiply(zp[..., lo : lo + n], np.float32(1) - w, out=out[..., j::factor])
        out[..., j::factor] += w * zp[..., lo + 1 : lo + 1 + n]
    return np.moveaxis(out, -1, axis)


def upsample_bilinear(x: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling of the last two axes by an integer ``factor`` (float32), half-pixel centres.

    The same sampling as ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False)``: output cell centre (k + ½)/factor − ½ in input cells, clamped
    at the edges; values agree with torch's to float32 rounding of the weights (~1e-5,
    tests/models/test_postprocess.py).

    Parameters
    ----------
    x : numpy.ndarray, shape (..., S, S)
        Coarse values (e.g. log-densities), any row order (kept).
    factor : int
        Upsampling factor (1 returns ``x``).

    Returns
    -------
    numpy.ndarray of float32, shape (..., S·factor, S·factor)
    """
    x = np.asarray(x, dtype=np.float32)
    if factor == 1:
        return x
    return np.ascontiguousarray(_upsample_axis(_upsample_axis(x, factor, x.ndim - 2), factor, x.ndim - 1))


# --- runtimes -----------------------------------------------------------------
class TorchRunner:
    """Eager torch, channels-last (NHWC convolutions are faster on CPU for few channels).

    Parameters
    ----------
    net : UNet
        The network (torch, eval mode).
    channels_last : bool, default True
        Run in NHWC memory format.
    """

    def __init__(self, net, channels_last: bool = True) -> None:
        import torch

        self.torch = torch
        self.channels_last = channels_last
        net = copy.deepcopy(net)  # .to() changes a module in place: the shared network stays as loaded
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            t = torch.from_numpy(x)
            if self.channels_last:
                t = t.contiguous(memory_format=torch.channels_last)
            return self.net(t).numpy()


def export_onnx(net, size: int) -> bytes:
    """The network as ONNX bytes (dynamic batch, fixed ``size``×``size`` input).

    Parameters
    ----------
    net : UNet
        The network (torch).
    size : int
        Input side in coarse cells (600 / factor).

    Returns
    -------
    bytes
        The ONNX graph (input ``x`` (B, C, size, size) float32, C = the network's ``in_channels``).
    """
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            copy.deepcopy(net).to(memory_format=torch.contiguous_format), (torch.zeros(1, net.cfg.in_channels, size, size),), buf, dynamo=False,
            input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
        )
    return buf.getvalue()


#: torch.onnx.export keeps global state (``GLOBALS.in_onnx_export``): two exports at once,
#: even of different networks, corrupt each other. Every export in the process takes this lock.
_EXPORT_LOCK = threading.Lock()


def onnx_bytes(net, cfg: dict) -> bytes:
    """The exported graph of ``net`` for its config's input size, cached on disk by checksum.

    Single flight per checksum and size (:func:`deepmend.resources.once`), and one export at
    a time in the process (``_EXPORT_LOCK``); the on-disk copy is written atomically.

    Parameters
    ----------
    net : UNet
        The network (torch).
    cfg : dict
        Its weights' config (factor, checksum).

    Returns
    -------
    bytes
    """
    from deepmend.config import cache_dir

    size = 600 // int(cfg["factor"])
    tag = channels_tag(cfg)
    path = cache_dir() / "onnx" / f"deepmend_{cfg['sha256'][:16]}{tag}_{size}.onnx"

    def build() -> bytes:
        if path.is_file():
            data = path.read_bytes()
            if _onnx_loads(data):
                return data
        with _EXPORT_LOCK:
            data = export_onnx(net, size)
        from deepmend.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return data

    return once(("deepmend-onnx-bytes", cfg["sha256"], tag, size), build)


def channels_tag(cfg: dict) -> str:
    """"" for the reference channel set (the shipped weights' cache keys unchanged), else
    ``_c`` + 8 hex digits of the set's SHA-256: part of every cache key of a network's runtime.

    Parameters
    ----------
    cfg : dict
        A weights config.

    Returns
    -------
    str
    """
    ch = tuple(cfg.get("channels", CHANNELS))
    return "" if ch == CHANNELS else "_c" + hashlib.sha256(",".join(ch).encode()).hexdigest()[:8]


def _onnx_loads(data: bytes) -> bool:
    """True when onnxruntime accepts the graph (a damaged cache file is re-exported)."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception:
        return False
    return True


class OnnxRunner:
    """onnxruntime on the exported graph; ``InferenceSession.run`` is thread-safe, so one is shared.

    ``model`` is the graph (bytes) or a torch network to export (cached by checksum).

    Parameters
    ----------
    model : bytes or UNet
        The graph, or a network to export.
    cfg : dict
        The weights' config.
    threads : int or None
        Intra-op threads (default torch's setting when torch is loaded, else the CPU count).
    """

    def __init__(self, model, cfg: dict, threads: int | None) -> None:
        import onnxruntime as ort

        data = model if isinstance(model, bytes) else onnx_bytes(model, cfg)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or _default_threads())
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


def _default_threads() -> int:
    """torch's intra-op thread count when torch is loaded (the settings the user made), else the CPU count."""
    import sys

    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else max(1, os.cpu_count() or 1)


def runner_for(net, cfg: dict, runtime: str, threads: int | None):
    """The shared runner of a network (one per weights checksum, runtime and thread count).

    Parameters
    ----------
    net : UNet
        The torch network (the shipped-graph path builds its runner without one).
    cfg : dict
        The weights' config.
    runtime : {"onnx", "torch"}
        The runtime.
    threads : int or None
        Intra-op threads.

    Returns
    -------
    OnnxRunner or TorchRunner
        Shared by every model of the same weights, runtime and thread count
        (:func:`deepmend.resources.once`).
    """
    key = ("deepmend-runner", cfg["sha256"], channels_tag(cfg), runtime, threads)
    return once(key, lambda: OnnxRunner(net, cfg, threads) if runtime == "onnx" else TorchRunner(net))


# --- the model ------------------------------------------------------------------
class DeepMENDModel(DiffusionModel):
    """The DeepMEND student: U-Net on position-only channels (Martínez-Durive et al., SECON 2024).

    Parameters
    ----------
    weights : str or Path, optional
        A weights ``.json`` (with its ``.npz`` beside it), a ``.npz`` or a directory holding
        ``deepmend.json``; default the shipped weights (:data:`DEFAULT_WEIGHTS`).
    runtime : {"auto", "onnx", "torch"}
        "auto" is onnxruntime when installed, else eager torch.
    batch_size : int
        BSs per network call in :meth:`predict_many`.
    threads : int, optional
        Intra-op threads of the runtime (default: torch's setting).

    Raises
    ------
    InputError
        From :meth:`validate`/:meth:`fit`: bad runtime or batch size, missing, corrupt or
        incompatible weights (naming the file).
    """

    name = "deepmend"
    label = "DeepMEND (student U-Net)"
    description = "U-Net whose inputs are distances to the BS and its 5 nearest sites only; default weights trained on simulated ground truth (docs/MODEL_CARD.md)."

    def __init__(self, weights: str | Path | None = None, runtime: str = "auto", batch_size: int = DEFAULT_BATCH, threads: int | None = None) -> None:
        self.weights = weights
        self.runtime = runtime
        self.batch_size = batch_size
        self.threads = threads

    def validate(self) -> "DeepMENDModel":
        """Check the options and that the weights config exists and is readable (not the arrays: :meth:`prepare`).

        Raises
        ------
        ParameterError
            For an unknown runtime or a batch size that is not a positive integer.
        InputError
            If the weights config is missing or not valid JSON.
        """
        if self.runtime not in RUNTIMES:
            raise ParameterError(f"unknown runtime; valid: {', '.join(RUNTIMES)}", column="runtime", value=self.runtime)
        try:
            ok = int(self.batch_size) >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParameterError("batch size must be a positive integer", column="batch_size", value=self.batch_size)
        declared_checksum(self.weights)
        return self

    def prepare(self) -> "DeepMENDModel":
        """Load and verify the weights (once per process and content, see :func:`load_network`)."""
        self.validate()
        self._load()
        return self

    def _load(self):
        """(network or None, config, config path, runtime, runner): the shipped ONNX graph when usable, else torch."""
        runtime = ("onnx" if _has_onnxruntime() else "torch") if self.runtime == "auto" else self.runtime
        if runtime == "onnx":
            cfg, js, _ = load_config(self.weights)
            data = shipped_onnx(cfg, js)
            if data is not None:  # no torch at all
                runner = once(("deepmend-runner-shipped", cfg["onnx_sha256"], channels_tag(cfg), self.threads), lambda: OnnxRunner(data, cfg, self.threads))
                n_in = runner.session.get_inputs()[0].shape[1]
                if isinstance(n_in, int) and n_in != len(cfg["channels"]):
                    raise InputError(f"the shipped ONNX graph takes {n_in} input channels, the config declares {len(cfg['channels'])}", file=str(js.with_suffix(".onnx")))
                return None, cfg, js, runtime, runner
        net, cfg, js = load_network(self.weights)
        return net, cfg, js, runtime, runner_for(net, cfg, runtime, self.threads)

    def cache_token(self) -> str:
        """Parameters plus the declared checksum of the weights (reads only the small .json)."""
        return json.dumps({"params": self.get_params(deep=False), "sha256": declared_checksum(self.weights)}, sort_keys=True, default=str)

    def params(self) -> dict:
        """The parameters that explain a map once fitted: weights file name, SHA-256 prefix, runtime and
        factor ({} before fit).
        """
        if not hasattr(self, "config_"):
            return {}
        return {"weights": self.weights_path_.name, "sha256": self.config_["sha256"][:12], "runtime": self.runtime_, "factor": self.factor_}

    def _fit(self, scene: Scene) -> None:
        self.net_, self.config_, self.weights_path_, self.runtime_, self.runner_ = self._load()
        self.factor_ = int(self.config_["factor"])
        self.kind_ = str(self.config_["loss"])
        self.channels_ = tuple(self.config_["channels"])
        if self.threads and self.runtime_ == "torch":
            import torch

            torch.set_num_threads(int(self.threads))
        self.timings_ = {"features": 0.0, "network": 0.0, "post": 0.0, "maps": 0}
        self.features_ = FeatureBuilder(scene)

    # --- batched core ---------------------------------------------------------
    def network(self, x: np.ndarray) -> np.ndarray:
        """Raw coarse output (B, S, S) for coarse inputs (B, C, S, S), C the weights' channels."""
        return self.runner_(x)

    def postprocess(self, out: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Coarse raw output (B, S, S) → full-resolution unnormalised weights (B, 600, 600), 0 off-mask (numpy only)."""
        return postprocess(out, masks, self.factor_, self.kind_)

    def coarse_batch(self, sites: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(raw network output (B, 600/f, 600/f) float32, 100 m masks (B, 600, 600)) of ``sites``.

        Everything the model computes per BS: the 100 m map is a deterministic function of
        this output and the mask (:meth:`maps_from_coarse`), so stores keep these and
        recompute the map exactly when it is read (the post-processing is lazy)."""
        self.check_fitted()
        t0 = time.perf_counter()
        x, masks = self.features_.batch(sites, self.factor_, self.channels_)
        t1 = time.perf_counter()
        out = np.ascontiguousarray(self.network(x), dtype=np.float32)
        if out.ndim == 4:
            out = out[:, 0]
        t2 = time.perf_counter()
        tm = self.timings_
        tm["features"] += t1 - t0
        tm["network"] += t2 - t1
        tm["maps"] += len(sites)
        return out, masks

    def maps_from_coarse(self, out: np.ndarray, masks: np.ndarray, site_rc: Sequence[tuple[int, int]]) -> np.ndarray:
        """Post-processing of :meth:`coarse_batch`'s output to P(ℓ|i) (B, 600, 600) float32 (:func:`coarse_to_maps`)."""
        t0 = time.perf_counter()
        probs = coarse_to_maps(out, masks, self.factor_, self.kind_, site_rc)
        self.timings_["post"] += time.perf_counter() - t0
        return probs

    def raw_batch(self, sites: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(unnormalised weights (B, 600, 600), masks) of ``sites``; accumulates timings."""
        out, masks = self.coarse_batch(sites)
        t0 = time.perf_counter()
        w = self.postprocess(out, masks)
        self.timings_["post"] += time.perf_counter() - t0
        return w, masks

    def _raw(self, i: int) -> np.ndarray:
        return self.raw_batch([i])[0][0]

    def predict_many(self, sites: Iterable[int | str] | None = None) -> Iterator[DiffusionMap]:
        """Maps of ``sites`` (default: the scene's targets), computed ``batch_size`` BSs per network call."""
        self.check_fitted()
        scene = self.scene_
        idx = [scene.site_index(s) for s in (scene.targets if sites is None else sites)]
        step = max(1, int(self.batch_size))
        for a in range(0, len(idx), step):
            chunk = idx[a : a + step]
            t0 = time.perf_counter()
            out, masks = self.coarse_batch(chunk)
            probs = self.maps_from_coarse(out, masks, [scene.site_rc(i) for i in chunk])
            ms = (time.perf_counter() - t0) * 1e3 / len(chunk)
            for b, i in enumerate(chunk):
                meta = {"params": self.params(), "inference_ms": round(ms, 3), "batch": len(chunk), "members": list(scene.deployment.members[i])}
                yield DiffusionMap.from_lattice(scene.window(i), probs[b], masks[b], str(scene.deployment.site_ids[i]), self.name, meta)


# --- post-processing (no weights needed: also what a map store runs on read) -----------
def postprocess(out: np.ndarray, masks: np.ndarray, factor: int, kind: str) -> np.ndarray:
    """Network output (B, S, S) → unnormalised weights (B, 600, 600) float32, 0 off-mask.

    :func:`upsample_bilinear` by ``factor`` of the log-density, then exp after subtracting
    each map's maximum over its valid cells (head ``kind`` "reference": p = 10^(−1/y) for
    y > 0, else 0, the reference's output transform). Numpy only: reading a store needs no torch.

    Parameters
    ----------
    out : numpy.ndarray, shape (B, S, S)
        Network output on the coarse grid, lattice order (row 0 = south).
    masks : numpy.ndarray of bool, shape (B, 600, 600)
        Valid cells of each window, same order.
    factor : int
        600 / S.
    kind : str
        The head (:data:`~deepmend.models.deepmend.head.HEADS`).

    Returns
    -------
    numpy.ndarray of float32, shape (B, 600, 600)
    """
    z = upsample_bilinear(out, factor)
    masks = np.asarray(masks, dtype=bool)
    if kind == "reference":
        p = reference_prob_np(z)
    else:  # log-density: subtract the per-map max over valid cells before exp (in place: z is ours)
        z = np.array(z, dtype=np.float32, copy=factor == 1)
        top = np.max(z, axis=(1, 2), where=masks, initial=-np.inf) if len(z) else np.zeros(0, np.float32)
        top = np.where(np.isfinite(top), top, 0).astype(np.float32)
        np.subtract(z, top[:, None, None], out=z)
        with np.errstate(over="ignore", under="ignore"):
            p = np.exp(z, out=z)
    p = np.asarray(p, dtype=np.float32)
    np.multiply(p, masks, out=p)
    return p


def coarse_to_maps(out: np.ndarray, masks: np.ndarray, factor: int, kind: str, site_rc: Sequence[tuple[int, int]]) -> np.ndarray:
    """P(ℓ|i) (B, 600, 600) float32 from the network's output: :func:`postprocess`, then normalised
    as :func:`finalize` does (an empty map gets its mass at the valid cell nearest ``site_rc``).

    Parameters
    ----------
    out : numpy.ndarray, shape (B, S, S)
        Network output, lattice order (row 0 = south).
    masks : numpy.ndarray of bool, shape (B, 600, 600)
        Valid cells.
    factor : int
        600 / S.
    kind : str
        The head.
    site_rc : sequence of (int, int)
        Each BS's (row, col) in its window, lattice order.

    Returns
    -------
    numpy.ndarray of float32, shape (B, 600, 600)
        Each map sums to 1 on its mask (METHOD.md §1).
    """
    w = postprocess(out, masks, factor, kind)  # already 0 off-mask: normalise in place (= finalize)
    for b in range(len(w)):
        total = float(w[b].sum(dtype=np.float64))
        if total > 0 and np.isfinite(total):
            w[b] *= np.float32(1.0 / total)
        else:
            w[b] = finalize(w[b], masks[b], tuple(site_rc[b]))
    return w


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
